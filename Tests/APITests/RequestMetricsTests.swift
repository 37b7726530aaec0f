@testable import API
import Hummingbird
import HummingbirdTesting
import MetricsTestKit
import Testing

/// `http_requests_total` counts each answered request once, under its route's template.
@Suite struct RequestMetricsTests {
    struct Broken: Error {}

    @Test func requestsAreCountedByRouteTemplateMethodAndStatus() async throws {
        let metrics = TestMetrics()
        let router = Router()
        router.add(middleware: RequestMetricsMiddleware(factory: metrics))
        router.get("/items/:id") { _, _ in "item" }
        router.post("/items") { _, _ in Response(status: .created) }
        router.get("/broken") { _, _ -> String in throw Broken() }
        try await Application(router: router).test(.router) { client in
            for id in 1...3 { _ = try await client.execute(uri: "/items/\(id)", method: .get) }
            _ = try await client.execute(uri: "/items", method: .post)
            #expect(try await client.execute(uri: "/nowhere/7", method: .get).status == .notFound)
            #expect(try await client.execute(uri: "/broken", method: .get).status == .internalServerError)
        }
        func count(_ route: String, _ method: String, _ status: String) throws -> Int64 {
            try metrics.expectCounter("http_requests_total", [("route", route), ("method", method), ("status", status)]).totalValue
        }
        // The template, not the path: three ids make one series.
        #expect(try count("/items/{id}", "GET", "200") == 3)
        #expect(try count("/items", "POST", "201") == 1)
        // Hummingbird names a path no route matched `NotFound`: one series for every unknown path.
        #expect(try count("NotFound", "GET", "404") == 1)
        #expect(try count("/broken", "GET", "500") == 1)
        #expect(metrics.counters.count == 4)
    }
}
