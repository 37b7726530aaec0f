import Ledger

/// Commands in Redis's wire form (RESP arrays of bulk strings), written here and handed to
/// hiredis already formatted: its own formatter allocates and formats per argument
/// (`sdscatfmt`) and per command (an sds), on every reservation's path.
enum RedisCommandEncoding {
    /// Appends one command: `*<count>\r\n` then `$<length>\r\n<bytes>\r\n` per argument.
    static func append(_ arguments: [RedisArgument], to wire: inout [UInt8]) {
        wire.append(UInt8(ascii: "*"))
        wire.appendDecimal(Int64(arguments.count))
        appendLineEnd(to: &wire)
        for argument in arguments {
            wire.append(UInt8(ascii: "$"))
            wire.appendDecimal(Int64(argument.bytes.count))
            appendLineEnd(to: &wire)
            wire.append(contentsOf: argument.bytes)
            appendLineEnd(to: &wire)
        }
    }

    /// The bytes `commands` take on the wire, to size the buffer once.
    static func capacity(for commands: [[RedisArgument]]) -> Int {
        commands.reduce(0) { total, arguments in
            arguments.reduce(total + 16) { $0 + $1.bytes.count + 16 }
        }
    }

    private static func appendLineEnd(to wire: inout [UInt8]) {
        wire.append(UInt8(ascii: "\r"))
        wire.append(UInt8(ascii: "\n"))
    }
}
