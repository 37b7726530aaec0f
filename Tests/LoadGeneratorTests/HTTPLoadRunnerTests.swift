import Foundation
import LoadGenerator
import NIOPosix
import Testing

/// The load generator's HTTP client against a real (scripted) HTTP/1.1 server on loopback.
@Suite struct HTTPLoadRunnerTests {
    private func scenario(users: Int = 10) -> LoadScenario {
        LoadScenario(kind: .flashSale, productId: 42, tokens: (0..<users).map { "token-\($0)" })
    }

    @Test func theClosedLoopKeepsOneRequestInFlightPerConnectionAndRecordsEveryAnswer() async throws {
        let server = try await ScriptedHTTPServer.start { number in
            number % 2 == 0
                ? .answer(status: 201, body: #"{"reservationId":"r-\#(number)","state":"reserved"}"#, delay: .milliseconds(1))
                : .answer(status: 409, body: #"{"type":"about:blank","code":"sold-out","status":409}"#)
        }
        let runner = HTTPLoadRunner(baseURL: server.baseURL, mode: .closed(connections: 4), scenario: scenario())
        let (recorder, _) = try await runner.run(duration: .seconds(30), maxRequests: 200)
        let summary = recorder.summary(elapsed: .seconds(1))
        let seen = server.observed
        #expect(summary.requests == 200)
        #expect(summary.outcomes == ["201": 100, "409 sold-out": 100])
        #expect(Set(recorder.acknowledged) == Set(stride(from: 0, to: 200, by: 2).map { "r-\($0)" }))
        #expect(seen.requests.count == 200)
        #expect(seen.maxInFlight <= 4 && seen.maxInFlight >= 2, "at most one request per connection: \(seen.maxInFlight)")
        #expect(seen.pipelined == 0)
        let first = try #require(seen.requests.first)
        #expect(first.method == "POST" && first.uri == "/v1/seckill")
        #expect(first.authorization?.hasPrefix("Bearer token-") == true)
        #expect(first.body == #"{"productId":42,"quantity":1}"#)
        try await server.stop()
    }

    /// A stalled answer delays the requests scheduled behind it, and they count from their
    /// scheduled time: the stall shows in the latencies rather than as a slower sender.
    @Test func theOpenLoopCountsLatencyFromTheScheduledTime() async throws {
        let server = try await ScriptedHTTPServer.start { number in
            .answer(status: 201, body: #"{"reservationId":"r-\#(number)"}"#, delay: number == 10 ? .milliseconds(300) : .zero)
        }
        let runner = HTTPLoadRunner(baseURL: server.baseURL, mode: .open(ratePerSecond: 200, connections: 1), scenario: scenario())
        let (recorder, elapsed) = try await runner.run(duration: .seconds(1), maxRequests: nil)
        let summary = recorder.summary(elapsed: elapsed)
        #expect(summary.requests == 200, "the schedule is kept whatever the answers do")
        #expect(server.observed.requests.count == 200)
        // Requests 11…~70 were due during the 300 ms stall: ~30 % of the run waited behind it.
        #expect(summary.latencyMs.p90 > 100, "p90 \(summary.latencyMs.p90) ms")
        #expect(summary.latencyMs.max >= 300)
        try await server.stop()
    }

    @Test func aConnectionTheServerDropsIsCountedAsAnErrorAndReplaced() async throws {
        let server = try await ScriptedHTTPServer.start { number in
            number % 5 == 4 ? .drop : .answer(status: 201, body: #"{"reservationId":"r-\#(number)"}"#)
        }
        let runner = HTTPLoadRunner(baseURL: server.baseURL, mode: .closed(connections: 2), scenario: scenario())
        let (recorder, _) = try await runner.run(duration: .seconds(30), maxRequests: 50)
        let summary = recorder.summary(elapsed: .seconds(1))
        #expect(summary.outcomes == ["201": 40, "error: connection closed": 10])
        #expect(recorder.acknowledged.count == 40)
        try await server.stop()
    }

    @Test func anAnswerLargerThanTheLimitFailsAndItsConnectionIsReplaced() async throws {
        let server = try await ScriptedHTTPServer.start { number in
            number == 2
                ? .answer(status: 200, body: String(repeating: "x", count: 100_000))
                : .answer(status: 201, body: #"{"reservationId":"r-\#(number)"}"#)
        }
        let runner = HTTPLoadRunner(baseURL: server.baseURL, mode: .closed(connections: 1), scenario: scenario())
        let (recorder, _) = try await runner.run(duration: .seconds(30), maxRequests: 6)
        #expect(recorder.summary(elapsed: .seconds(1)).outcomes == ["201": 5, "error: response larger than 65536 bytes": 1])
        try await server.stop()
    }

    @Test func anAnswerThatNeverComesTimesOutAfterTheRun() async throws {
        let server = try await ScriptedHTTPServer.start { number in
            number == 3 ? .hang : .answer(status: 201, body: #"{"reservationId":"r-\#(number)"}"#, delay: .milliseconds(5))
        }
        let runner = HTTPLoadRunner(
            baseURL: server.baseURL, mode: .closed(connections: 1), scenario: scenario(), requestTimeoutSeconds: 1)
        let started = ContinuousClock.now
        // Long enough that the fourth request is sent on a busy machine (`make test` runs the
        // suites side by side on two cores: three exchanges once took more than 300 ms).
        let (recorder, _) = try await runner.run(duration: .seconds(2), maxRequests: nil)
        let summary = recorder.summary(elapsed: .seconds(1))
        #expect(summary.outcomes["201"] == 3)
        #expect(summary.outcomes["error: timeout"] == 1)
        #expect(summary.requests == 4)
        #expect(ContinuousClock.now - started >= .seconds(3), "it waited for the request timeout after the end")
        try await server.stop()
    }

    @Test func anUnreachableServerFailsTheRun() async throws {
        // A port held bound without listening: connections to it are refused, and neither
        // another test's server nor a connect of the runner's own (a source port equal to the
        // destination connects to itself) can take it meanwhile, as a stopped server's could.
        let unreachable = try BoundPort()
        defer { unreachable.close() }
        let runner = HTTPLoadRunner(baseURL: "http://127.0.0.1:\(unreachable.port)", mode: .closed(connections: 2), scenario: scenario())
        await #expect(throws: (any Error).self) { _ = try await runner.run(duration: .seconds(1), maxRequests: nil) }
        await #expect(throws: LoadGeneratorError.self) {
            _ = try await HTTPLoadRunner(baseURL: "https://example.org", mode: .closed(connections: 1), scenario: scenario())
                .run(duration: .seconds(1), maxRequests: nil)
        }
    }

    @Test func sendAnswersOneRequestOnItsOwnConnection() async throws {
        let server = try await ScriptedHTTPServer.start { _ in .answer(status: 201, body: #"{"id":7}"#) }
        let request = LoadScenario.Request(method: "POST", path: "/v1/products", body: "{}", token: "admin", user: 0, isReservation: false)
        let answer = try await HTTPLoadRunner.send(request, to: server.baseURL)
        #expect(answer.status == 201 && answer.body == #"{"id":7}"#)
        #expect(server.observed.requests.map(\.uri) == ["/v1/products"])
        try await server.stop()
    }
}

/// A loopback TCP port bound but not listening.
private struct BoundPort {
    let descriptor: Int32
    let port: Int

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.descriptor = descriptor
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
        }
        guard descriptor >= 0, bound else {
            Glibc.close(descriptor)
            throw POSIXError(.EADDRNOTAVAIL)
        }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { Glibc.close(descriptor) }
}
