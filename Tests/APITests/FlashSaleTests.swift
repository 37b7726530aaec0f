import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Ledger
import Projections
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(3))) struct FlashSaleTests {
    @Test func threeThousandRequestsFromAThousandUsersSellExactlyTheStock() async throws {
        // All 3,000 at once, every one admitted: this is about exactness under a burst; shedding
        // (which would refuse part of it, 503) has its own tests.
        try await APIWorld.run(limits: APIWorld.limits.withoutShedding()) { world, client in
            #expect(try await world.list(client, id: 7, stock: 300, limitPerUser: 2).status == .created)
            var tokens = [String]()
            for user in 1...1_000 { tokens.append(try await world.token(Int64(user))) }
            let tokensByUser = tokens
            // Three attempts per user at once; every third user retries one attempt's key.
            let responses = try await withThrowingTaskGroup(of: (Int64, TestResponse).self) { group in
                for user in 1...1_000 {
                    for attempt in 0..<3 {
                        group.addTask {
                            let key = user % 3 == 0 && attempt > 0 ? "retry-\(user)" : nil
                            return (Int64(user), try await world.reserve(client, token: tokensByUser[user - 1], productId: 7, key: key))
                        }
                    }
                }
                return try await group.reduce(into: [(Int64, TestResponse)]()) { $0.append($1) }
            }
            let created = responses.filter { $0.1.status == .created }
            let reservations = Dictionary(created.map { ($0.1.json["reservationId"] as! String, $0) }, uniquingKeysWith: { first, _ in first })
            let units = reservations.values.reduce(0) { $0 + ($1.1.json["quantity"] as! Int) }
            #expect(units == 300, "exactly the stock is sold")
            var perUser = [Int64: Int]()
            for (user, _) in reservations.values { perUser[user, default: 0] += 1 }
            #expect(perUser.values.allSatisfy { $0 <= 2 }, "no user above the limit")
            for (_, response) in responses where response.status != .created {
                #expect(response.status == .conflict, "losers get 409, not \(response.status): \(response.json["detail"] ?? "")")
                #expect(["sold-out", "limit-exceeded"].contains(response.problemCode ?? ""))
            }

            // Every 201 is in the ledger…
            for id in reservations.keys {
                let state = try await world.world.harness.reader.reservation(try #require(ReservationID(id)))
                #expect(state?.status == .reserved)
            }
            // …and on the topic, and in Redis once projected: the audit compares all three.
            let audit = try await LedgerAuditor(reader: world.world.harness.reader, namespace: world.world.fixture.namespace).audit(
                redis: world.world.fixture.redis, kafka: .init(configuration: KafkaConfiguration(brokers: world.world.brokers), topic: world.world.topic),
                projectionWaitMs: 30_000)
            #expect(audit.differences == [])
            let projected = try await world.world.fixture.product(7)
            #expect(Set(projected.reservations.keys) == Set(reservations.keys))
            #expect(projected.config["available"] == "0")
            let topic = try await world.world.topicPositionsByKcat()
            #expect(Set(topic[7] ?? []).isSuperset(of: reservations.values.map { Int64($0.1.json["position"] as! Int) }))

            let product = try await client.execute(uri: "/v1/products/7", method: .get)
            #expect(product.json["state"] as? String == "sold-out")
            #expect(product.json["available"] as? Int == 0)
        }
    }

    @Test func aRetriedKeyAnswersTheSameReservationAndRefusalsGiveUnitsBack() async throws {
        try await APIWorld.run { world, client in
            #expect(try await world.list(client, id: 8, stock: 3, limitPerUser: 2).status == .created)
            let alice = try await world.token(100)
            let first = try await world.reserve(client, token: alice, productId: 8, quantity: 2, key: "order-1")
            let again = try await world.reserve(client, token: alice, productId: 8, quantity: 2, key: "order-1")
            #expect(first.status == .created)
            #expect(again.status == .created)
            #expect(String(buffer: first.body) == String(buffer: again.body), "the same body again")
            #expect(try await world.reserve(client, token: alice, productId: 8).problemCode == "limit-exceeded")
            let bob = try await world.token(101)
            #expect(try await world.reserve(client, token: bob, productId: 8, quantity: 2).problemCode == "sold-out")
            #expect(try await world.reserve(client, token: bob, productId: 8).status == .created)
            #expect(try await world.reserve(client, token: try await world.token(102), productId: 8).problemCode == "sold-out")
            #expect(try await world.reserve(client, token: bob, productId: 999).problemCode == "unknown-product")

            // Cancel gives the unit back; the next buyer gets it.
            let id = first.json["reservationId"] as! String
            let cancelled = try await client.execute(uri: "/v1/reservations/\(id)/cancel", method: .post, headers: world.headers(alice))
            #expect(cancelled.status == .ok)
            #expect(cancelled.json["status"] as? String == "cancelled")
            #expect(try await client.execute(uri: "/v1/reservations/\(id)/cancel", method: .post, headers: world.headers(alice)).problemCode == "already-ended")
            let later = try await eventually {
                try await world.reserve(client, token: try await world.token(103), productId: 8).status == .created
            }
            #expect(later, "the cancelled units are for sale again")
        }
    }

    /// The gate hands an attempt straight to the writer from its Redis thread; a writer that
    /// cannot take it (here: shut down) must still answer 503 and give the gate's units back.
    @Test func anAppendTheWriterRefusesAnswers503AndGivesTheUnitsBack() async throws {
        try await APIWorld.run { world, client in
            #expect(try await world.list(client, id: 31, stock: 2, limitPerUser: 2).status == .created)
            let projected = try await eventually { try await world.world.fixture.product(31).config["available"] == "2" }
            #expect(projected, "the read model holds the product, so the gate takes units")
            world.system.writer.shutdown()
            let refused = try await world.reserve(client, token: try await world.token(300), productId: 31)
            #expect(refused.status == .serviceUnavailable)
            #expect(refused.problemCode == "unavailable")
            let product = try await world.world.fixture.product(31)
            #expect(product.config["available"] == "2", "the gate's units are back on sale")
            #expect(product.tentatives.isEmpty)
            #expect(try await world.world.harness.reader.product(31)?.available == 2, "the ledger took nothing")
        }
    }

    /// A gate that cannot answer is a 503, and nothing reaches the ledger.
    @Test func aGateThatFailsAnswers503AndTheLedgerTakesNothing() async throws {
        try await APIWorld.run { world, client in
            #expect(try await world.list(client, id: 32, stock: 2, limitPerUser: 2).status == .created)
            world.system.gatePool.shutdown()
            let refused = try await world.reserve(client, token: try await world.token(301), productId: 32)
            #expect(refused.status == .serviceUnavailable)
            #expect(refused.problemCode == "unavailable")
            #expect(try await world.world.harness.reader.product(32)?.available == 2)
        }
    }

    @Test func confirmAndReadBackAndPagesAndAuditFeeds() async throws {
        try await APIWorld.run { world, client in
            #expect(try await world.list(client, id: 9, stock: 10, limitPerUser: 5).status == .created)
            let user = try await world.token(200)
            var ids = [String]()
            for _ in 0..<2 { ids.append(try await world.reserve(client, token: user, productId: 9).json["reservationId"] as! String) }
            var traced = world.headers(user)
            traced[HTTPField.Name("X-Request-ID")!] = "req-7"
            let third = try await client.execute(
                uri: "/v1/seckill", method: .post, headers: traced, body: ByteBuffer(string: #"{"productId":9,"quantity":1}"#))
            ids.append(third.json["reservationId"] as! String)
            let confirmed = try await client.execute(
                uri: "/v1/reservations/\(ids[0])/confirm", method: .post, headers: world.headers(user), body: ByteBuffer(string: #"{"paymentRef":"pay-1"}"#))
            #expect(confirmed.status == .ok)
            #expect(confirmed.json["status"] as? String == "confirmed")
            #expect((confirmed.json["orderId"] as? String)?.count == 36)
            let read = try await client.execute(uri: "/v1/reservations/\(ids[0])", method: .get, headers: world.headers(user))
            #expect(read.json["status"] as? String == "confirmed")
            #expect(read.json["paymentRef"] as? String == "pay-1")

            let page1 = try await client.execute(uri: "/v1/users/me/reservations?limit=2", method: .get, headers: world.headers(user))
            let items1 = page1.json["items"] as! [[String: Any]]
            #expect(items1.map { $0["reservationId"] as! String } == Array(ids.prefix(2)))
            let next = page1.json["next"] as! Int
            let page2 = try await client.execute(uri: "/v1/users/me/reservations?limit=2&after=\(next)", method: .get, headers: world.headers(user))
            #expect((page2.json["items"] as! [[String: Any]]).map { $0["reservationId"] as! String } == [ids[2]])
            #expect(page2.json["next"] is NSNull || page2.json["next"] == nil)

            let admin = try await world.token(1, admin: true)
            let history = try await client.execute(uri: "/v1/audit/reservations/\(ids[0])/events", method: .get, headers: world.headers(admin))
            #expect((history.json["items"] as! [[String: Any]]).map { $0["type"] as! String } == ["StockReserved", "OrderConfirmed"])
            let thirdEvents = try await client.execute(uri: "/v1/audit/reservations/\(ids[2])/events", method: .get, headers: world.headers(admin))
            let reserved = (thirdEvents.json["items"] as! [[String: Any]]).first?["metadata"] as? [String: Any]
            #expect(reserved?["actor"] as? String == "user:200", "the event names who reserved")
            #expect(reserved?["requestId"] as? String == "req-7", "and the request it came from")
            let byUser = try await client.execute(uri: "/v1/audit/users/200/events", method: .get, headers: world.headers(admin))
            #expect((byUser.json["items"] as! [[String: Any]]).count == 4)
            let byProduct = try await client.execute(uri: "/v1/audit/products/9/events", method: .get, headers: world.headers(admin))
            #expect((byProduct.json["items"] as! [[String: Any]]).count == 5)
            let feed = try await client.execute(uri: "/v1/events?after=0&limit=3", method: .get, headers: world.headers(admin))
            let feedItems = feed.json["items"] as! [[String: Any]]
            #expect(feedItems.map { $0["position"] as! Int } == [1, 2, 3])
            #expect(feed.json["next"] as? Int == 3)
        }
    }

    @Test func listingIsIdempotentAndStockCanBeAdded() async throws {
        try await APIWorld.run { world, client in
            let now = Timestamp.now()
            let body = """
                {"id":11,"name":"Lamp","priceMinor":500,"currency":"EUR","stock":1,"startsAt":"\(now.adding(seconds: -10).iso8601)",\
                "endsAt":"\(now.adding(seconds: 600).iso8601)","limitPerUser":1,"reservationTTLSeconds":60}
                """
            let admin = world.headers(try await world.token(1, admin: true))
            #expect(try await client.execute(uri: "/v1/products", method: .post, headers: admin, body: ByteBuffer(string: body)).status == .created)
            #expect(try await client.execute(uri: "/v1/products", method: .post, headers: admin, body: ByteBuffer(string: body)).status == .ok)
            let different = body.replacingOccurrences(of: "Lamp", with: "Desk")
            #expect(try await client.execute(uri: "/v1/products", method: .post, headers: admin, body: ByteBuffer(string: different)).problemCode == "product-conflict")
            let stock = try await client.execute(uri: "/v1/products/11/stock", method: .post, headers: admin, body: ByteBuffer(string: #"{"quantity":4}"#))
            #expect(stock.status == .ok)
            #expect(stock.json["stock"] as? Int == 5)
            #expect(try await client.execute(uri: "/v1/products/12/stock", method: .post, headers: admin, body: ByteBuffer(string: #"{"quantity":4}"#)).problemCode == "unknown-product")
            let product = try await client.execute(uri: "/v1/products/11", method: .get)
            #expect(product.json["state"] as? String == "open")
            #expect(try await client.execute(uri: "/v1/products/12", method: .get).status == .notFound)
        }
    }
}
