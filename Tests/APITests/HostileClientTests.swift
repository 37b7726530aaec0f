import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import API
import Ledger
import Projections
import TestSupport
import Testing

/// Clients that send what they should not: none of it may cost an honest buyer anything.
@Suite(.timeLimit(.minutes(4))) struct HostileClientTests {
    /// Text PostgreSQL refuses, in every field a request can carry, sent in a loop beside a
    /// flash sale: honest buyers see only 201 or sold-out, exactly the stock is sold, every
    /// poisoned request gets a 4xx problem, and the ledger, topic and Redis agree.
    @Test func poisonedRequestsBesideAFlashSaleFailAloneWithA4xx() async throws {
        try await APIWorld.run { world, client in
            #expect(try await world.list(client, id: 50, stock: 60, limitPerUser: 1).status == .created)
            #expect(try await world.list(client, id: 51, stock: 100, limitPerUser: 10).status == .created)
            // Poisoners hold reservations of their own to confirm with bad payment references.
            var held = [(token: String, id: String)]()
            for user in Int64(900)...903 {
                let token = try await world.token(user)
                let reserved = try await world.reserve(client, token: token, productId: 51)
                held.append((token, try #require(reserved.json["reservationId"] as? String)))
            }
            let admin = try await world.token(1, admin: true)
            let now = Timestamp.now()
            func listing(_ id: Int, name: String = "x", currency: String = "EUR") -> String {
                #"{"id":\#(id),"name":"\#(name)","priceMinor":1,"currency":"\#(currency)","stock":1,"startsAt":"\#(now.iso8601)","endsAt":"\#(now.adding(seconds: 600).iso8601)","limitPerUser":1,"reservationTTLSeconds":60}"#
            }
            // Each poison as a request: (uri, headers, body). JSON escapes carry what a raw
            // header or body byte could not.
            let poisons: [(String, HTTPFields, String)] = held.flatMap { token, id in [
                ("/v1/reservations/\(id)/confirm", world.headers(token), #"{"paymentRef":"pay\u0000ref"}"#),
                ("/v1/reservations/\(id)/confirm", world.headers(token), #"{"paymentRef":"pay\ud800ref"}"#),
                ("/v1/reservations/\(id)/confirm", world.headers(token), #"{"paymentRef":"\#(String(repeating: "p", count: 500))"}"#),
                ("/v1/seckill", world.headers(token, key: "ключ"), #"{"productId":51,"quantity":1}"#),
                ("/v1/seckill", world.headers(token, key: String(repeating: "k", count: 65)), #"{"productId":51,"quantity":1}"#),
            ] } + [
                ("/v1/products", world.headers(admin), listing(60, name: #"bad\u0000name"#)),
                ("/v1/products", world.headers(admin), listing(61, name: #"bad\u0007bell"#)),
                ("/v1/products", world.headers(admin), listing(62, currency: #"E\u0000R"#)),
                ("/v1/products", world.headers(admin), listing(63, name: String(repeating: "名", count: 200))),
            ]
            let buyers = try await (1...80).asyncMap { try await world.token(Int64(1_000 + $0)) }
            let (honest, poisoned) = try await withThrowingTaskGroup(of: (Bool, TestResponse).self) { group in
                for token in buyers {
                    group.addTask { (true, try await world.reserve(client, token: token, productId: 50)) }
                }
                for round in 0..<3 {
                    for (index, poison) in poisons.enumerated() {
                        group.addTask {
                            try await Task.sleep(for: .milliseconds(5 * (round * poisons.count + index) % 200))
                            return (false, try await client.execute(uri: poison.0, method: .post, headers: poison.1, body: ByteBuffer(string: poison.2)))
                        }
                    }
                }
                var honest = [TestResponse](), poisoned = [TestResponse]()
                for try await (isHonest, response) in group {
                    if isHonest { honest.append(response) } else { poisoned.append(response) }
                }
                return (honest, poisoned)
            }
            #expect(honest.filter { $0.status == .created }.count == 60, "exactly the stock is sold")
            for response in honest where response.status != .created {
                #expect(response.problemCode == "sold-out", "\(response.status) \(String(buffer: response.body))")
            }
            for response in poisoned {
                #expect((400..<500).contains(Int(response.status.code)), "\(response.status) \(String(buffer: response.body))")
                #expect(response.problemCode != nil, "a problem body")
            }
            for (_, id) in held {
                #expect(try await world.world.harness.reader.reservation(try #require(ReservationID(id)))?.status == .reserved, "no bad confirm went through")
            }
            for id in Int64(60)...63 { #expect(try await world.world.harness.reader.product(id) == nil) }
            #expect(try await world.world.harness.ledgerIsConsistent() == [])
            let audit = try await LedgerAuditor(reader: world.world.harness.reader, namespace: world.world.fixture.namespace).audit(
                redis: world.world.fixture.redis, kafka: .init(configuration: KafkaConfiguration(brokers: world.world.brokers), topic: world.world.topic),
                projectionWaitMs: 30_000)
            #expect(audit.differences == [])
        }
    }

    @Test func aKeyReusedForAnotherRequestIs422AndTheSameRequestStillAnswers() async throws {
        try await APIWorld.run { world, client in
            #expect(try await world.list(client, id: 70, stock: 10, limitPerUser: 5).status == .created)
            #expect(try await world.list(client, id: 71, stock: 10, limitPerUser: 5).status == .created)
            let alice = try await world.token(700)
            let first = try await world.reserve(client, token: alice, productId: 70, quantity: 1, key: "order-7")
            #expect(first.status == .created)
            for (product, quantity) in [(Int64(70), Int64(2)), (71, 1)] {
                let reused = try await world.reserve(client, token: alice, productId: product, quantity: quantity, key: "order-7")
                #expect(reused.status == .unprocessableContent)
                #expect(reused.problemCode == "idempotency-key-reused", "\(String(buffer: reused.body))")
            }
            let again = try await world.reserve(client, token: alice, productId: 70, quantity: 1, key: "order-7")
            #expect(again.status == .created)
            #expect(String(buffer: again.body) == String(buffer: first.body))
            #expect(try await world.world.harness.reader.product(71)?.reservedUnits == 0, "the reused key took nothing")
            let audit = try await LedgerAuditor(reader: world.world.harness.reader, namespace: world.world.fixture.namespace).audit(
                redis: world.world.fixture.redis, kafka: nil, projectionWaitMs: 30_000)
            #expect(audit.differences == [], "the gate gave back what the refused attempt took")
        }
    }

    @Test func requestIdsAreStoredOnlyWhenShortAndPrintable() async throws {
        try await APIWorld.run { world, client in
            #expect(try await world.list(client, id: 72, stock: 10, limitPerUser: 5).status == .created)
            let bob = try await world.token(701)
            var stored = [String?]()
            for requestId in ["req-72.1", String(repeating: "r", count: 129), "spaced out", "caf\u{E9}"] {
                var headers = world.headers(bob)
                headers[HTTPField.Name("X-Request-ID")!] = requestId
                let response = try await client.execute(
                    uri: "/v1/seckill", method: .post, headers: headers, body: ByteBuffer(string: #"{"productId":72,"quantity":1}"#))
                #expect(response.status == .created, "an odd header is dropped, the request still served")
                let id = try #require(response.json["reservationId"] as? String)
                stored.append(try await world.world.harness.reader.stream(StreamID.reservation(try #require(ReservationID(id)))).first?.metadata.requestId)
            }
            #expect(stored == ["req-72.1", nil, nil, nil])
        }
    }

    @Test func oversizedBearerTokensAreRefusedBeforeAnyCheck() async throws {
        try await APIWorld.run { world, client in
            let huge = String(repeating: "a", count: 3_000)
            let response = try await client.execute(uri: "/v1/users/me/reservations", method: .get, headers: world.headers(huge))
            #expect(response.problemCode == "unauthorized")
            #expect(String(buffer: response.body).contains("2048 bytes"))
        }
    }

    /// Every write spends from a budget: a user's confirms and cancels from the same one as
    /// reservations, an admin's from the admins'; reads without a login from the client's.
    @Test func confirmsCancelsAdminWritesAndAnonymousReadsAreRateLimited() async throws {
        try await APIWorld.run { world, client in
            #expect(try await world.list(client, id: 73, stock: 10, limitPerUser: 5).status == .created)
            let carol = try await world.token(702)
            var statuses = [HTTPResponse.Status]()
            for _ in 0..<25 {
                statuses.append(try await client.execute(
                    uri: "/v1/reservations/\(UUID.v7().lowercased)/cancel", method: .post, headers: world.headers(carol)).status)
            }
            #expect(statuses.prefix(20).allSatisfy { $0 == .notFound }, "the burst is served")
            #expect(statuses.suffix(3).allSatisfy { $0 == .tooManyRequests }, "then refused")
            let confirm = try await client.execute(
                uri: "/v1/reservations/\(UUID.v7().lowercased)/confirm", method: .post, headers: world.headers(carol),
                body: ByteBuffer(string: #"{"paymentRef":"x"}"#))
            #expect(confirm.problemCode == "rate-limited", "confirms spend the same budget")
            #expect(try await world.reserve(client, token: carol, productId: 73).problemCode == "rate-limited", "and so do reservations")

            let admin = try await world.token(2, admin: true)
            var adminStatuses = [HTTPResponse.Status]()
            for _ in 0..<55 {
                adminStatuses.append(try await client.execute(
                    uri: "/v1/products/73/stock", method: .post, headers: world.headers(admin), body: ByteBuffer(string: #"{"quantity":1}"#)).status)
            }
            #expect(adminStatuses.filter { $0 == .ok }.count == 50, "admins have their own burst")
            #expect(adminStatuses.last == .tooManyRequests)

            var anonymous = [TestResponse]()
            for _ in 0..<55 { anonymous.append(try await client.execute(uri: "/v1/products/73", method: .get)) }
            #expect(anonymous.filter { $0.status == .ok }.count == 50)
            let refused = try #require(anonymous.last)
            #expect(refused.problemCode == "rate-limited")
            #expect(refused.headers[HTTPField.Name("RateLimit-Policy")!] == #""reads";q=50;w=5000"#)
            #expect(refused.headers[.retryAfter] != nil)
            #expect(try await client.execute(uri: "/v1/products/73", method: .get, headers: world.headers(carol)).status == .ok, "a login reads apart")
        }
    }

    /// Made-up product ids miss the cache and cost a ledger read each: they spend the caller's
    /// budget before the read, whether reserved or read.
    @Test func madeUpProductIdsSpendTheCallersBudgetBeforeAnyLedgerRead() async throws {
        // No refill within the test: under the whole suite's load its 25 requests once took 25 s,
        // enough at 0.2/s to refill the tokens the last five were meant to find spent.
        var limits = APIWorld.limits
        limits.seckillAttemptsPerUserPerSecond = 0.01
        try await APIWorld.run(limits: limits) { world, client in
            let dave = try await world.token(703)
            var reserves = [String?]()
            for id in 0..<25 { reserves.append(try await world.reserve(client, token: dave, productId: Int64(5_000_000 + id)).problemCode) }
            #expect(reserves.prefix(20).allSatisfy { $0 == "unknown-product" })
            #expect(reserves.suffix(5).allSatisfy { $0 == "rate-limited" })
            let erin = try await world.token(704)
            var reads = [HTTPResponse.Status]()
            for id in 0..<55 {
                reads.append(try await client.execute(uri: "/v1/products/\(6_000_000 + id)", method: .get, headers: world.headers(erin)).status)
            }
            #expect(reads.prefix(50).allSatisfy { $0 == .notFound })
            #expect(reads.suffix(5).allSatisfy { $0 == .tooManyRequests })
        }
    }

    /// Past the cap of attempts in flight, an attempt is refused at once with 503 overloaded:
    /// it took no units and left nothing in the ledger; the admitted ones commit.
    @Test func attemptsPastTheInFlightCapAreRefusedAtOnceAndTakeNothing() async throws {
        var limits = APIWorld.limits
        limits.maxReservationAttemptsInFlight = 2
        limits.writerBatchDelayMs = 300
        try await APIWorld.run(limits: limits) { world, client in
            #expect(try await world.list(client, id: 74, stock: 100, limitPerUser: 1).status == .created)
            let tokens = try await (1...30).asyncMap { try await world.token(Int64(2_000 + $0)) }
            let responses = try await withThrowingTaskGroup(of: TestResponse.self) { group in
                for token in tokens { group.addTask { try await world.reserve(client, token: token, productId: 74) } }
                return try await group.reduce(into: [TestResponse]()) { $0.append($1) }
            }
            let created = responses.filter { $0.status == .created }
            let shed = responses.filter { $0.problemCode == "overloaded" }
            #expect(created.count + shed.count == 30, "\(responses.map(\.status))")
            #expect(created.count >= 2 && shed.count >= 10, "\(created.count) admitted")
            #expect(shed.allSatisfy { $0.status == .serviceUnavailable && $0.headers[.retryAfter] == "1" })
            #expect(try await world.world.harness.reader.product(74)?.reservedUnits == Int64(created.count))
            let audit = try await LedgerAuditor(reader: world.world.harness.reader, namespace: world.world.fixture.namespace).audit(
                redis: world.world.fixture.redis, kafka: nil, projectionWaitMs: 30_000)
            #expect(audit.differences == [], "the refused attempts took no units from the gate")
        }
    }

    /// While the ledger's answers come slower than the target, the cap on attempts in flight
    /// shrinks from its ceiling towards its floor, so that fewer attempts wait behind one
    /// another; what it refuses is 503 overloaded and takes nothing.
    @Test func theCapOfAttemptsInFlightShrinksWhileTheLedgerAnswersSlowerThanTheTarget() async throws {
        var limits = APIWorld.limits
        limits.maxReservationAttemptsInFlight = 8
        limits.minReservationAttemptsInFlight = 2
        limits.reservationAttemptTargetMs = 20
        limits.reservationAttemptWindowMs = 50
        limits.writerBatchDelayMs = 300  // every answer misses the target
        try await APIWorld.run(limits: limits) { world, client in
            #expect(try await world.list(client, id: 75, stock: 1_000, limitPerUser: 1).status == .created)
            var admitted = [Int]()
            var user: Int64 = 3_000
            for _ in 0..<4 {
                var tokens = [String]()
                for _ in 0..<16 {
                    user += 1
                    tokens.append(try await world.token(user))
                }
                let responses = try await withThrowingTaskGroup(of: TestResponse.self) { group in
                    for token in tokens { group.addTask { try await world.reserve(client, token: token, productId: 75) } }
                    return try await group.reduce(into: [TestResponse]()) { $0.append($1) }
                }
                let created = responses.filter { $0.status == .created }.count
                #expect(created + responses.filter { $0.problemCode == "overloaded" }.count == 16, "\(responses.map(\.status))")
                admitted.append(created)
            }
            #expect(admitted.first! >= 8, "the first wave meets the ceiling: \(admitted)")
            #expect(admitted.last! <= 6 && admitted.last! >= 2, "the last, a smaller cap above the floor: \(admitted)")
            #expect(try await world.world.harness.reader.product(75)?.reservedUnits == Int64(admitted.reduce(0, +)))
        }
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var values = [T]()
        for element in self { values.append(try await transform(element)) }
        return values
    }
}
