import Foundation
import LoadGenerator
import Testing

@Suite struct LoadGeneratorTests {
    @Test func theRecorderCountsOutcomesPercentilesAndSeconds() {
        let start = ContinuousClock.now
        let recorder = LoadRecorder(start: start)
        for index in 0..<100 {
            let intended = start + .milliseconds(index * 20)  // 50 a second over two seconds
            recorder.record(intendedAt: intended, finishedAt: intended + .milliseconds(index < 99 ? 2 : 500), outcome: index % 10 == 0 ? "409 sold-out" : "201", success: index % 10 != 0)
        }
        recorder.acknowledge("a")
        let summary = recorder.summary(elapsed: .seconds(2))
        #expect(summary.requests == 100)
        #expect(summary.requestsPerSecond == 50)
        #expect(summary.successesPerSecond == 45)
        #expect(summary.outcomes == ["201": 90, "409 sold-out": 10])
        #expect(abs(summary.latencyMs.p50 - 2) < 0.01)
        #expect(abs(summary.latencyMs.max - 500) < 1)
        #expect(summary.timeline.map(\.requests) == [50, 50])
        #expect(summary.timeline[1].p99Ms > 400, "the slow request shows in its second")
        #expect(recorder.acknowledged == ["a"])
    }

    @Test func reportsRenderTheFigures() throws {
        let start = ContinuousClock.now
        let recorder = LoadRecorder(start: start)
        recorder.record(intendedAt: start, finishedAt: start + .milliseconds(3), outcome: "201", success: true)
        var summary = recorder.summary(elapsed: .seconds(1))
        summary.invariants = .init(acknowledged: 1, inLedger: 1, unitsSold: 1, stock: 5, auditDifferences: 0)
        let text = LoadReport.text(summary, title: "t")
        #expect(text.contains("invariants      HOLD"))
        #expect(text.contains("201"))
        let decoded = try JSONDecoder().decode(LoadSummary.self, from: Data(try LoadReport.json(summary).utf8))
        #expect(decoded.requests == 1 && decoded.invariants?.holds == true)
        let html = LoadReport.html(summary, title: "a <b> & c")
        #expect(html.components(separatedBy: "<svg").count == 3, "two charts")
        #expect(html.contains("a &lt;b> &amp; c"))
        summary.invariants?.inLedger = 0
        #expect(LoadReport.text(summary, title: "t").contains("BROKEN"))
    }

    @Test func scenariosAreDeterministicAndMixedFollowsUp() {
        let tokens = (0..<100).map { "token-\($0)" }
        let sale = LoadScenario(kind: .flashSale, productId: 7, tokens: tokens)
        #expect(sale.request(5).token == sale.request(5).token, "request n is the same every run")
        #expect(sale.request(5).path == "/v1/seckill")
        #expect(Set((0..<1_000).map { sale.request($0).user }).count > 90, "users spread over the population")

        let mixed = LoadScenario(kind: .mixed, productId: 7, tokens: tokens)
        for sequence in 0..<200 { mixed.reserved("r\(sequence)", user: sequence % 100) }
        let paths = (0..<1_000).map { mixed.request($0).path }
        #expect(paths.filter { $0 == "/v1/seckill" }.count > 600)
        #expect(paths.filter { $0 == "/v1/products/7" }.count > 150)
        #expect(paths.contains { $0.hasPrefix("/v1/reservations/r") && $0.hasSuffix("/confirm") })
        let followUp = (0..<1_000).map { mixed.request($0) }.first { $0.path.hasPrefix("/v1/reservations/") }!
        #expect(followUp.token == tokens[followUp.user], "a follow-up is sent as the reservation's owner")
    }
}
