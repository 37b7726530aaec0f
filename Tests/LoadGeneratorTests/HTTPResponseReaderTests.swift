import NIOCore
import Testing

@testable import LoadGenerator

/// The generator's own HTTP/1.1 framing: what it writes, and how it reads answers however the
/// bytes are split.
@Suite struct HTTPResponseReaderTests {
    /// Feeds `bytes` in pieces of `piece` bytes; returns every outcome other than `needMore`.
    private func read(_ bytes: String, piece: Int, maxBodyBytes: Int = 1_000) -> [HTTPResponseReader.Outcome] {
        var reader = HTTPResponseReader(maxBodyBytes: maxBodyBytes)
        var received = ByteBuffer()
        var outcomes = [HTTPResponseReader.Outcome]()
        let all = Array(bytes.utf8)
        for start in stride(from: 0, to: all.count, by: piece) {
            received.writeBytes(all[start..<min(start + piece, all.count)])
            while true {
                let outcome = reader.next(&received)
                if outcome == .needMore { break }
                outcomes.append(outcome)
                if case .invalid = outcome { return outcomes }
            }
        }
        return outcomes
    }

    private func response(_ status: Int, _ body: String) -> HTTPResponseReader.Outcome {
        .response(status: status, body: ByteBuffer(string: body))
    }

    @Test func answersSplitAnywhereReadTheSame() {
        let answers = [
            "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\ncontent-length: 19\r\n\r\n{\"reservationId\":1}",
            "HTTP/1.1 409 Conflict\r\nCONTENT-LENGTH:  2 \r\nServer: x\r\n\r\n{}",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\n{\"a\"\r\nB\r\n:[1,2,3,4]}\r\n0\r\nTrailer: t\r\n\r\n",
            "HTTP/1.1 204 No Content\r\nDate: now\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        ]
        let expected = [response(201, #"{"reservationId":1}"#), response(409, "{}"), response(200, #"{"a":[1,2,3,4]}"#), response(204, ""), response(200, "")]
        let stream = answers.joined()
        for piece in [1, 2, 3, 7, 64, stream.utf8.count] {
            #expect(read(stream, piece: piece) == expected, "pieces of \(piece) bytes")
        }
    }

    @Test func whatItCannotFrameIsInvalid() {
        let invalid = [
            "HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nbroken\r\n\r\n",
            "HTTP/1.1 200 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n",
        ]
        for text in invalid {
            let outcomes = read(text, piece: 5)
            #expect(outcomes.count == 1, "\(text)")
            if case .invalid? = outcomes.first {} else { Issue.record("\(text) gave \(outcomes)") }
        }
    }

    @Test func answersAndHeadsOverTheirLimitsAreInvalid() {
        #expect(read("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n01234567890", piece: 4, maxBodyBytes: 10) == [.invalid("response larger than 10 bytes")])
        #expect(read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n6\r\n678901\r\n0\r\n\r\n", piece: 4, maxBodyBytes: 10)
            == [.invalid("response larger than 10 bytes")])
        let endless = "HTTP/1.1 200 OK\r\n" + String(repeating: "X-Filler: 0123456789\r\n", count: 1_000)
        #expect(read(endless, piece: 512) == [.invalid("a response head over \(HTTPResponseReader.maxHeadBytes) bytes")])
        let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        #expect(read(chunked + String(repeating: "0", count: 20_000), piece: 512)
            == [.invalid("a chunk size line over \(HTTPResponseReader.maxHeadBytes) bytes")])
        #expect(read(chunked + "0\r\n" + String(repeating: "t", count: 20_000), piece: 512)
            == [.invalid("a trailer line over \(HTTPResponseReader.maxHeadBytes) bytes")])
    }

    @Test func requestsAreWrittenAsOneBufferOfHTTP() {
        func encoded(_ method: String, _ path: String, _ body: String?) -> String {
            String(buffer: LoadConnection.encode(
                LoadScenario.Request(method: method, path: path, body: body, token: "t.k.n", user: 0, isReservation: false),
                host: "127.0.0.1", allocator: ByteBufferAllocator()))
        }
        #expect(encoded("POST", "/v1/seckill", #"{"productId":1}"#) == "POST /v1/seckill HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer t.k.n\r\n"
            + "Content-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"productId\":1}")
        #expect(encoded("POST", "/v1/reservations/r/cancel", nil) == "POST /v1/reservations/r/cancel HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + "Authorization: Bearer t.k.n\r\nContent-Length: 0\r\n\r\n")
        #expect(encoded("GET", "/v1/products/1", nil) == "GET /v1/products/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer t.k.n\r\n\r\n")
    }
}
