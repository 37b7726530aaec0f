import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Ledger
import Projections
import TestSupport
import API

/// The API over the whole pipeline of a `ProjectionWorld` (ledger, mock Kafka, relay,
/// projector, Redis), tested through Hummingbird's router test client.
struct APIWorld: Sendable {
    let world: ProjectionWorld
    let tokens: TokenAuthority
    let api: LedgerAPI
    /// The gate's connections (a test shuts it down to see the gate fail).
    let pool: RedisPipelinePool

    static let secret = "test-secret-0123456789abcdef-\(UInt64.random(in: 0...UInt64.max))"

    /// The service's limits, but a per-user refill slow enough that a test sees the burst alone.
    static var limits: Limits {
        var limits = Limits()
        limits.seckillAttemptsPerUserPerSecond = 0.2
        limits.adminWritesPerSecond = 0.2
        limits.adminWriteBurst = 50
        limits.readsPerClientPerSecond = 0.2
        limits.readBurst = 50
        return limits
    }

    static func run<T: Sendable>(
        limits: Limits = APIWorld.limits, _ body: @escaping @Sendable (APIWorld, any TestClientProtocol) async throws -> T
    ) async throws -> T {
        try await ProjectionWorld.run(limits: limits) { world in
            let limits = world.harness.limits
            let pool = try await RedisPipelinePool.connect(
                url: world.fixture.redisURL, connections: 2, maxPipelineLength: limits.gateMaxPipelineLength, maxQueueDepth: limits.gateMaxQueueDepth,
                limits: limits)
            let generation = ProjectionGeneration(
                connection: try await RedisConnection.connect(url: world.fixture.redisURL), namespace: world.fixture.namespace,
                refreshMs: limits.generationRefreshMs)
            let kafka = try await KafkaAdmin.connect(configuration: KafkaConfiguration(brokers: world.brokers))
            let probe = ReadinessProbe(postgres: world.database, redis: world.fixture.redis, kafka: kafka, kafkaTopic: world.topic)
            let tokens = try await TokenAuthority(secret: secret)
            let api = LedgerAPI(.init(
                writer: world.harness.writer, reader: world.harness.reader, gate: ReservationGate(pool: pool, generation: generation),
                redis: world.fixture.redis, generation: generation, probe: probe, authentication: .bearer(tokens), limits: limits))
            let apiWorld = APIWorld(world: world, tokens: tokens, api: api, pool: pool)
            let app = Application(router: api.router())
            let value = try await withRunning([pool, world.relay, world.projector]) {
                try await app.test(.router) { client in try await body(apiWorld, client) }
            }
            await generation.close()
            await kafka.close()
            return value
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
