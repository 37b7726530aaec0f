import Synchronization

/// A bounded queue that one consumer drains in batches: producers append (refused when the
/// queue is full or closed), the consumer waits for work and takes up to a batch at once. The
/// core of the group-commit writer, whose batches wait for company and run as async transactions.
public final class BatchingQueue<Element: Sendable>: Sendable {
    public enum Refusal: Error, Sendable, Equatable {
        case closed
        /// Holds this many waiting elements already.
        case full(depth: Int)
    }

    private struct State {
        var pending: [Element] = []
        var wakeUp: CheckedContinuation<Void, Never>?
        var closed = false
    }

    private let maxDepth: Int
    private let state = Mutex(State())

    public init(maxDepth: Int) {
        precondition(maxDepth > 0, "a queue holds at least one element")
        self.maxDepth = maxDepth
    }

    /// Appends `element` and wakes the consumer, or says why not.
    public func enqueue(_ element: Element) -> Refusal? {
        state.withLock { state in
            if state.closed { return .closed }
            if state.pending.count >= maxDepth { return .full(depth: state.pending.count) }
            state.pending.append(element)
            state.wakeUp?.resume()
            state.wakeUp = nil
            return nil
        }
    }

    /// Returns once there is an element or the queue is closed (one consumer at a time).
    public func waitForWork() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            state.withLock { state in
                if state.pending.isEmpty && !state.closed {
                    state.wakeUp = continuation
                } else {
                    continuation.resume()
                }
            }
        }
    }

    /// Up to `maxCount` oldest elements; nil once the queue is closed and drained.
    public func take(max maxCount: Int) -> [Element]? {
        state.withLock { state in
            if state.pending.isEmpty { return state.closed ? nil : [] }
            return state.pending.removeBatch(max: maxCount)
        }
    }

    /// The oldest element and how many wait (for batching decisions).
    public func peek() -> (oldest: Element?, count: Int) {
        state.withLock { ($0.pending.first, $0.pending.count) }
    }

    /// Refuses new elements; the consumer still takes what is queued, then gets nil.
    public func close() {
        state.withLock { state in
            state.closed = true
            state.wakeUp?.resume()
            state.wakeUp = nil
        }
    }
}
