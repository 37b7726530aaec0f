import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Ledger
import Projections
import TestSupport
import API

/// The API as `ledger serve` assembles it (`LedgerSystem`), over the pipeline of a
/// `ProjectionWorld` (ledger, mock Kafka, relay, projector, Redis), tested through Hummingbird's
/// router test client.
struct APIWorld: Sendable {
    let world: ProjectionWorld
    let tokens: TokenAuthority
    let system: LedgerSystem

    static let secret = "test-secret-0123456789abcdef-\(UInt64.random(in: 0...UInt64.max))"

    /// The service's limits, but refills slow enough that a test sees the burst alone: one user
    /// attempt every 5 s, and one admin write or anonymous read every 100 s, since a burst of 55
    /// admin writes can take longer than 5 s on a busy machine.
    static var limits: Limits {
        var limits = Limits()
        limits.seckillAttemptsPerUserPerSecond = 0.2
        limits.adminWritesPerSecond = 0.01
        limits.adminWriteBurst = 50
        limits.readsPerClientPerSecond = 0.01
        limits.readBurst = 50
        return limits
    }

    static func run<T: Sendable>(
        limits: Limits = APIWorld.limits, _ body: @escaping @Sendable (APIWorld, any TestClientProtocol) async throws -> T
    ) async throws -> T {
        try await ProjectionWorld.run(limits: limits) { world in
            let tokens = try await TokenAuthority(secret: secret)
            // The world runs the relay and the projector; the system brings the rest of a node.
            let system = try await LedgerSystem.start(.init(
                databaseURL: world.harness.databaseURL, redisURL: world.fixture.redisURL, redisNamespace: world.fixture.namespace,
                kafkaBrokers: world.brokers, kafkaTopic: world.topic, authentication: .bearer(tokens), components: [],
                limits: world.harness.limits))
            let apiWorld = APIWorld(world: world, tokens: tokens, system: system)
            let app = Application(router: system.api.router())
            do {
                let value = try await withRunning(system.services + [world.relay, world.projector]) {
                    try await app.test(.router) { client in try await body(apiWorld, client) }
                }
                await system.close()
                return value
            } catch {
                await system.close()
                throw error
            }
        }
    }

    func token(_ userId: Int64, admin: Bool = false, ttlSeconds: Int = 600) async throws -> String {
        try await tokens.token(userId: userId, admin: admin, ttlSeconds: ttlSeconds)
    }

    func headers(_ token: String?, key: String? = nil) -> HTTPFields {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if let token { headers[.authorization] = "Bearer \(token)" }
        if let key { headers[HTTPField.Name("Idempotency-Key")!] = key }
        return headers
    }

    /// Lists a product through the API as an admin.
    func list(_ client: some TestClientProtocol, id: Int64, stock: Int64, limitPerUser: Int64, startsInSeconds: Int64 = -60) async throws -> TestResponse {
        let now = Timestamp.now()
        let body = """
            {"id":\(id),"name":"Product \(id)","priceMinor":1999,"currency":"EUR","stock":\(stock),\
            "startsAt":"\(now.adding(seconds: startsInSeconds).iso8601)","endsAt":"\(now.adding(seconds: 3_600).iso8601)",\
            "limitPerUser":\(limitPerUser),"reservationTTLSeconds":600}
            """
        return try await client.execute(uri: "/v1/products", method: .post, headers: headers(try await token(1, admin: true)), body: ByteBuffer(string: body))
    }

    func reserve(_ client: some TestClientProtocol, token: String, productId: Int64, quantity: Int64 = 1, key: String? = nil) async throws -> TestResponse {
        try await client.execute(
            uri: "/v1/seckill", method: .post, headers: headers(token, key: key),
            body: ByteBuffer(string: #"{"productId":\#(productId),"quantity":\#(quantity)}"#))
    }
}

extension TestResponse {
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
    }

    /// The problem body's `code`, when this is a problem response.
    var problemCode: String? {
        guard headers[.contentType] == "application/problem+json" else { return nil }
        let body = json
        guard body["type"] is String, body["title"] is String, body["status"] as? Int == Int(status.code), body["detail"] is String else { return nil }
        return body["code"] as? String
    }
}
