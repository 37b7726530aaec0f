import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization

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

    /// Runs until `duration` passed or `maxRequests` were sent; returns the recorder.
    public func run(duration: Duration, maxRequests: Int?) async throws -> (recorder: LoadRecorder, elapsed: Duration) {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: mode.connections)
        configuration.timeout = .init(connect: .seconds(5), read: requestTimeout)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let start = ContinuousClock.now
        let recorder = LoadRecorder(start: start)
        let end = start + duration
        let limit = maxRequests ?? Int.max
        switch mode {
        case .closed(let connections):
            let counter = SequenceCounter()
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<connections {
                    group.addTask {
                        while ContinuousClock.now < end, let sequence = counter.next(below: limit) {
                            await send(sequence, intendedAt: .now, client: client, recorder: recorder)
                        }
                    }
                }
            }
        case .open(let rate, _):
            let interval = Duration.nanoseconds(1_000_000_000 / max(rate, 1))
            await withTaskGroup(of: Void.self) { group in
                var sequence = 0
                while sequence < limit {
                    let intended = start + interval * sequence
                    if intended >= end { break }
                    if intended > .now { try? await Task.sleep(until: intended) }
                    let number = sequence
                    group.addTask { await send(number, intendedAt: intended, client: client, recorder: recorder) }
                    sequence += 1
                }
            }
        }
        let elapsed = ContinuousClock.now - start
        try await client.shutdown()
        return (recorder, elapsed)
    }

    private func send(_ sequence: Int, intendedAt: ContinuousClock.Instant, client: HTTPClient, recorder: LoadRecorder) async {
        let planned = scenario.request(sequence)
        var request = HTTPClientRequest(url: baseURL + planned.path)
        request.method = .init(rawValue: planned.method)
        request.headers.add(name: "Authorization", value: "Bearer \(planned.token)")
        if let body = planned.body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        do {
            let response = try await client.execute(request, timeout: requestTimeout)
            let body = try await response.body.collect(upTo: 64 * 1024)
            let finished = ContinuousClock.now
            let status = Int(response.status.code)
            let text = String(buffer: body)
            var outcome = String(status)
            if status >= 400, let code = Self.field("code", in: text) { outcome += " \(code)" }
            recorder.record(intendedAt: intendedAt, finishedAt: finished, outcome: outcome, success: status < 400)
            if status == 201, planned.isReservation, let id = Self.field("reservationId", in: text) {
                recorder.acknowledge(id)
                scenario.reserved(id, user: planned.user)
            }
        } catch {
            recorder.record(intendedAt: intendedAt, finishedAt: .now, outcome: "error: \(type(of: error))", success: false)
        }
    }

    /// A string field of a flat JSON object, without a full parse.
    static func field(_ name: String, in text: String) -> String? {
        guard let range = text.range(of: "\"\(name)\":\"") else { return nil }
        guard let close = text[range.upperBound...].firstIndex(of: "\"") else { return nil }
        return String(text[range.upperBound..<close])
    }
}

/// Hands out request numbers to the closed loop's workers.
final class SequenceCounter: Sendable {
    private let value = Mutex(0)
    func next(below limit: Int) -> Int? {
        value.withLock { value in
            guard value < limit else { return nil }
            defer { value += 1 }
            return value
        }
    }
}
