import NIOCore

/// Reads HTTP/1.1 responses from a connection's bytes: the status line, the headers the framing
/// needs (`Content-Length`, `Transfer-Encoding: chunked`) and the body. Pure, so the framing is
/// tested without sockets.
///
/// The generator shares the cores of the machine it measures. NIO's HTTP client handlers made
/// header strings and objects for every answer and encoded every request in three writes, about
/// as much work as the server's event loop spent on the request (docs/performance.md). What
/// the generator needs of an answer is what `wrk` reads: the status and the body.
struct HTTPResponseReader {
    enum Outcome: Equatable {
        /// The bytes so far end inside a response.
        case needMore
        case response(status: Int, body: ByteBuffer)
        /// Not a response this reader accepts; the connection is no longer usable.
        case invalid(String)
    }

    private enum State {
        case head
        case body(status: Int, length: Int)
        /// Inside a chunked body: the next chunk's size line, a chunk, or the trailer lines after the last.
        case chunkSize(status: Int)
        case chunkData(status: Int, remaining: Int)
        case trailers(status: Int)
    }

    private struct InvalidHead: Error {
        let reason: String
    }

    /// A head, chunk size line or trailer line longer than this is not one of the API's answers.
    static let maxHeadBytes = 16 * 1024

    let maxBodyBytes: Int
    private var state = State.head
    /// A chunked body as it arrives.
    private var chunks = ByteBuffer()
    /// How far the search for the end of the current head or line got, so bytes arriving in pieces
    /// are not searched again from the start.
    private var scanned = 0

    init(maxBodyBytes: Int) {
        self.maxBodyBytes = maxBodyBytes
    }

    /// The next complete response at the front of `buffer`, whose bytes it consumes.
    mutating func next(_ buffer: inout ByteBuffer) -> Outcome {
        while true {
            switch state {
            case .head:
                guard let end = find([0x0D, 0x0A, 0x0D, 0x0A], in: buffer) else { return waiting(buffer, for: "a response head") }
                let head = buffer.readSlice(length: end + 4)!
                let status: Int
                let length: Int?
                let chunked: Bool
                do {
                    (status, length, chunked) = try Self.parseHead(head)
                } catch {
                    return .invalid(error.reason)
                }
                if chunked {
                    chunks.clear()
                    state = .chunkSize(status: status)
                } else if let length {
                    guard length <= maxBodyBytes else { return .invalid("response larger than \(maxBodyBytes) bytes") }
                    state = .body(status: status, length: length)
                } else if status == 204 || status == 304 || status < 200 {
                    return .response(status: status, body: ByteBuffer())
                } else {
                    return .invalid("a response without Content-Length or chunked encoding")
                }
            case .body(let status, let length):
                guard let body = buffer.readSlice(length: length) else { return .needMore }
                state = .head
                return .response(status: status, body: body)
            case .chunkSize(let status):
                guard let line = readLine(&buffer) else { return waiting(buffer, for: "a chunk size line") }
                let digits = line.readableBytesView.prefix { $0 != UInt8(ascii: ";") && $0 != UInt8(ascii: " ") }
                guard !digits.isEmpty, digits.count <= 8, let size = Int(String(decoding: digits, as: UTF8.self), radix: 16) else {
                    return .invalid("a bad chunk size line")
                }
                guard chunks.readableBytes + size <= maxBodyBytes else { return .invalid("response larger than \(maxBodyBytes) bytes") }
                state = size == 0 ? .trailers(status: status) : .chunkData(status: status, remaining: size)
            case .chunkData(let status, let remaining):
                guard buffer.readableBytes >= remaining + 2 else { return .needMore }
                var chunk = buffer.readSlice(length: remaining)!
                guard buffer.readBytes(length: 2) == [0x0D, 0x0A] else { return .invalid("a chunk without its CRLF") }
                chunks.writeBuffer(&chunk)
                state = .chunkSize(status: status)
            case .trailers(let status):
                guard let line = readLine(&buffer) else { return waiting(buffer, for: "a trailer line") }
                if line.readableBytes == 0 {
                    state = .head
                    return .response(status: status, body: chunks)
                }
            }
        }
    }

    /// More bytes are needed for `what`, unless it already runs past the head limit.
    private func waiting(_ buffer: ByteBuffer, for what: String) -> Outcome {
        buffer.readableBytes > Self.maxHeadBytes ? .invalid("\(what) over \(Self.maxHeadBytes) bytes") : .needMore
    }

    /// The next CRLF-terminated line without its CRLF, or nil until it is complete.
    private mutating func readLine(_ buffer: inout ByteBuffer) -> ByteBuffer? {
        guard let end = find([0x0D, 0x0A], in: buffer) else { return nil }
        defer { buffer.moveReaderIndex(forwardBy: 2) }
        return buffer.readSlice(length: end)
    }

    /// Where `pattern` starts in `buffer`'s readable bytes, going on from where the last search
    /// for it stopped.
    private mutating func find(_ pattern: [UInt8], in buffer: ByteBuffer) -> Int? {
        let from = max(0, scanned - pattern.count + 1)
        let found: Int? = buffer.withUnsafeReadableBytes { bytes in
            guard bytes.count >= pattern.count, from <= bytes.count - pattern.count else { return nil }
            for start in from...(bytes.count - pattern.count) where bytes[start] == pattern[0] {
                if pattern.indices.allSatisfy({ bytes[start + $0] == pattern[$0] }) { return start }
            }
            return nil
        }
        scanned = found == nil ? buffer.readableBytes : 0
        return found
    }

    /// The status, the `Content-Length` and whether the body is chunked. Over the head's bytes in
    /// place: splitting it into slices and strings cost more than the rest of reading an answer.
    private static func parseHead(_ head: ByteBuffer) throws(InvalidHead) -> (status: Int, length: Int?, chunked: Bool) {
        let parsed = head.withUnsafeReadableBytes { bytes -> Result<(status: Int, length: Int?, chunked: Bool), InvalidHead> in
            var status: Int?
            var length: Int?
            var chunked = false
            var lineStart = 0
            while lineStart < bytes.count {
                var end = lineStart
                while end < bytes.count, bytes[end] != 0x0A { end += 1 }
                let line = UnsafeRawBufferPointer(rebasing: bytes[lineStart..<(end > lineStart && bytes[end - 1] == 0x0D ? end - 1 : end)])
                lineStart = end + 1
                guard status != nil else {
                    // "HTTP/1.1 201 Created"
                    guard line.count >= 12, line.starts(with: "HTTP/1.".utf8), line[8] == 0x20, let code = decimal(line[9..<12]),
                        (100...599).contains(code)
                    else { return .failure(InvalidHead(reason: "a bad status line")) }
                    status = code
                    continue
                }
                guard !line.isEmpty else { continue }
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                    return .failure(InvalidHead(reason: "a header line without a colon"))
                }
                // The value without the spaces and tabs around it.
                var valueStart = colon + 1
                var valueEnd = line.count
                while valueStart < valueEnd, line[valueStart] == 0x20 || line[valueStart] == 0x09 { valueStart += 1 }
                while valueEnd > valueStart, line[valueEnd - 1] == 0x20 || line[valueEnd - 1] == 0x09 { valueEnd -= 1 }
                let name = line[..<colon]
                let value = line[valueStart..<valueEnd]
                if isName(name, "content-length") {
                    guard length == nil, let parsed = decimal(value) else {
                        return .failure(InvalidHead(reason: "a bad or second Content-Length"))
                    }
                    length = parsed
                } else if isName(name, "transfer-encoding") {
                    guard isName(value, "chunked") else { return .failure(InvalidHead(reason: "a transfer encoding other than chunked")) }
                    chunked = true  // chunked framing wins over a length (RFC 9112 §6.3)
                }
            }
            guard let status else { return .failure(InvalidHead(reason: "a bad status line")) }
            return .success((status, length, chunked))
        }
        return try parsed.get()
    }

    /// A non-negative decimal of at most 18 digits.
    private static func decimal(_ digits: Slice<UnsafeRawBufferPointer>) -> Int? {
        guard !digits.isEmpty, digits.count <= 18 else { return nil }
        var value = 0
        for digit in digits {
            guard (0x30...0x39).contains(digit) else { return nil }
            value = value * 10 + Int(digit - 0x30)
        }
        return value
    }

    /// A header name or token compared without regard to case (`lowercase` is in lower case).
    private static func isName(_ bytes: Slice<UnsafeRawBufferPointer>, _ lowercase: StaticString) -> Bool {
        lowercase.withUTF8Buffer { expected in
            guard bytes.count == expected.count else { return false }
            for (byte, wanted) in zip(bytes, expected) where ((0x41...0x5A).contains(byte) ? byte | 0x20 : byte) != wanted { return false }
            return true
        }
    }
}
