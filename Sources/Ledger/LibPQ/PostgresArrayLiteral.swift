/// PostgreSQL's text form of one-dimensional arrays: `{1,2,NULL}`, `{"a","b \"c\""}`.
enum PostgresArrayLiteral {
    static func encode(_ elements: [String?], quoted: Bool) -> String {
        // Works on UTF-8 bytes: batch inserts pass thousands of JSON documents through here.
        var out = [UInt8]()
        out.reserveCapacity(elements.reduce(2) { $0 + ($1?.utf8.count ?? 4) + 3 })
        out.append(UInt8(ascii: "{"))
        for (index, element) in elements.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            guard let element else {
                out.append(contentsOf: "NULL".utf8)
                continue
            }
            guard quoted else {
                out.append(contentsOf: element.utf8)
                continue
            }
            out.append(UInt8(ascii: "\""))
            for byte in element.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
                out.append(byte)
            }
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses a one-dimensional array literal. Returns nil when the text is not one.
    static func decode(_ text: String) -> [String?]? {
        var characters = Substring(text)
        guard characters.first == "{", characters.last == "}" else { return nil }
        characters = characters.dropFirst().dropLast()
        var elements: [String?] = []
        if characters.isEmpty { return elements }
        var index = characters.startIndex
        while true {
            var element = ""
            var wasQuoted = false
            if index < characters.endIndex, characters[index] == "\"" {
                wasQuoted = true
                index = characters.index(after: index)
                while index < characters.endIndex, characters[index] != "\"" {
                    if characters[index] == "\\" {
                        index = characters.index(after: index)
                        guard index < characters.endIndex else { return nil }
                    }
                    element.append(characters[index])
                    index = characters.index(after: index)
                }
                guard index < characters.endIndex else { return nil }
                index = characters.index(after: index)  // closing quote
            } else {
                while index < characters.endIndex, characters[index] != "," {
                    element.append(characters[index])
                    index = characters.index(after: index)
                }
            }
            elements.append(!wasQuoted && element.uppercased() == "NULL" ? nil : element)
            if index == characters.endIndex { return elements }
            guard characters[index] == "," else { return nil }
            index = characters.index(after: index)
        }
    }
}
