/// When the running relay reads its next batch and when it writes its checkpoint. Pure, so the
/// rules are tested without servers.
///
/// Every round costs the same fixed work (a read of the log, a produce round trip to the
/// brokers) whatever it carries, and a checkpoint write costs a commit with its own WAL flush,
/// competing with the writer's. Under moderate load a relay that read again at once would pay
/// those per handful of events on the cores the requests need; so after a round that was not
/// full the next one starts no sooner than `minRoundInterval` after it did (more events gather
/// meanwhile, as in the writer's group commit; a cheaper round must not mean more rounds), and the
/// delivered position is written at most every `checkpointInterval` while events keep coming,
/// and at once when the relay has caught up. A crash republishes at most what was delivered
/// since the last write; consumers skip positions they have applied (at-least-once, as before).
struct RelayCadence: Sendable {
    enum NextRound: Equatable, Sendable {
        /// A full batch: the relay is behind, read on.
        case now
        /// A partial batch: let the next events gather for `delay`.
        case after(delay: Duration)
        /// Caught up: sleep until a NOTIFY or the poll interval.
        case whenNotified
    }

    let batchSize: Int
    let minRoundInterval: Duration
    let checkpointInterval: Duration

    /// After a round that started at `roundStart` and delivered `delivered` events.
    func nextRound(afterDelivering delivered: Int, roundStart: ContinuousClock.Instant, now: ContinuousClock.Instant) -> NextRound {
        if delivered == 0 { return .whenNotified }
        let remaining = minRoundInterval - (now - roundStart)
        if delivered >= batchSize || remaining <= .zero { return .now }
        return .after(delay: remaining)
    }

    /// Whether to write the delivered position after a round that delivered `delivered` events,
    /// when the oldest delivery not yet written happened at `unsavedSince`.
    func savesCheckpoint(afterDelivering delivered: Int, unsavedSince: ContinuousClock.Instant, now: ContinuousClock.Instant) -> Bool {
        delivered == 0 || now - unsavedSince >= checkpointInterval
    }
}
