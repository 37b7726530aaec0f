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
        let keys = try await generation.current().product(productId)
        let reply = try await pool.evaluate(RedisScriptCall(
            ProjectionScripts.gate, keys: keys.arguments,
            arguments: [
                RedisArgument(userId), RedisArgument(quantity), RedisArgument(reservationId),
                RedisArgument(idempotencyKey ?? ""), RedisArgument(now.epochMs),
            ]))
        return try GateDecision(reply: reply)
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
