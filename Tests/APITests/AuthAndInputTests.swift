import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
@testable import API
import Ledger
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(3))) struct AuthAndInputTests {
    @Test func anotherUsersReservationCannotBeReadConfirmedOrCancelled() async throws {
        try await APIWorld.run { world, client in
            #expect(try await world.list(client, id: 20, stock: 5, limitPerUser: 2).status == .created)
            let alice = try await world.token(300)
            let mallory = try await world.token(301)
            let id = try await world.reserve(client, token: alice, productId: 20).json["reservationId"] as! String
            #expect(try await client.execute(uri: "/v1/reservations/\(id)", method: .get, headers: world.headers(mallory)).problemCode == "unknown-reservation")
            #expect(try await client.execute(
                uri: "/v1/reservations/\(id)/confirm", method: .post, headers: world.headers(mallory), body: ByteBuffer(string: #"{"paymentRef":"x"}"#)
            ).problemCode == "unknown-reservation")
            #expect(try await client.execute(uri: "/v1/reservations/\(id)/cancel", method: .post, headers: world.headers(mallory)).problemCode == "unknown-reservation")
            #expect(try await world.world.harness.reader.reservation(try #require(ReservationID(id)))?.status == .reserved, "nothing changed")
            let admin = try await world.token(1, admin: true)
            #expect(try await client.execute(uri: "/v1/reservations/\(id)", method: .get, headers: world.headers(admin)).status == .ok, "an admin reads any")
            #expect(try await client.execute(uri: "/v1/reservations/\(id)", method: .get, headers: world.headers(alice)).status == .ok)
        }
    }

    @Test func userTokensCannotCallAdminRoutesAndBadTokensAre401() async throws {
        try await APIWorld.run { world, client in
            let user = try await world.token(400)
            let listing = ByteBuffer(string: #"{"id":1,"name":"x","priceMinor":1,"currency":"EUR","stock":1,"startsAt":"2026-01-01T00:00:00Z","endsAt":"2027-01-01T00:00:00Z","limitPerUser":1,"reservationTTLSeconds":60}"#)
            #expect(try await client.execute(uri: "/v1/products", method: .post, headers: world.headers(user), body: listing).problemCode == "forbidden")
            #expect(try await client.execute(uri: "/v1/products/1/stock", method: .post, headers: world.headers(user), body: ByteBuffer(string: #"{"quantity":1}"#)).problemCode == "forbidden")
            for uri in ["/v1/events", "/v1/audit/products/1/events", "/v1/audit/users/400/events", "/v1/audit/reservations/\(UUID.v7().lowercased)/events"] {
                #expect(try await client.execute(uri: uri, method: .get, headers: world.headers(user)).problemCode == "forbidden", "\(uri)")
            }
            #expect(try await client.execute(uri: "/v1/products", method: .post, headers: world.headers(nil), body: listing).problemCode == "unauthorized")
            #expect(try await world.reserve(client, token: "not.a.jwt", productId: 1).problemCode == "unauthorized")
            let expired = try await world.token(400, ttlSeconds: -60)
            #expect(try await world.reserve(client, token: expired, productId: 1).problemCode == "unauthorized")
            let otherSecret = try await TokenAuthority(secret: String(repeating: "z", count: 40)).token(userId: 400, admin: true, ttlSeconds: 600)
            #expect(try await world.reserve(client, token: otherSecret, productId: 1).problemCode == "unauthorized")
            var basic = world.headers(nil)
            basic[.authorization] = "Basic dXNlcjpwYXNz"
            #expect(try await client.execute(uri: "/v1/seckill", method: .post, headers: basic, body: ByteBuffer(string: "{}")).problemCode == "unauthorized")
        }
    }

    @Test func badInputGetsAProblemAndLosesNothing() async throws {
        try await APIWorld.run { world, client in
            #expect(try await world.list(client, id: 30, stock: 10, limitPerUser: 3).status == .created)
            let user = try await world.token(500)
            let admin = try await world.token(1, admin: true)
            let cases: [(uri: String, method: HTTPRequest.Method, token: String?, key: String?, body: String, status: HTTPResponse.Status, code: String)] = [
                ("/v1/seckill", .post, user, nil, "{", .badRequest, "invalid"),
                ("/v1/seckill", .post, user, nil, "not json", .badRequest, "invalid"),
                ("/v1/seckill", .post, user, nil, "[]", .badRequest, "invalid"),
                ("/v1/seckill", .post, user, nil, #"{"productId":"30","quantity":1}"#, .badRequest, "invalid"),
                ("/v1/seckill", .post, user, nil, #"{"productId":30}"#, .badRequest, "invalid"),
                ("/v1/seckill", .post, user, nil, #"{"productId":30,"quantity":null}"#, .badRequest, "invalid"),
                ("/v1/seckill", .post, user, nil, #"{"productId":30,"quantity":0}"#, .badRequest, "invalid"),
                ("/v1/seckill", .post, user, nil, #"{"productId":30,"quantity":-1}"#, .badRequest, "invalid"),
                ("/v1/seckill", .post, user, nil, #"{"productId":30,"quantity":1.5}"#, .badRequest, "invalid"),
                ("/v1/seckill", .post, user, nil, #"{"productId":30,"quantity":99999999999999999999999}"#, .badRequest, "invalid"),
                ("/v1/seckill", .post, user, nil, #"{"productId":-5,"quantity":1}"#, .badRequest, "invalid"),
                ("/v1/seckill", .post, user, nil, #"{"productId":0,"quantity":1}"#, .badRequest, "invalid"),
                ("/v1/seckill", .post, user, nil, #"{"productId":30,"quantity":1001}"#, .badRequest, "invalid"),
                ("/v1/seckill", .post, user, nil, #"{"productId":30,"quantity":4}"#, .conflict, "limit-exceeded"),
                ("/v1/seckill", .post, user, String(repeating: "k", count: 65), #"{"productId":30,"quantity":1}"#, .badRequest, "invalid"),
                ("/v1/seckill", .post, user, "bad key with spaces", #"{"productId":30,"quantity":1}"#, .badRequest, "invalid"),
                ("/v1/seckill", .post, user, nil, #"{"productId":30,"quantity":1,"pad":""# + String(repeating: "x", count: 5_000) + #""}"#, .contentTooLarge, "too-large"),
                ("/v1/seckill", .get, user, nil, "", .methodNotAllowed, "method-not-allowed"),
                ("/v1/products/30", .delete, admin, nil, "", .methodNotAllowed, "method-not-allowed"),
                ("/v1/nothing-here", .get, user, nil, "", .notFound, "not-found"),
                ("/v1/products/abc", .get, nil, nil, "", .badRequest, "invalid"),
                ("/v1/products/-1", .get, nil, nil, "", .badRequest, "invalid"),
                ("/v1/products/99999999999999999999", .get, nil, nil, "", .badRequest, "invalid"),
                ("/v1/reservations/not-a-uuid", .get, user, nil, "", .notFound, "unknown-reservation"),
                ("/v1/users/me/reservations?limit=0", .get, user, nil, "", .badRequest, "invalid"),
                ("/v1/users/me/reservations?limit=5000", .get, user, nil, "", .badRequest, "invalid"),
                ("/v1/users/me/reservations?after=-1", .get, user, nil, "", .badRequest, "invalid"),
                ("/v1/events?limit=x", .get, admin, nil, "", .badRequest, "invalid"),
                ("/v1/products", .post, admin, nil, #"{"id":31,"name":"x","priceMinor":-1,"currency":"EUR","stock":1,"startsAt":"2026-01-01T00:00:00Z","endsAt":"2027-01-01T00:00:00Z","limitPerUser":1,"reservationTTLSeconds":60}"#, .badRequest, "invalid"),
                ("/v1/products", .post, admin, nil, #"{"id":31,"name":"x","priceMinor":1,"currency":"euro","stock":1,"startsAt":"2026-01-01T00:00:00Z","endsAt":"2027-01-01T00:00:00Z","limitPerUser":1,"reservationTTLSeconds":60}"#, .badRequest, "invalid"),
                ("/v1/products", .post, admin, nil, #"{"id":31,"name":"x","priceMinor":1,"currency":"EUR","stock":1,"startsAt":"yesterday","endsAt":"2027-01-01T00:00:00Z","limitPerUser":1,"reservationTTLSeconds":60}"#, .badRequest, "invalid"),
                ("/v1/products", .post, admin, nil, #"{"id":31,"name":"x","priceMinor":1,"currency":"EUR","stock":1,"startsAt":"2027-01-01T00:00:00Z","endsAt":"2026-01-01T00:00:00Z","limitPerUser":1,"reservationTTLSeconds":60}"#, .badRequest, "invalid"),
                ("/v1/products/30/stock", .post, admin, nil, #"{"quantity":0}"#, .badRequest, "invalid"),
                ("/v1/products/30/stock", .post, admin, nil, #"{"quantity":9000000000000000000}"#, .badRequest, "invalid"),
            ]
            for item in cases {
                var headers = world.headers(item.token, key: item.key)
                headers[.contentType] = "application/json"
                let response = try await client.execute(uri: item.uri, method: item.method, headers: headers, body: ByteBuffer(string: item.body))
                #expect(response.status == item.status, "\(item.method) \(item.uri) \(item.body.prefix(60)) → \(response.status)")
                #expect(response.problemCode == item.code, "\(item.method) \(item.uri) \(item.body.prefix(60)) → \(String(buffer: response.body))")
            }
            // Unharmed: a valid request still succeeds and the ledger has exactly that one.
            #expect(try await world.reserve(client, token: user, productId: 30).status == .created)
            #expect(try await world.world.harness.reader.reservations(userId: 500, limit: 10).count == 1)
            #expect(try await client.execute(uri: "/health", method: .get).status == .ok)
        }
    }

    @Test func oneUserHammeringIsRateLimited() async throws {
        try await APIWorld.run { world, client in
            #expect(try await world.list(client, id: 40, stock: 1_000, limitPerUser: 100).status == .created)
            let user = try await world.token(600)
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<40 { group.addTask { try await world.reserve(client, token: user, productId: 40).status } }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
            let limited = statuses.filter { $0 == .tooManyRequests }.count
            #expect(limited >= 15, "a burst of 20 and a slow refill: about half of 40 at once are refused")
            #expect(statuses.filter { $0 == .created }.count == 40 - limited)
            // The test's refill (one attempt every 5 s) may have come while the 40 were answered on
            // a busy machine, so one more request could find it; five more at once cannot all.
            let followUps = try await withThrowingTaskGroup(of: TestResponse.self) { group in
                for _ in 0..<5 { group.addTask { try await world.reserve(client, token: user, productId: 40) } }
                return try await group.reduce(into: [TestResponse]()) { $0.append($1) }
            }
            let refused = try #require(followUps.first { $0.status == .tooManyRequests }, "\(followUps.map(\.status))")
            #expect(refused.problemCode == "rate-limited")
            // The test's refill is one attempt every 5 s: the client is told to come back when
            // its next one is in (less of the 5 s if the answers took a while).
            let retryAfter = try #require(refused.headers[.retryAfter].flatMap { Int($0) })
            #expect((1...5).contains(retryAfter))
            #expect(refused.headers[HTTPField.Name("RateLimit")!] == #""writes";r=0;t=\#(retryAfter)"#)
            #expect(refused.headers[HTTPField.Name("RateLimit-Policy")!] == #""writes";q=20;w=100"#)
            #expect(try await world.reserve(client, token: try await world.token(601), productId: 40).status == .created, "others are not affected")
        }
    }

    @Test func healthReadinessAndTheDocument() async throws {
        try await APIWorld.run { world, client in
            #expect(try await client.execute(uri: "/health", method: .get).json["status"] as? String == "ok")
            #expect(try await client.execute(uri: "/ready", method: .get).json["status"] as? String == "ready")
            let document = try await client.execute(uri: "/openapi.yaml", method: .get)
            #expect(document.status == .ok)
            let documented = Self.operations(inOpenAPI: String(buffer: document.body))
            let registered = Set(world.system.api.routes.map { "\($0.method.rawValue) \($0.path)" })
            #expect(documented.count > 15)
            #expect(registered.subtracting(documented).sorted() == [], "every route the router serves is documented")
            #expect(documented.subtracting(registered).sorted() == [], "every documented operation is served")
            let codes = try #require(String(buffer: document.body).firstMatch(of: /code: \{type: string, enum: \[([^\]]*)\]\}/)?.output.1)
            #expect(codes.split(separator: ", ").map(String.init) == ProblemCode.allCases.map(\.rawValue), "the problem codes, documented once")
        }
    }

    /// `METHOD /path/:param` for each operation under `paths:` (two-space YAML indentation:
    /// paths at two, methods at four).
    static func operations(inOpenAPI yaml: String) -> Set<String> {
        var operations = Set<String>()
        var inPaths = false
        var path: String?
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: true) {
            if !line.hasPrefix(" ") { inPaths = line == "paths:" }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast()).replacing(/\{(\w+)\}/) { ":\($0.output.1)" }
            } else if let path, let method = line.wholeMatch(of: /\ {4}(get|post|put|patch|delete):/)?.output.1 {
                operations.insert("\(method.uppercased()) \(path)")
            }
        }
        return operations
    }
}
