import NIOCore
import NIOPosix

/// Drives a scenario against a server over HTTP/1.1 keep-alive connections.
///
/// Closed loop: `connections` workers, each sending its next request when the previous answered.
/// Open loop: requests leave on a fixed schedule whatever the answers do, and latency counts from
/// the scheduled time, so a stalled server shows up as latency instead of as a slower sender.
public struct HTTPLoadRunner: Sendable {
    public enum Mode: Sendable {
        case closed(connections: Int)
        case open(ratePerSecond: Int, connections: Int)

        var connections: Int {
            switch self {
            case .closed(let connections), .open(_, let connections): return connections
            }
        }
    }

    let baseURL: String
    let mode: Mode
    let scenario: LoadScenario
    let requestTimeout: TimeAmount

    public init(baseURL: String, mode: Mode, scenario: LoadScenario, requestTimeoutSeconds: Int64 = 30) {
        self.baseURL = baseURL
        self.mode = mode
        self.scenario = scenario
        self.requestTimeout = .seconds(requestTimeoutSeconds)
    }

    /// Opens every connection, then runs until `duration` passed or `maxRequests` were sent;
    /// returns the recorder. All connections share one event loop: one thread of the machine
    /// under test, not a pool of them.
    public func run(duration: Duration, maxRequests: Int?) async throws -> (recorder: LoadRecorder, elapsed: Duration) {
        let (host, port) = try Self.hostAndPort(baseURL)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let finished = loop.makePromise(of: (LoadRecorder, Duration).self)
        let (mode, scenario, requestTimeout) = (self.mode, self.scenario, self.requestTimeout)
        loop.execute {
            LoadRun(
                loop: loop, host: host, port: port, mode: mode, scenario: scenario, duration: duration, limit: maxRequests ?? Int.max,
                requestTimeout: requestTimeout, finished: finished
            ).begin()
        }
        let (recorder, elapsed) = try await finished.futureResult.get()
        return (recorder, elapsed)
    }

    /// One request on a connection of its own (setting up a run, or a chaos client); answers the
    /// status and body, or throws when no answer came within `timeout`.
    public static func send(_ request: LoadScenario.Request, to baseURL: String, timeout: TimeAmount = .seconds(30)) async throws -> (status: Int, body: String) {
        let (host, port) = try hostAndPort(baseURL)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let answer = loop.makePromise(of: (status: Int, body: String).self)
        let channel = try await LoadConnection.connect(host: host, port: port, on: loop, timeout: .seconds(5)) {
            LoadConnection(
                host: host,
                answered: { _, _, result in
                    switch result {
                    case .response(let status, let body): answer.succeed((status, String(buffer: body)))
                    case .failed(let reason): answer.fail(LoadGeneratorError(code: .connectionClosed, detail: reason))
                    }
                },
                closed: { _ in answer.fail(LoadGeneratorError(code: .connectionClosed, detail: "before the answer")) })
        }.get()
        defer { channel.close(promise: nil) }
        let deadline = loop.scheduleTask(in: timeout) {
            answer.fail(LoadGeneratorError(code: .timedOut, detail: "no answer within \(timeout.nanoseconds / 1_000_000) ms"))
        }
        answer.futureResult.whenComplete { _ in deadline.cancel() }
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.handler(type: LoadConnection.self).send(.init(request: request, intendedAt: .now))
        }.get()
        return try await answer.futureResult.get()
    }

    /// `http://host:port` (the only kind of URL the generator speaks) as its two parts.
    static func hostAndPort(_ url: String) throws -> (host: String, port: Int) {
        guard url.hasPrefix("http://") else { throw LoadGeneratorError(code: .badURL, detail: "only http:// URLs are supported: \(url)") }
        let authority = url.dropFirst("http://".count).prefix { $0 != "/" }
        guard let colon = authority.lastIndex(of: ":") else { return (String(authority), 80) }
        guard let port = Int(authority[authority.index(after: colon)...]), (1...65_535).contains(port) else {
            throw LoadGeneratorError(code: .badURL, detail: "bad port in \(url)")
        }
        return (String(authority[..<colon]), port)
    }

    /// A string field of a flat JSON answer, found in its bytes: no String of the whole body and
    /// no Foundation search (`String.range(of:)` was a tenth of the generator's own CPU).
    static func field(_ name: StaticString, in body: ByteBuffer) -> String? {
        var pattern = [UInt8(ascii: "\"")]
        name.withUTF8Buffer { pattern.append(contentsOf: $0) }
        pattern.append(contentsOf: "\":\"".utf8)
        return body.withUnsafeReadableBytes { bytes in
            guard bytes.count >= pattern.count else { return nil }
            for start in 0...(bytes.count - pattern.count) where bytes[start] == pattern[0] {
                guard pattern.indices.allSatisfy({ bytes[start + $0] == pattern[$0] }) else { continue }
                let valueStart = start + pattern.count
                guard let valueEnd = bytes[valueStart...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
                return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[valueStart..<valueEnd]), as: UTF8.self)
            }
            return nil
        }
    }
}
