import API
import Foundation
import HTTPTypes
import HummingbirdTesting
import Ledger
import LoadGenerator
import NIOCore
import TestSupport
import Testing

extension ServerProcessTests {
    /// `ledger chaos-check` on a real ledger: the history of what the clients saw is clean, and
    /// the same history with an acknowledgement the ledger never took is reported.
    @Test func chaosCheckJudgesAHistoryAgainstTheLedger() async throws {
        try await withSetup { setup in
            let server = try await start(setup, log: "chaos-check")
            try await listSale(setup, stock: 3, limitPerUser: 1)
            let authority = try await TokenAuthority(secret: Self.secret)
            func epochMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000) }
            var history = [ChaosOperation]()
            for user in Int64(2)...6 {
                var headers = HTTPFields()
                headers[.authorization] = "Bearer \(try await authority.token(userId: user, admin: false, ttlSeconds: 600))"
                headers[.contentType] = "application/json"
                headers[HTTPField.Name("Idempotency-Key")!] = "key-\(user)"
                let request = TestClient.Request("/v1/seckill", method: .post, headers: headers, body: ByteBuffer(string: #"{"productId":1,"quantity":1}"#))
                let startMs = epochMs()
                let response = try await TestClient.withClient(host: "127.0.0.1", port: setup.port) { try await $0.execute(request) }
                let body = try JSONSerialization.jsonObject(with: Data((response.body ?? ByteBuffer()).readableBytesView)) as? [String: Any] ?? [:]
                let outcome: ChaosOperation.Outcome =
                    response.head.status == .created
                    ? .ok(reservationId: body["reservationId"] as? String ?? "") : .refused(code: body["code"] as? String ?? "")
                history.append(ChaosOperation(
                    kind: .reserve, startMs: startMs, endMs: epochMs(), userId: user, productId: 1, idempotencyKey: "key-\(user)", outcome: outcome))
            }
            #expect(history.map(\.outcome).count { if case .ok = $0 { true } else { false } } == 3)

            @Sendable func check(_ history: [ChaosOperation]) async throws -> (status: Int32, output: String) {
                let file = NSTemporaryDirectory() + "\(setup.namespace)-history.json"
                try JSONEncoder().encode(history).write(to: URL(fileURLWithPath: file))
                return try await TestServices.run(
                    "/usr/bin/env", setup.environment.map { "\($0)=\($1)" } + [try TestServices.variable("LEDGER_BIN"), "chaos-check", "--history", file])
            }
            let clean = try await check(history)
            #expect(clean.status == 0, "\(clean.output)")
            #expect(clean.output.contains(#""acknowledgedInLedger" : 3"#), "\(clean.output)")
            let invented = ChaosOperation(
                kind: .reserve, startMs: epochMs(), endMs: epochMs(), userId: 9, productId: 1, outcome: .ok(reservationId: UUID().uuidString.lowercased()))
            let broken = try await check(history + [invented])
            #expect(broken.status == 2, "\(broken.output)")
            #expect(broken.output.contains("lostAcknowledgement"), "\(broken.output)")
            server.signal(SIGTERM)
            #expect(try await server.waitForExit() == 0)
        }
    }
}
