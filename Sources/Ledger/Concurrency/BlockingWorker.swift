import Foundation

/// A dedicated OS thread that runs blocking C calls (libpq, hiredis, librdkafka) one at a time,
/// so they never occupy a thread of Swift's cooperative pool. One worker per connection gives
/// each connection a serial executor; callers bridge with a continuation resumed exactly once.
public final class BlockingWorker: @unchecked Sendable {
    /// Thrown by `run` once the worker has been shut down.
    public struct StoppedError: Error, CustomStringConvertible {
        public let workerName: String
        public var description: String { "worker '\(workerName)' has been shut down" }
    }

    public let name: String
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var jobsHead = 0
    private var stopping = false

    public init(name: String) {
        self.name = name
        let thread = Thread { [self] in self.loop() }
        thread.name = name
        thread.start()
    }

    /// Runs `body` on the worker thread and returns its result. The calling task is suspended,
    /// not blocked.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            let accepted = enqueue {
                continuation.resume(with: Result { try body() })
            }
            if !accepted {
                continuation.resume(throwing: StoppedError(workerName: name))
            }
        }
    }

    /// Queues `job` without waiting for it (to free C handles from `deinit`, or for a caller that
    /// hears back from the job itself).
    /// Returns false when the worker has already been shut down.
    @discardableResult
    public func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        enqueue(job)
    }

    /// Lets queued jobs finish, then ends the thread. Later `run` calls throw `StoppedError`.
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private func enqueue(_ job: @escaping () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    private func loop() {
        // Named from the thread itself, Foundation names the OS thread too (`top -H`, /proc:
        // 15 bytes); otherwise it keeps its creator's, the cooperative pool's.
        Thread.current.name = name
        while true {
            condition.lock()
            while jobsHead == jobs.count && !stopping {
                condition.wait()
            }
            if jobsHead == jobs.count {  // stopping and drained
                condition.unlock()
                return
            }
            let job = jobs[jobsHead]
            jobsHead += 1
            if jobsHead == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                jobsHead = 0
            }
            condition.unlock()
            job()
        }
    }
}
