import Logging
import ServiceLifecycle

/// Runs a pass every `intervalMs` until graceful shutdown (which cancels the wait between
/// passes; a pass in progress finishes). A pass that fails is logged and tried again at the
/// next interval: the passes of the expiry worker and the reconciler are idempotent.
public struct PeriodicService: Service {
    private let name: String
    private let intervalMs: Int
    private let logger: Logger
    private let pass: @Sendable () async throws -> Void

    public init(name: String, intervalMs: Int, logger: Logger, pass: @escaping @Sendable () async throws -> Void) {
        precondition(intervalMs > 0, "a periodic pass needs a positive interval")
        self.name = name
        self.intervalMs = intervalMs
        self.logger = logger
        self.pass = pass
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await pass()
                } catch {
                    logger.warning("\(name) pass failed; trying again next interval", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: .milliseconds(intervalMs))
            }
        }
    }
}
