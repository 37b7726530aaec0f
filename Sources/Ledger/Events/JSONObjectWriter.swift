/// Writes one flat JSON object with keys in the order given (callers give them sorted, so the
/// bytes are stable). Hand-written because JSONEncoder dominated the writer's profile.
public struct JSONObjectWriter {
    private var bytes: [UInt8] = [UInt8(ascii: "{")]

    public init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    public mutating func field(_ key: StaticString, _ value: String?) {
        guard let value else { return }
        name(key)
        string(value)
    }

    public mutating func field(_ key: StaticString, _ value: Int64) {
        name(key)
        bytes.appendDecimal(value)
    }

    public mutating func field(_ key: StaticString, _ value: Int64?) {
        guard let value else { return }
        field(key, value)
    }

    /// A value that is already JSON text (a nested object).
    public mutating func field(_ key: StaticString, json: String) {
        name(key)
        var json = json
        json.withUTF8 { bytes.append(contentsOf: $0) }
    }

    public mutating func field(_ key: StaticString, _ value: Timestamp) {
        field(key, value.iso8601)
    }

    public consuming func finish() -> String {
        String(decoding: finishedBytes(), as: UTF8.self)
    }

    /// The object as UTF-8, for a caller that sends bytes (no String in between).
    public consuming func finishedBytes() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    // Appending a literal's String.UTF8View goes through its generic iterator, byte by byte;
    // single bytes and buffers are copies.
    private mutating func name(_ key: StaticString) {
        if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    /// Runs of bytes that need no escape go in whole: appending byte by byte (a capacity and
    /// uniqueness check each) was most of the relay's and the problem bodies' encoding time.
    private mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var runStart = 0
            for (index, byte) in utf8.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                escape(byte)
                runStart = index + 1
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func escape(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""): bytes.append(contentsOf: "\\\"".utf8)
        case UInt8(ascii: "\\"): bytes.append(contentsOf: "\\\\".utf8)
        case 0x0A: bytes.append(contentsOf: "\\n".utf8)
        case 0x0D: bytes.append(contentsOf: "\\r".utf8)
        case 0x09: bytes.append(contentsOf: "\\t".utf8)
        default:
            let hex = Array("0123456789abcdef".utf8)
            bytes.append(contentsOf: "\\u00".utf8)
            bytes.append(hex[Int(byte >> 4)])
            bytes.append(hex[Int(byte & 0xF)])
        }
    }
}
