import LoadGenerator
import Testing

/// The pure parts of a chaos run: the seeded schedule, what a client makes of an answer, and
/// the report's timeline, recovery and attribution per fault.
@Suite struct ChaosRunTests {
    @Test func theSameSeedGivesTheSameScheduleAndEveryKindFitsInTheShortRun() {
        let schedule = ChaosSchedule.make(seed: 1, durationMs: 60_000, nodes: 2)
        #expect(schedule == ChaosSchedule.make(seed: 1, durationMs: 60_000, nodes: 2))
        #expect(schedule != ChaosSchedule.make(seed: 2, durationMs: 60_000, nodes: 2))
        #expect(Set(schedule.map(\.kind)) == Set(ChaosFault.Kind.allCases), "each kind at least once in 60 s")
        #expect(schedule.first?.startMs == ChaosSchedule.quietStartMs)
        #expect((schedule.last?.endMs ?? .max) <= 60_000 - ChaosSchedule.quietEndMs)
        for (earlier, later) in zip(schedule, schedule.dropFirst()) {
            #expect(earlier.endMs < later.startMs, "faults never overlap")
        }
        for fault in schedule {
            #expect(fault.endMs > fault.startMs)
            #expect((fault.node != nil) == (fault.kind == .nodeKill))
            if let node = fault.node { #expect((1...2).contains(node)) }
        }
        // Every kind comes once before any comes again.
        #expect(Set(schedule.prefix(ChaosFault.Kind.allCases.count).map(\.kind)).count == ChaosFault.Kind.allCases.count)
        #expect(ChaosSchedule.make(seed: 1, durationMs: 5_000, nodes: 2).isEmpty, "nothing fits between the quiet start and end")
    }

    @Test func aClientRetriesWhatMayNotHaveHappenedAndWhatTheServerAsksAgain() {
        typealias Outcome = ChaosOperation.Outcome
        #expect(Outcome(status: 201, code: nil, reservationId: "r") == .ok(reservationId: "r"))
        #expect(Outcome(status: 409, code: "sold-out", reservationId: nil) == .refused(code: "sold-out"))
        #expect(Outcome(status: 503, code: "overloaded", reservationId: nil) == .refused(code: "overloaded"))
        #expect(Outcome(status: 503, code: "unavailable", reservationId: nil) == .unknown(reason: "503 unavailable"))
        #expect(Outcome(status: 502, code: nil, reservationId: nil) == .unknown(reason: "status 502"))
        #expect(Outcome(status: 503, code: "overloaded", reservationId: nil).isRetried)
        #expect(Outcome(status: 429, code: "rate-limited", reservationId: nil).isRetried)
        #expect(Outcome(status: 504, code: nil, reservationId: nil).isRetried)
        #expect(!Outcome(status: 409, code: "sold-out", reservationId: nil).isRetried)
        #expect(!Outcome(status: 201, code: nil, reservationId: "r").isRetried)
        #expect(Outcome(status: 500, code: "internal", reservationId: nil).isServerError)
        #expect(!Outcome(status: 503, code: "unavailable", reservationId: nil).isServerError)
    }

    static func reserve(_ start: Int64, _ end: Int64, _ outcome: ChaosOperation.Outcome) -> ChaosOperation {
        ChaosOperation(kind: .reserve, startMs: start, endMs: end, userId: 1, productId: 1, outcome: outcome)
    }

    @Test func theReportCountsEachSecondAndMeasuresRecoveryAfterEachFault() {
        let history = [
            Self.reserve(10_000, 10_020, .ok(reservationId: "a")),
            Self.reserve(10_500, 10_600, .refused(code: "sold-out")),
            Self.reserve(11_000, 14_000, .unknown(reason: "timed-out")),  // during the freeze
            Self.reserve(11_500, 11_600, .refused(code: "overloaded")),  // during the freeze
            Self.reserve(13_100, 13_200, .ok(reservationId: "b")),  // after it: recovery 1,200 ms
            Self.reserve(13_300, 13_400, .ok(reservationId: "c")),
        ]
        let faults = [
            ChaosFault(kind: .postgresFreeze, startMs: 11_000, endMs: 12_000),
            ChaosFault(kind: .redisFreeze, startMs: 13_500, endMs: 14_000),  // nothing succeeds after it
        ]
        var verdict = ChaosVerdict()
        verdict.violations = [ChaosViolation(.lostAcknowledgement, "reservation x", atMs: 12_500)]
        let report = ChaosReport(
            history: history, faults: faults, verdict: verdict, seed: 7, nodes: 2, startMs: 10_000, endMs: 15_000, recoveryBoundMs: 5_000)

        #expect(report.seconds.count == 6)
        #expect(report.seconds[0].ok == 1 && report.seconds[0].refusedByCode == ["sold-out": 1])
        #expect(report.seconds[1].unknown == 1 && report.seconds[1].refusedByCode == ["overloaded": 1])
        #expect(report.seconds[3].ok == 2 && report.seconds[3].okP99Ms == 100)
        #expect(report.seconds[0].okP99Ms == 20)

        let freeze = report.faultKinds.first { $0.kind == .postgresFreeze }
        #expect(freeze?.recoveriesMs == [1_200])
        #expect(freeze?.errorsDuring == 2)
        #expect(freeze?.lostAcknowledged == 1, "the lost acknowledgement began within the fault or its recovery")
        let redis = report.faultKinds.first { $0.kind == .redisFreeze }
        #expect(redis?.recoveriesMs == [])
        #expect(report.verdict.violations.map(\.kind) == [.lostAcknowledgement, .noRecovery])
        #expect(!report.passed)
        #expect(report.html().contains("<svg"))
        #expect(report.html().contains("redis-freeze"))
    }

    @Test func positionsRetentionTrimmedAreNotRequiredButLaterOnesAre() {
        let ledger: [Int64: [Int64]] = [1: [1, 2, 3, 4]]
        #expect(ChaosTopicCheck.check(ledger: ledger, topic: [1: [3, 4]], retainedFrom: [1: 3]).isEmpty)
        #expect(ChaosTopicCheck.check(ledger: ledger, topic: [1: [4]], retainedFrom: [1: 3]).map(\.kind) == [.topicGap])
        #expect(ChaosTopicCheck.check(ledger: ledger, topic: [1: [3, 4]]).map(\.kind) == [.topicGap])
    }
}
