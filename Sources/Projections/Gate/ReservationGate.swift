import Ledger

/// The Redis gate of the write path: one atomic script per attempt, pipelined with the
/// attempts of concurrent requests, and its undo for attempts the ledger refused.
public struct ReservationGate: Sendable {
    private let pool: RedisPipelinePool
    private let generation: ProjectionGeneration

    public init(pool: RedisPipelinePool, generation: ProjectionGeneration) {
        self.pool = pool
        self.generation = generation
    }

    /// Takes `quantity` units tentatively for `reservationId` unless the read model says no.
    public func reserve(
        productId: Int64, userId: Int64, quantity: Int64, reservationId: UUIDString, idempotencyKey: String?, now: Timestamp
    ) async throws -> GateDecision {
        try GateDecision(reply: try await pool.evaluate(try await reserveCall(productId, userId, quantity, reservationId, idempotencyKey, now)))
    }

    /// The gate call for an attempt, against the live read-model generation; `reserve(_:onDecision:)`
    /// sends it.
    public func attempt(
        productId: Int64, userId: Int64, quantity: Int64, reservationId: UUIDString, idempotencyKey: String?, now: Timestamp
    ) async throws -> GateAttempt {
        GateAttempt(call: try await reserveCall(productId, userId, quantity, reservationId, idempotencyKey, now))
    }

    /// Like `reserve`, but hands the decision to `onDecision`, exactly once, on the Redis
    /// connection's thread, so the caller's next step (the ledger append) starts there without a
    /// hop back to its task.
    public func reserve(_ attempt: GateAttempt, onDecision: @escaping @Sendable (Result<GateDecision, Error>) -> Void) {
        pool.evaluate(attempt.call) { reply in
            onDecision(Result { try GateDecision(reply: try reply.get().orThrow()) })
        }
    }

    private func reserveCall(
        _ productId: Int64, _ userId: Int64, _ quantity: Int64, _ reservationId: UUIDString, _ idempotencyKey: String?, _ now: Timestamp
    ) async throws -> RedisScriptCall {
        let keys = try await generation.current().product(productId)
        return RedisScriptCall(
            ProjectionScripts.gate, keys: keys.arguments,
            arguments: [
                RedisArgument(userId), RedisArgument(quantity), RedisArgument(reservationId),
                RedisArgument(idempotencyKey ?? ""), RedisArgument(now.epochMs),
            ])
    }

    /// Gives a tentative's units back. Idempotent; true when there was a tentative to undo.
    @discardableResult
    public func rollback(productId: Int64, reservationId: UUIDString) async throws -> Bool {
        let keys = try await generation.current().product(productId)
        let reply = try await pool.evaluate(RedisScriptCall(
            ProjectionScripts.rollback, keys: keys.arguments, arguments: [RedisArgument(reservationId)]))
        return reply.integer == 1
    }
}
