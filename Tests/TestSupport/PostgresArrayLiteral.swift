/// PostgreSQL's text form of one-dimensional arrays, as results carry them: `{1,2,NULL}`,
/// `{"a","b \"c\""}`. Tests read arrays back; the service binds arrays but reads none.
enum PostgresArrayLiteral {
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
