import LoadGenerator
import Testing

/// The chaos checker against hand-made histories and ledgers: a sound run passes, and each kind
/// of broken system is reported.
@Suite struct ChaosCheckerTests {
    typealias Event = ChaosLedgerFacts.Event

    /// Product 1: 2 units from t = 0, at most 1 per user, on sale from 0 to 100,000 ms.
    static let product = ChaosLedgerFacts.Product(productId: 1, limitPerUser: 1, startsAtMs: 0, endsAtMs: 100_000)

    static func reserved(_ position: Int64, at ms: Int64, _ id: String, user: Int64, key: String? = nil) -> Event {
        Event(position: position, recordedAtMs: ms, productId: 1, change: .reserved(reservationId: id, userId: user, quantity: 1, idempotencyKey: key))
    }

    static func reserve(_ start: Int64, _ end: Int64, user: Int64, key: String? = nil, _ outcome: ChaosOperation.Outcome) -> ChaosOperation {
        ChaosOperation(kind: .reserve, startMs: start, endMs: end, userId: user, productId: 1, idempotencyKey: key, outcome: outcome)
    }

    /// A sound sale: two users get the two units (one after an unknown outcome retried with its
    /// key), one reservation expires and is taken again, a late user is refused sold-out.
    static let soundEvents: [Event] = [
        Event(position: 1, recordedAtMs: 0, productId: 1, change: .stock(quantity: 2)),
        reserved(2, at: 1_000, "a", user: 10, key: "k10"),
        reserved(3, at: 1_100, "b", user: 11, key: "k11"),
        Event(position: 4, recordedAtMs: 5_000, productId: 1, change: .reverted(reservationId: "b", reason: "expired")),
        reserved(5, at: 6_000, "c", user: 12),
        Event(position: 6, recordedAtMs: 7_000, productId: 1, change: .confirmed(reservationId: "a")),
    ]
    static let soundHistory: [ChaosOperation] = [
        reserve(900, 1_050, user: 10, key: "k10", .unknown(reason: "timeout")),
        reserve(1_060, 1_200, user: 10, key: "k10", .ok(reservationId: "a")),
        reserve(1_050, 1_150, user: 11, key: "k11", .ok(reservationId: "b")),
        // Sold out while both units were held; the expiry at 5,000 came later.
        reserve(2_000, 2_100, user: 13, .refused(code: "sold-out")),
        reserve(5_900, 6_100, user: 12, .ok(reservationId: "c")),
        reserve(6_500, 6_600, user: 12, .refused(code: "limit-exceeded")),
        reserve(6_700, 6_800, user: 14, .refused(code: "rate-limited")),
        ChaosOperation(kind: .confirm, startMs: 6_900, endMs: 7_100, userId: 10, productId: 1, reservationId: "a", outcome: .ok(reservationId: "a")),
        reserve(8_000, 8_100, user: 15, key: "k15", .unknown(reason: "connection reset")),
    ]

    func check(_ history: [ChaosOperation] = soundHistory, _ events: [Event] = soundEvents) -> ChaosVerdict {
        ChaosChecker.check(history, against: ChaosLedgerFacts(products: [Self.product], events: events), slackMs: 200)
    }

    func kinds(_ verdict: ChaosVerdict) -> [ChaosViolation.Kind] { verdict.violations.map(\.kind) }

    @Test func aSoundRunPasses() {
        let verdict = check()
        #expect(verdict.isClean, "\(verdict.violations)")
        #expect(verdict.acknowledged == 3 && verdict.acknowledgedInLedger == 3)
        #expect(verdict.unknownCommitted == 1 && verdict.unknownNotCommitted == 1, "k10 committed once, k15 never")
        #expect(verdict.oversoldUnits == 0)
    }

    @Test func aLostAcknowledgementIsReported() {
        let verdict = check(Self.soundHistory + [Self.reserve(9_000, 9_100, user: 16, .ok(reservationId: "z"))])
        #expect(kinds(verdict) == [.lostAcknowledgement])
        #expect(verdict.acknowledgedInLedger == verdict.acknowledged - 1)
    }

    @Test func anAcknowledgementThatIsNotTheLedgersIsReported() {
        var history = Self.soundHistory
        history[2].userId = 99  // the ledger has "b" for user 11
        #expect(kinds(check(history)) == [.mismatchedReservation])
    }

    @Test func aKeyAppliedTwiceIsReported() {
        let events = Self.soundEvents + [Self.reserved(7, at: 9_000, "d", user: 10, key: "k10")]
        #expect(kinds(check(Self.soundHistory, events)).contains(.duplicateKey))
    }

    @Test func anOversellIsReportedWithItsUnits() {
        let events = Self.soundEvents + [Self.reserved(7, at: 9_000, "d", user: 20), Self.reserved(8, at: 9_001, "e", user: 21)]
        let verdict = check(Self.soundHistory, events)
        #expect(kinds(verdict) == [.oversold, .oversold])
        #expect(verdict.oversoldUnits == 2)
    }

    @Test func aUserAboveTheLimitIsReported() {
        // Within the stock (2 units), but both to user 10, whose limit is 1.
        let events = Array(Self.soundEvents.prefix(2)) + [Self.reserved(3, at: 1_200, "x", user: 10)]
        #expect(kinds(check([], events)) == [.overLimit])
    }

    @Test func aRefusalTheLedgerDoesNotJustifyIsReported() {
        // Sold out at 500 ms: both units were still there; a limit refusal for a user holding nothing.
        let verdict = check(Self.soundHistory + [
            Self.reserve(400, 500, user: 30, .refused(code: "sold-out")),
            Self.reserve(7_500, 7_600, user: 31, .refused(code: "limit-exceeded")),
            Self.reserve(7_700, 7_800, user: 32, .refused(code: "ended")),
        ])
        #expect(kinds(verdict) == [.wrongRefusal, .wrongRefusal, .wrongRefusal], "\(verdict.violations)")
        // Two attempts open meanwhile, never committed (their outcome unknown), may have held both
        // units in the gate: then the refusal stands; one of them is not enough.
        let inFlight = [
            Self.reserve(300, 350, user: 40, key: "k40", .unknown(reason: "timed-out")),
            Self.reserve(450, 600, user: 40, key: "k40", .unknown(reason: "timed-out")),
            Self.reserve(300, 600, user: 41, key: "k41", .unknown(reason: "503 unavailable")),
        ]
        let refusal = Self.reserve(400, 500, user: 30, .refused(code: "sold-out"))
        #expect(check(Self.soundHistory + inFlight + [refusal]).isClean)
        #expect(kinds(check(Self.soundHistory + inFlight.prefix(2) + [refusal])) == [.wrongRefusal], "one unit was still free")
        // Within the slack of a reservation that took the last unit, the same refusal stands.
        #expect(check(Self.soundHistory + [Self.reserve(1_200, 1_250, user: 30, .refused(code: "sold-out"))]).isClean)
    }

    @Test func anAcknowledgedConfirmationTheLedgerLacksIsReported() {
        let events = Self.soundEvents.filter { if case .confirmed = $0.change { return false } else { return true } }
        #expect(kinds(check(Self.soundHistory, events)) == [.lostEnding])
    }

    @Test func anEndingOfAReservationThatWasNotOpenIsReported() {
        let events = Self.soundEvents + [Event(position: 7, recordedAtMs: 9_000, productId: 1, change: .reverted(reservationId: "b", reason: "cancelled"))]
        #expect(kinds(check(Self.soundHistory, events)) == [.invalidEnding])
    }

    @Test func theTopicMustHoldEveryPositionInOrderPerProductRepeatsAllowed() {
        let ledger: [Int64: [Int64]] = [1: [1, 3, 4], 2: [2, 5]]
        #expect(ChaosTopicCheck.check(ledger: ledger, topic: [1: [1, 3, 3, 1, 4], 2: [2, 5]]).isEmpty, "at-least-once repeats")
        #expect(ChaosTopicCheck.check(ledger: ledger, topic: [1: [1, 4, 3], 2: [2, 5]]).map(\.kind) == [.topicReordered])
        #expect(ChaosTopicCheck.check(ledger: ledger, topic: [1: [1, 3, 4], 2: [2]]).map(\.kind) == [.topicGap])
    }
}
