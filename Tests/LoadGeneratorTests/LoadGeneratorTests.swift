import Foundation
import LoadGenerator
import Testing

@Suite struct LoadGeneratorTests {
    @Test func theRecorderCountsOutcomesPercentilesAndSeconds() {
        let start = ContinuousClock.now
        let recorder = LoadRecorder(start: start, startedAt: Date(timeIntervalSince1970: 1_796_299_000.25))
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
        #expect(summary.startedAtUnixMs == 1_796_299_000_250, "second 0 starts at the clock's wall time")
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
        #expect(decoded.startedAtUnixMs == summary.startedAtUnixMs)
        let html = LoadReport.html(summary, title: "a <b> & c")
        #expect(html.components(separatedBy: "<svg").count == 3, "two charts")
        #expect(html.contains("a &lt;b&gt; &amp; c"))
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

@Suite struct UserDistributionTests {
    /// How often each user is picked by the first `count` requests of a flash sale.
    func picks(_ users: UserDistribution, count: Int = 100_000) -> [Int] {
        let sale = LoadScenario(kind: .flashSale, productId: 7, tokens: (0..<users.users).map { "token-\($0)" }, users: users)
        var picks = [Int](repeating: 0, count: users.users)
        for sequence in 0..<count { picks[sale.request(sequence).user] += 1 }
        return picks
    }

    @Test func zipfMakesHeavyHittersInRankOrder() {
        // s = 1 over 1,000 users: weights 1/k, their sum H(1000) ≈ 7.485.
        let zipf = UserDistribution(users: 1_000, shape: .zipf(exponent: 1))
        let harmonic = (1...1_000).reduce(0.0) { $0 + 1 / Double($1) }
        #expect(abs(zipf.busiestUserShare - 1 / harmonic) < 1e-9)
        #expect(zipf.label == "zipf 1.0, busiest user 13.4 %")
        #expect(UserDistribution(users: 1_000).label == "uniform")
        let picks = picks(zipf)
        let share = picks.map { Double($0) / 100_000 }
        #expect(abs(share[0] - 1 / harmonic) < 0.005, "rank 1: \(share[0])")
        #expect(abs(share[1] - 0.5 / harmonic) < 0.004, "rank 2: \(share[1])")
        #expect(abs(share[9] - 0.1 / harmonic) < 0.002, "rank 10: \(share[9])")
        #expect(abs(share[..<10].reduce(0, +) - (1...10).reduce(0.0) { $0 + 1 / Double($1) } / harmonic) < 0.01, "the top ten")
        #expect(picks[500...].reduce(0, +) > 5_000, "the tail is still picked (expected ~9 %)")
    }

    @Test func uniformSpreadsEvenly() {
        let picks = picks(UserDistribution(users: 1_000))
        #expect(picks.min()! > 50 && picks.max()! < 160, "~100 each: \(picks.min()!)…\(picks.max()!)")
    }

    @Test func everyRandomNumberMapsIntoThePopulation() {
        for shape in [UserDistribution.Shape.uniform, .zipf(exponent: 1), .zipf(exponent: 0.5)] {
            let users = UserDistribution(users: 37, shape: shape)
            for random in [UInt64.min, 1, UInt64.max / 2, UInt64.max - 1, UInt64.max] {
                #expect((0..<37).contains(users.user(random)), "\(shape) \(random)")
            }
        }
        let zipf = UserDistribution(users: 37, shape: .zipf(exponent: 1))
        #expect(zipf.user(0) == 0, "the smallest number is the busiest user")
        #expect(zipf.user(.max) == 36, "the largest is the last")
        #expect(UserDistribution(users: 1, shape: .zipf(exponent: 1)).user(.max) == 0)
        #expect(picks(UserDistribution(users: 50, shape: .zipf(exponent: 40)), count: 1_000)[0] == 1_000, "a steep exponent picks the busiest user every time")
    }
}

/// The server's stage figures are the differences between two `/metrics` scrapes.
@Suite struct ServerStagesTests {
    static let before = """
        # TYPE ledger_writer_batches_total counter
        ledger_writer_batches_total 10
        ledger_writer_batch_commands_sum 100.0
        ledger_writer_batch_commands_count 10
        ledger_writer_batch_duration_seconds_bucket{le="0.005"} 10
        ledger_writer_batch_duration_seconds_sum 0.05
        ledger_writer_batch_duration_seconds_count 10
        ledger_writer_transaction_duration_seconds_sum 0.02
        ledger_writer_transaction_duration_seconds_count 10
        ledger_writer_queue_wait_seconds_sum 0.01
        ledger_writer_queue_wait_seconds_count 10
        http_requests_total{route="/v1/seckill",method="POST",status="201"} 100
        redis_pipelines_total 50
        redis_pipeline_calls_sum 100.0
        redis_pipeline_duration_seconds_sum 0.025
        redis_pipeline_duration_seconds_count 50
        """
    static let after = """
        ledger_writer_batches_total 30
        ledger_writer_batch_commands_sum 500.0
        ledger_writer_batch_duration_seconds_sum 0.15
        ledger_writer_batch_duration_seconds_count 30
        ledger_writer_transaction_duration_seconds_sum 0.08
        ledger_writer_transaction_duration_seconds_count 40
        ledger_writer_queue_wait_seconds_sum 0.05
        ledger_writer_queue_wait_seconds_count 30
        redis_pipelines_total 50
        redis_pipeline_calls_sum 100.0
        """

    @Test func theRunsShareIsTheDifferenceBetweenTheScrapes() throws {
        let stages = try #require(ServerStages(before: Self.before, after: Self.after))
        #expect(stages.writerBatches == 20)
        #expect(stages.commandsPerBatch == 20, "400 commands in 20 batches")
        #expect(abs(try #require(stages.batchMeanMs) - 5) < 1e-9)
        // A batch decided again runs more transactions than it counts batches.
        #expect(abs(try #require(stages.transactionMeanMs) - 2) < 1e-9)
        #expect(abs(try #require(stages.queueWaitMeanMs) - 2) < 1e-9)
        #expect(stages.redisRoundTrips == 0)
        #expect(stages.callsPerRoundTrip == nil && stages.redisRoundTripMeanMs == nil, "no round trip, no mean")
        #expect(ServerStages(before: "", after: Self.after) == nil, "a server without the writer's metrics has no stages")

        var summary = LoadRecorder(start: .now).summary(elapsed: .seconds(1))
        summary.serverStages = stages
        let text = LoadReport.text(summary, title: "t")
        #expect(text.contains("writer: 20 batches of 20.0 commands, transaction 2.00 ms, batch 5.00 ms"))
        #expect(try JSONDecoder().decode(LoadSummary.self, from: Data(try LoadReport.json(summary).utf8)).serverStages == stages)
    }
}
