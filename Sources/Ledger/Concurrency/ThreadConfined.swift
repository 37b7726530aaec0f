/// Owns a non-thread-safe resource (a C connection handle) and its own `BlockingWorker`.
/// The resource is created, used and freed only on that worker's thread.
public final class ThreadConfined<Resource>: @unchecked Sendable {
    private let worker: BlockingWorker
    private let closedError: @Sendable () -> Error
    /// Touched only on the worker thread.
    private var resource: Resource?

    private init(worker: BlockingWorker, closedError: @escaping @Sendable () -> Error) {
        self.worker = worker
        self.closedError = closedError
    }

    /// Starts a worker thread named `name` and creates the resource on it.
    public static func open(
        name: String,
        closedError: @escaping @Sendable () -> Error,
        _ make: @escaping @Sendable () throws -> Resource
    ) async throws -> ThreadConfined {
        let confined = ThreadConfined(worker: BlockingWorker(name: name), closedError: closedError)
        do {
            try await confined.worker.run { confined.resource = try make() }
        } catch {
            confined.worker.shutdown()
            throw error
        }
        return confined
    }

    deinit {
        // The resource may only be freed on its thread; `submit` hands the last reference there.
        let box = UncheckedBox(resource)
        resource = nil
        worker.submit { _ = box.take() }
        worker.shutdown()
    }

    /// Runs `body` with the resource on its thread; throws the closed error after `close()`.
    public func run<T: Sendable>(_ body: @escaping @Sendable (Resource) throws -> T) async throws -> T {
        do {
            return try await worker.run {
                guard let resource = self.resource else { throw self.closedError() }
                return try body(resource)
            }
        } catch is BlockingWorker.StoppedError {
            throw closedError()
        }
    }

    /// Queues `body` on the resource's thread without waiting for it: for a caller that answers
    /// its own waiters there instead of hopping back to the cooperative pool first. `body` gets
    /// nil after `close()`; false when the thread has ended and `body` will never run.
    public func submit(_ body: @escaping @Sendable (Resource?) -> Void) -> Bool {
        worker.submit { body(self.resource) }
    }

    /// Frees the resource on its thread and ends the thread.
    public func close() async {
        _ = try? await worker.run { self.resource = nil }
        worker.shutdown()
    }
}

/// Moves a non-Sendable value to another thread exactly once.
private final class UncheckedBox<Value>: @unchecked Sendable {
    private var value: Value?
    init(_ value: Value?) { self.value = value }
    func take() -> Value? {
        defer { value = nil }
        return value
    }
}
