import Ledger
import TestSupport
import Testing

/// Restarts the shared PostgreSQL server, so `make test` runs this suite on its own after the
/// others (see scripts/test.sh).
@Suite(.serialized, .timeLimit(.minutes(3))) struct ServerRestartTests {
    /// Policy under test: an idle connection whose server restarted reconnects before its next
    /// statement, so that statement succeeds. A statement in flight when the server dies fails
    /// with a retriable `connectionLost` (it may have run); the call after it reconnects.
    @Test func idleConnectionSurvivesAServerRestart() async throws {
        let connection = try await PostgresConnection.connect(url: try TestServices.databaseURL())
        let before = try await connection.query("SELECT pg_backend_pid() AS pid")[0]["pid"].int64()
        try await TestServices.servicesScript("restart-postgres")
        let after = try await connection.query("SELECT pg_backend_pid() AS pid")[0]["pid"].int64()
        #expect(before != after)
        await connection.close()
    }

    @Test func statementInFlightFailsRetriablyThenTheConnectionRecovers() async throws {
        let connection = try await PostgresConnection.connect(url: try TestServices.databaseURL())
        async let sleeping: (any Error)? = {
            do {
                try await connection.query("SELECT pg_sleep(30)")
                return nil
            } catch {
                return error
            }
        }()
        try await Task.sleep(for: .milliseconds(500))
        try await TestServices.servicesScript("restart-postgres")
        let error = await sleeping as? PostgresError
        #expect(error != nil)
        #expect(error?.isRetriable == true)
        #expect(try await connection.query("SELECT 41 + 1 AS v")[0]["v"].int64() == 42)
        await connection.close()
    }

    /// A frozen server (every PostgreSQL process stopped with SIGSTOP) accepts bytes and never
    /// answers: with an answer timeout, a statement and then a reconnect each fail within their
    /// bound instead of hanging, and the connection serves again after the thaw.
    @Test func aFrozenServerFailsCallsWithinTheirBoundsAndTheConnectionRecovers() async throws {
        let connection = try await PostgresConnection.connect(url: try TestServices.databaseURL(), answerTimeoutMs: 1_000)
        #expect(try await connection.query("SELECT 1 AS v")[0]["v"].int64() == 1)
        try await TestServices.servicesScript("freeze-postgres")
        var waits = [Duration]()
        var codes = [PostgresError.Code?]()
        for _ in 0..<2 {
            let start = ContinuousClock.now
            do {
                try await connection.query("SELECT 1")
                codes.append(nil)
            } catch {
                codes.append((error as? PostgresError)?.code)
            }
            waits.append(.now - start)
        }
        try await TestServices.servicesScript("thaw-postgres")
        #expect(codes == [.connectionLost, .connectionFailed], "the statement, then the reconnect")
        #expect(waits[0] >= .milliseconds(900) && waits[0] < .seconds(2), "the answer timeout: \(waits[0])")
        #expect(waits[1] >= .milliseconds(1_900) && waits[1] < .seconds(3), "libpq's connect timeout (2 s): \(waits[1])")
        #expect(try await connection.query("SELECT 41 + 1 AS v")[0]["v"].int64() == 42)
        await connection.close()
    }

    @Test func listenerKeepsReceivingAfterARestart() async throws {
        let url = try TestServices.databaseURL()
        let listener = try await PostgresConnection.connect(url: url, name: "listener")
        let channel = TestServices.uniqueName("chan")
        try await listener.listen(channel)
        try await TestServices.servicesScript("restart-postgres")
        let sender = try await PostgresConnection.connect(url: url, name: "sender")
        // The listener re-issues LISTEN when it reconnects; keep notifying until it hears one.
        let received = try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask {
                for try await notification in listener.notifications { return notification.payload }
                return nil
            }
            group.addTask {
                for attempt in 0..<100 {
                    try await sender.query("SELECT pg_notify($1, $2)", [.text(channel), .text("after-restart-\(attempt)")])
                    try await Task.sleep(for: .milliseconds(100))
                }
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
        #expect(received?.hasPrefix("after-restart-") == true)
        await listener.close()
        await sender.close()
    }
}
