import Synchronization

/// How many reservation attempts are between the gate and the ledger's answer, with a cap: past
/// it an attempt is refused at once (503 `overloaded`) before it costs the gate, the writer or
/// a core. Work admitted beyond what the box clears only waits; the cap keeps that wait to about
/// `cap / throughput` however many clients send, and a refusal is cheap enough that the excess
/// of an overload does not starve the admitted.
final class AttemptsInFlight: Sendable {
    private let count = Atomic<Int>(0)
    let cap: Int

    init(cap: Int) {
        precondition(cap > 0, "a positive cap")
        self.cap = cap
    }

    /// Takes a place; false (taking none) when all are taken.
    func enter() -> Bool {
        if count.add(1, ordering: .relaxed).newValue <= cap { return true }
        count.subtract(1, ordering: .relaxed)
        return false
    }

    func leave() {
        count.subtract(1, ordering: .relaxed)
    }
}
