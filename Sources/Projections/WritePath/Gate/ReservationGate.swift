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
        productId: Int64, userId: Int64, quantity: Int64, reservationId: ReservationID, idempotencyKey: String?, now: Timestamp
    ) async throws -> GateDecision {
        let reserve = LedgerCommand.Reserve(
            reservationId: reservationId, productId: productId, userId: userId, quantity: quantity, idempotencyKey: idempotencyKey)
        return try GateDecision(reply: try await pool.evaluate(try await attempt(reserve, now: now).call))
    }

    /// The gate call for a reservation attempt, against the live read-model generation;
    /// `reserve(_:onDecision:)` sends it.
    public func attempt(_ reserve: LedgerCommand.Reserve, now: Timestamp) async throws -> GateAttempt {
        let keys = try await generation.current().product(reserve.productId)
        return GateAttempt(call: RedisScriptCall(
            ProjectionScripts.gate, keys: keys.arguments,
            arguments: [
                RedisArgument(reserve.userId), RedisArgument(reserve.quantity), RedisArgument(reserve.reservationId.text),
                RedisArgument(reserve.idempotencyKey ?? ""), RedisArgument(now.epochMs),
            ]))
    }

    /// Like `reserve`, but hands the decision to `onDecision`, exactly once, on the Redis
    /// connection's thread, so the caller's next step (the ledger append) starts there without a
    /// hop back to its task.
    public func reserve(_ attempt: GateAttempt, onDecision: @escaping @Sendable (Result<GateDecision, Error>) -> Void) {
        pool.evaluate(attempt.call) { reply in
            onDecision(Result { try GateDecision(reply: try reply.get().orThrow()) })
        }
    }

    /// Gives a tentative's units back. Idempotent; true when there was a tentative to undo.
    @discardableResult
    public func rollback(productId: Int64, reservationId: ReservationID) async throws -> Bool {
        let keys = try await generation.current().product(productId)
        let reply = try await pool.evaluate(RedisScriptCall(
            ProjectionScripts.rollback, keys: keys.arguments, arguments: [RedisArgument(reservationId.text)]))
        return reply.integer == 1
    }
}
