import Ledger
import Synchronization

/// How many reservation attempts are between the gate and the ledger's answer, with a cap: past
/// it an attempt is refused at once (503 `overloaded`) before it costs the gate, the writer or
/// a core. Work admitted beyond what the box clears only waits; the cap keeps that wait to about
/// `cap / throughput` however many clients send, and a refusal is cheap enough that the excess
/// of an overload does not starve the admitted. An adapting cap (`InFlightLimit`) also follows
/// the throughput, which an overload lowers.
final class AttemptsInFlight: Sendable {
    private let count = Atomic<Int>(0)
    private let currentCap: Atomic<Int>
    private let limit: Mutex<InFlightLimit>

    /// A fixed cap.
    convenience init(cap: Int) {
        self.init(adapting: InFlightLimit(floor: cap, ceiling: cap, targetMs: 1, windowMs: 1))
    }

    /// A cap that starts at the limit's ceiling and follows the answers `answered` reports.
    init(adapting limit: InFlightLimit) {
        currentCap = Atomic(limit.value)
        self.limit = Mutex(limit)
    }

    var cap: Int { currentCap.load(ordering: .relaxed) }

    /// Takes a place; false (taking none) when all are taken.
    func enter() -> Bool {
        if count.add(1, ordering: .relaxed).newValue <= cap { return true }
        count.subtract(1, ordering: .relaxed)
        return false
    }

    func leave() {
        count.subtract(1, ordering: .relaxed)
    }

    /// An admitted attempt had the ledger's answer `latency` after it entered.
    func answered(after latency: Duration) {
        let value = limit.withLock { limit in
            limit.observe(latency: latency, at: .now)
            return limit.value
        }
        currentCap.store(value, ordering: .relaxed)
    }
}
