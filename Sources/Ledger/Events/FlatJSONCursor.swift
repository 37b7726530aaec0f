/// `FlatJSONObject`'s reader: a position in UTF-8 bytes and the steps of the flat grammar, each
/// moving past what it read or answering nil (or false) for what it does not accept.
struct FlatJSONCursor {
    /// A string's bytes between the quotes, and whether they hold escapes.
    typealias RawString = (bytes: UnsafeBufferPointer<UInt8>, escaped: Bool)

    static let openBrace: UInt8 = 0x7B, closeBrace: UInt8 = 0x7D, colon: UInt8 = 0x3A, comma: UInt8 = 0x2C
    private static let quote: UInt8 = 0x22, backslash: UInt8 = 0x5C

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// Nothing but whitespace is left.
    var isAtEnd: Bool {
        mutating get {
            skipSpace()
            return index == bytes.count
        }
    }

    mutating func skipSpace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 { index += 1 }
    }

    /// Moves past `byte` (after whitespace) if it comes next.
    mutating func expect(_ byte: UInt8) -> Bool {
        skipSpace()
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    mutating func rawString() -> RawString? {
        guard expect(Self.quote) else { return nil }
        let start = index
        var escaped = false
        while index < bytes.count, bytes[index] != Self.quote {
            if bytes[index] == Self.backslash { escaped = true; index += 1 }
            index += 1
        }
        guard index < bytes.count else { return nil }
        let raw = UnsafeBufferPointer(rebasing: bytes[start..<index])
        index += 1
        return (raw, escaped)
    }

    static func text(_ raw: RawString) -> String? {
        raw.escaped ? FlatJSONObject.unescape(raw.bytes) : String(decoding: raw.bytes, as: UTF8.self)
    }

    /// The next value; a skipped one is checked the same way and stands in as `.null`.
    mutating func value(keep: Bool) -> FlatJSONObject.Value? {
        skipSpace()
        guard index < bytes.count else { return nil }
        switch bytes[index] {
        case Self.quote:
            // A skipped string's escapes are still checked (the rare case pays the unescape).
            guard keep else { return rawString().flatMap { !$0.escaped || FlatJSONObject.unescape($0.bytes) != nil ? .null : nil } }
            return rawString().flatMap(Self.text).map(FlatJSONObject.Value.string)
        case 0x74: return literal("true") ? .bool(true) : nil
        case 0x66: return literal("false") ? .bool(false) : nil
        case 0x6E: return literal("null") ? .null : nil
        case Self.openBrace: return nestedObject().map { keep ? .object(String(decoding: $0, as: UTF8.self)) : .null }
        default: return integer().map(FlatJSONObject.Value.integer)
        }
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
        index += count
        return true
    }

    /// The raw text of a balanced `{…}` (strings may hold braces and escaped quotes).
    private mutating func nestedObject() -> UnsafeBufferPointer<UInt8>? {
        let start = index
        var depth = 0
        var inString = false
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if inString {
                if byte == Self.backslash { index += 1 } else if byte == Self.quote { inString = false }
            } else if byte == Self.quote {
                inString = true
            } else if byte == Self.openBrace {
                depth += 1
            } else if byte == Self.closeBrace {
                depth -= 1
                if depth == 0 { return UnsafeBufferPointer(rebasing: bytes[start..<index]) }
            }
        }
        return nil
    }

    /// A whole number that fits an Int64; nil for fractions, exponents and overflow.
    private mutating func integer() -> Int64? {
        var negative = false
        if bytes[index] == 0x2D { negative = true; index += 1 }
        var number: Int64 = 0
        var digits = 0
        while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
            let (times, overflow1) = number.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int64(bytes[index] - 0x30))
            guard !overflow1 && !overflow2 else { return nil }
            number = sum
            digits += 1
            index += 1
        }
        guard digits > 0 else { return nil }
        if index < bytes.count, bytes[index] == 0x2E || bytes[index] == 0x65 || bytes[index] == 0x45 { return nil }
        return negative ? -number : number
    }
}
