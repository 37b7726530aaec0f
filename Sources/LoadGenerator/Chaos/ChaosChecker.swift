/// Checks a chaos run's history against what the ledger holds, independently of the server's
/// own audit (it shares no code with it): every acknowledged order is in the ledger as
/// acknowledged, no idempotency key was applied twice, stock and per-user limits held at every
/// position, and every refusal agrees with the ledger's state while the request was open.
public enum ChaosChecker {
    /// `slackMs` widens each request's window for the refusal checks: the server decides from
    /// state a batch read a little before it committed, on a clock a little off the client's.
    public static func check(_ history: [ChaosOperation], against facts: ChaosLedgerFacts, slackMs: Int64 = 1_000) -> ChaosVerdict {
        let timeline = ChaosTimeline(facts)
        let uncommitted = uncommittedAttempts(history, timeline)
        var verdict = ChaosVerdict()
        verdict.violations += timeline.violations
        verdict.oversoldUnits = timeline.oversoldUnits
        for operation in history {
            switch (operation.kind, operation.outcome) {
            case (.reserve, .ok(let id)):
                verdict.acknowledged += 1
                guard let reservation = timeline.reservations[id] else {
                    verdict.violations.append(.init(.lostAcknowledgement, "reservation \(id) was acknowledged but is not in the ledger", atMs: operation.startMs))
                    continue
                }
                verdict.acknowledgedInLedger += 1
                if reservation.productId != operation.productId || reservation.userId != operation.userId
                    || reservation.quantity != operation.quantity || (operation.idempotencyKey != nil && reservation.idempotencyKey != operation.idempotencyKey)
                {
                    verdict.violations.append(.init(
                        .mismatchedReservation, "reservation \(id) in the ledger is not the one acknowledged: \(reservation) for \(operation)", atMs: operation.startMs))
                }
            case (.reserve, .unknown):
                guard let key = operation.idempotencyKey else { continue }
                if timeline.keys[ChaosTimeline.KeyOwner(userId: operation.userId, key: key)] == nil {
                    verdict.unknownNotCommitted += 1
                } else {
                    verdict.unknownCommitted += 1
                }
            case (.reserve, .refused(let code)):
                let from = operation.startMs - slackMs, until = operation.endMs + slackMs
                let unitsInFlight = uncommitted.filter {
                    $0.productId == operation.productId && $0.key != ChaosTimeline.KeyOwner(userId: operation.userId, key: operation.idempotencyKey ?? "")
                        && $0.startMs <= until && $0.endMs >= from
                }.reduce(0) { $0 + $1.quantity }
                if let problem = timeline.judgeRefusal(code, of: operation, slackMs: slackMs, unitsInFlight: unitsInFlight) {
                    verdict.violations.append(.init(.wrongRefusal, problem, atMs: operation.startMs))
                }
            case (.confirm, .ok), (.cancel, .ok):
                let id = operation.reservationId ?? ""
                let expected = operation.kind == .confirm ? "confirmed" : "cancelled"
                if timeline.endings[id] != expected {
                    verdict.violations.append(.init(
                        .lostEnding, "reservation \(id): \(expected) was acknowledged, the ledger says \(timeline.endings[id] ?? "not ended")",
                        atMs: operation.startMs))
                }
            case (.confirm, _), (.cancel, _):
                continue
            }
            if operation.outcome.isServerError {
                verdict.violations.append(.init(.serverError, "\(operation.kind.rawValue) answered \(operation.outcome)", atMs: operation.startMs))
            }
        }
        return verdict
    }

    /// A reservation whose outcome its client never learned and that the ledger never took:
    /// while it was open (all its attempts, from the first start to the last end) the gate may
    /// have held its units for it, and a refusal in that time may rest on them.
    private struct UncommittedAttempt {
        let key: ChaosTimeline.KeyOwner
        let productId: Int64
        let quantity: Int64
        var startMs: Int64
        var endMs: Int64
    }

    private static func uncommittedAttempts(_ history: [ChaosOperation], _ timeline: ChaosTimeline) -> [UncommittedAttempt] {
        var attempts = [ChaosTimeline.KeyOwner: UncommittedAttempt]()
        for operation in history where operation.kind == .reserve {
            guard case .unknown = operation.outcome, let key = operation.idempotencyKey else { continue }
            let owner = ChaosTimeline.KeyOwner(userId: operation.userId, key: key)
            guard timeline.keys[owner] == nil else { continue }
            var attempt = attempts[owner]
                ?? UncommittedAttempt(key: owner, productId: operation.productId, quantity: operation.quantity, startMs: operation.startMs, endMs: operation.endMs)
            attempt.startMs = min(attempt.startMs, operation.startMs)
            attempt.endMs = max(attempt.endMs, operation.endMs)
            attempts[owner] = attempt
        }
        return Array(attempts.values)
    }
}
