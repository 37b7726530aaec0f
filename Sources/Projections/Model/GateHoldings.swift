import Ledger

/// What the gate's copy of one product holds for attempts in flight (`ProjectionScripts.holdings`),
/// read at one moment: for judging a refusal of the gate against the ledger.
public struct GateHoldings: Sendable, Equatable {
    /// The last ledger position the copy applied (0: none).
    public var appliedPosition: Int64
    /// When the oldest tentative was taken (nil: none).
    public var oldestTentativeMs: Int64?
    /// Units all tentatives hold (nil: too many tentatives to sum).
    public var tentativeUnits: Int64?
    /// Units the tentatives of the user asked about hold (nil: too many tentatives to sum; 0
    /// when no user was asked about).
    public var userTentativeUnits: Int64?

    public init(appliedPosition: Int64, oldestTentativeMs: Int64?, tentativeUnits: Int64?, userTentativeUnits: Int64? = 0) {
        self.appliedPosition = appliedPosition
        self.oldestTentativeMs = oldestTentativeMs
        self.tentativeUnits = tentativeUnits
        self.userTentativeUnits = userTentativeUnits
    }

    public init(reply: RedisReply) throws {
        guard let fields = reply.array?.map(\.string), fields.count == 4,
            let applied = fields[0].flatMap({ Int64($0) }), let units = fields[2].flatMap({ Int64($0) }),
            let userUnits = fields[3].flatMap({ Int64($0) })
        else { throw RedisError(code: .unexpectedReply, message: "holdings answered \(reply)") }
        self.init(
            appliedPosition: applied, oldestTentativeMs: fields[1].flatMap(Double.init).map { Int64($0) },
            tentativeUnits: units < 0 ? nil : units, userTentativeUnits: userUnits < 0 ? nil : userUnits)
    }

    /// Sums at most `maxTentatives` tentatives, and those of `userId` apart: one script call,
    /// bounded however many attempts died holding units.
    public static func read(
        _ keys: ProductKeys, on redis: RedisConnection, maxTentatives: Int, userId: Int64? = nil
    ) async throws -> GateHoldings {
        try GateHoldings(reply: try await redis.evaluate(
            ProjectionScripts.holdings, keys: keys.arguments,
            arguments: [RedisArgument(maxTentatives), userId.map { RedisArgument($0) } ?? RedisArgument("")]))
    }
}
