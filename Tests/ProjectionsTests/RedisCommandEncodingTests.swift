import Testing

@testable import Projections

@Suite struct RedisCommandEncodingTests {
    /// The exact RESP bytes: counts and lengths in decimal, binary and empty arguments as they are,
    /// commands back to back for a pipeline.
    @Test func commandsAreArraysOfBulkStrings() {
        var wire = [UInt8]()
        let commands: [[RedisArgument]] = [["SET", RedisArgument(bytes: [0, 0x0D, 0x0A, 0xFF]), ""], ["INCRBY", "k", -12]]
        for command in commands { RedisCommandEncoding.append(command, to: &wire) }
        let expected = Array("*3\r\n$3\r\nSET\r\n$4\r\n".utf8) + [0, 0x0D, 0x0A, 0xFF] + Array("\r\n$0\r\n\r\n".utf8)
            + Array("*3\r\n$6\r\nINCRBY\r\n$1\r\nk\r\n$3\r\n-12\r\n".utf8)
        #expect(wire == expected)
        #expect(RedisCommandEncoding.capacity(for: commands) >= wire.count)
        let long = RedisArgument(bytes: Array(repeating: 0x61, count: 1_234))
        wire.removeAll()
        RedisCommandEncoding.append([long], to: &wire)
        #expect(wire.prefix(11) == ArraySlice("*1\r\n$1234\r\n".utf8))
        #expect(wire.count == 11 + 1_234 + 2)
    }
}
