import Foundation
import Synchronization

/// What each request of a run is. Users are drawn from the tokens by a `UserDistribution`
/// (uniform unless told); tokens are minted before the run starts, so signing never competes
/// with the load.
public final class LoadScenario: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// Reserve units of a sale of `stock` units (`limit` per user).
        case flashSale = "flash-sale"
        /// Hammer a product that is already sold out: the path the losing 99 % take.
        case soldOut = "sold-out"
        /// 70 % reservations, 20 % product reads, 5 % reservation reads, 5 % confirms or cancels.
        case mixed
    }

    public struct Request: Sendable {
        public var method: String
        public var path: String
        public var body: String?
        public var token: String
        /// Index of the user the token belongs to.
        public var user: Int
        /// A reservation attempt (its 201s are checked against the ledger).
        public var isReservation: Bool
        /// Sent as the `Idempotency-Key` header.
        public var idempotencyKey: String?

        public init(method: String, path: String, body: String?, token: String, user: Int, isReservation: Bool, idempotencyKey: String? = nil) {
            (self.method, self.path, self.body, self.token, self.user, self.isReservation) = (method, path, body, token, user, isReservation)
            self.idempotencyKey = idempotencyKey
        }
    }

    public let kind: Kind
    public let productId: Int64
    private let users: UserDistribution
    private let tokens: [String]
    private let recent = Mutex<[(user: Int, reservationId: String)]>([])

    /// `users` defaults to a uniform spread over the tokens; it must cover exactly the tokens.
    public init(kind: Kind, productId: Int64, tokens: [String], users: UserDistribution? = nil) {
        precondition(!tokens.isEmpty, "at least one user")
        let users = users ?? UserDistribution(users: tokens.count)
        precondition(users.users == tokens.count, "one token for each user of the distribution")
        self.kind = kind
        self.productId = productId
        self.tokens = tokens
        self.users = users
    }

    public func request(_ sequence: Int) -> Request {
        var generator = SplitMix(seed: UInt64(truncatingIfNeeded: sequence))
        let user = users.user(generator.next())
        let reserve = Request(
            method: "POST", path: "/v1/seckill", body: #"{"productId":\#(productId),"quantity":1}"#, token: tokens[user], user: user, isReservation: true)
        guard kind == .mixed else { return reserve }
        let roll = generator.next() % 100
        switch roll {
        case 0..<70:
            return reserve
        case 70..<90:
            return Request(method: "GET", path: "/v1/products/\(productId)", body: nil, token: tokens[user], user: user, isReservation: false)
        default:
            guard let earlier = recent.withLock({ $0.isEmpty ? nil : $0.removeLast() }) else { return reserve }
            let owner = tokens[earlier.user]
            switch roll {
            case 90..<95:
                return Request(method: "GET", path: "/v1/reservations/\(earlier.reservationId)", body: nil, token: owner, user: earlier.user, isReservation: false)
            case 95..<98:
                return Request(
                    method: "POST", path: "/v1/reservations/\(earlier.reservationId)/confirm", body: #"{"paymentRef":"bench-\#(sequence)"}"#,
                    token: owner, user: earlier.user, isReservation: false)
            default:
                return Request(method: "POST", path: "/v1/reservations/\(earlier.reservationId)/cancel", body: nil, token: owner, user: earlier.user, isReservation: false)
            }
        }
    }

    /// Remembers a new reservation for the mixed scenario's follow-up requests (the last 10,000).
    public func reserved(_ reservationId: String, user: Int) {
        guard kind == .mixed else { return }
        recent.withLock { recent in
            if recent.count >= 10_000 { recent.removeFirst(recent.count / 2) }
            recent.append((user, reservationId))
        }
    }
}

/// A small deterministic generator: request `n` of a run is the same every run.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
