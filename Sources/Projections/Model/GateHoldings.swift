import Ledger

/// What the gate's copy of one product holds for attempts in flight (`ProjectionScripts.holdings`),
/// read at one moment: for judging a refusal of the gate against the ledger.
public struct GateHoldings: Sendable, Equatable {
    /// One tentative of the copy: units taken for an attempt the projector has not seen committed.
    public struct Tentative: Sendable, Equatable {
        public var reservationId: ReservationID
        public var units: Int64
        /// Whether it is the user the holdings were read for.
        public var isAskedUsers: Bool

        public init(reservationId: ReservationID, units: Int64, isAskedUsers: Bool = false) {
            self.reservationId = reservationId
            self.units = units
            self.isAskedUsers = isAskedUsers
        }
    }

    /// The last ledger position the copy applied (0: none).
    public var appliedPosition: Int64
    /// When the oldest tentative was taken (nil: none).
    public var oldestTentativeMs: Int64?
    /// The tentatives (nil: too many to list). A tentative stays until the projector applies its
    /// reservation, so during a stall it also stands for reservations the ledger has committed.
    public var tentatives: [Tentative]?

    public init(appliedPosition: Int64, oldestTentativeMs: Int64?, tentatives: [Tentative]?) {
        self.appliedPosition = appliedPosition
        self.oldestTentativeMs = oldestTentativeMs
        self.tentatives = tentatives
    }

    public init(reply: RedisReply) throws {
        let fields = reply.array?.map(\.string) ?? []
        guard fields.count >= 3, let applied = fields[0].flatMap({ Int64($0) }), let count = fields[2].flatMap({ Int($0) }),
            count >= -1, fields.count == 3 + 3 * max(count, 0)
        else { throw RedisError(code: .unexpectedReply, message: "holdings answered \(reply)") }
        var tentatives = [Tentative]()
        tentatives.reserveCapacity(max(count, 0))
        for start in stride(from: 3, to: fields.count, by: 3) {
            guard let id = fields[start].flatMap(ReservationID.init), let units = fields[start + 1].flatMap({ Int64($0) }) else {
                throw RedisError(code: .unexpectedReply, message: "holdings listed a tentative as \(fields[start...(start + 2)])")
            }
            tentatives.append(Tentative(reservationId: id, units: units, isAskedUsers: fields[start + 2] == "1"))
        }
        self.init(
            appliedPosition: applied, oldestTentativeMs: fields[1].flatMap(Double.init).map { Int64($0) },
            tentatives: count < 0 ? nil : tentatives)
    }

    /// The asked user's tentatives (nil: too many to list).
    public var userTentatives: [Tentative]? { tentatives?.filter(\.isAskedUsers) }

    /// Lists at most `maxTentatives` tentatives, `userId`'s marked: one script call, bounded
    /// however many attempts died holding units.
    public static func read(
        _ keys: ProductKeys, on redis: RedisConnection, maxTentatives: Int, userId: Int64? = nil
    ) async throws -> GateHoldings {
        try GateHoldings(reply: try await redis.evaluate(
            ProjectionScripts.holdings, keys: keys.arguments,
            arguments: [RedisArgument(maxTentatives), userId.map { RedisArgument($0) } ?? RedisArgument("")]))
    }
}

extension [GateHoldings.Tentative] {
    /// Units these tentatives hold.
    public var units: Int64 { reduce(0) { $0 + $1.units } }
}
