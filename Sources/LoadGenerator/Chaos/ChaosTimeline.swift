/// The ledger's facts folded in ledger order: each reservation, how each ended, and per product
/// what was left (and per user what was held) after each event, with the time it was recorded;
/// the invariants that must hold at every position are checked on the way.
struct ChaosTimeline {
    struct KeyOwner: Hashable {
        let userId: Int64
        let key: String
    }

    struct Reservation: Hashable {
        let productId: Int64
        let userId: Int64
        let quantity: Int64
        let idempotencyKey: String?
    }

    /// A value and the time from which it held.
    struct Step: Hashable {
        let atMs: Int64
        let value: Int64
    }

    private(set) var reservations: [String: Reservation] = [:]
    /// Reservation id → `confirmed`, or the reason it was reverted.
    private(set) var endings: [String: String] = [:]
    private(set) var keys: [KeyOwner: String] = [:]
    private(set) var violations: [ChaosViolation] = []
    private(set) var oversoldUnits: Int64 = 0
    private var available: [Int64: [Step]] = [:]
    private var held: [Int64: [Int64: [Step]]] = [:]
    private let products: [Int64: ChaosLedgerFacts.Product]

    init(_ facts: ChaosLedgerFacts) {
        products = Dictionary(facts.products.map { ($0.productId, $0) }, uniquingKeysWith: { first, _ in first })
        var total: [Int64: Int64] = [:], reserved: [Int64: Int64] = [:]
        var holding: [Int64: [Int64: Int64]] = [:]
        for event in facts.events.sorted(by: { $0.position < $1.position }) {
            let product = event.productId
            var user: Int64?
            switch event.change {
            case .stock(let quantity):
                total[product, default: 0] += quantity
            case .reserved(let id, let userId, let quantity, let key):
                reservations[id] = Reservation(productId: product, userId: userId, quantity: quantity, idempotencyKey: key)
                if let key {
                    let owner = KeyOwner(userId: userId, key: key)
                    if let first = keys[owner] {
                        violations.append(.init(.duplicateKey, "user \(userId)'s key \(key) names two reservations: \(first) and \(id)", atMs: event.recordedAtMs))
                    } else {
                        keys[owner] = id
                    }
                }
                reserved[product, default: 0] += quantity
                holding[product, default: [:]][userId, default: 0] += quantity
                user = userId
            case .reverted(let id, let reason):
                guard let reservation = reservations[id], endings[id] == nil else {
                    violations.append(.init(.invalidEnding, "reservation \(id) reverted at position \(event.position) without being open", atMs: event.recordedAtMs))
                    continue
                }
                endings[id] = reason
                reserved[product, default: 0] -= reservation.quantity
                holding[product, default: [:]][reservation.userId, default: 0] -= reservation.quantity
                user = reservation.userId
            case .confirmed(let id):
                if reservations[id] == nil || endings[id] != nil {
                    violations.append(.init(.invalidEnding, "reservation \(id) confirmed at position \(event.position) without being open", atMs: event.recordedAtMs))
                }
                endings[id] = endings[id] ?? "confirmed"
                continue
            }
            let left = total[product, default: 0] - reserved[product, default: 0]
            if left < 0 {
                oversoldUnits = max(oversoldUnits, -left)
                violations.append(.init(.oversold, "product \(product): \(-left) units beyond the stock at position \(event.position)", atMs: event.recordedAtMs, units: -left))
            }
            available[product, default: []].append(Step(atMs: event.recordedAtMs, value: left))
            if let user {
                let units = holding[product]?[user] ?? 0
                held[product, default: [:]][user, default: []].append(Step(atMs: event.recordedAtMs, value: units))
                if let limit = products[product]?.limitPerUser, units > limit {
                    violations.append(.init(.overLimit, "user \(user) holds \(units) of product \(product) (limit \(limit)) at position \(event.position)", atMs: event.recordedAtMs))
                }
            }
        }
    }

    /// Why a refusal with `code` contradicts the ledger while `operation` was open, or nil when
    /// the ledger's state at some moment of its window (widened by `slackMs`) justifies it.
    /// Codes about the request or the server's load (`rate-limited`, `overloaded`, `invalid` …)
    /// are not the ledger's to judge. `unitsInFlight`: units other open attempts, never committed,
    /// may have held meanwhile (the gate counts units as taken from the attempt, not the commit).
    func judgeRefusal(_ code: String, of operation: ChaosOperation, slackMs: Int64, unitsInFlight: Int64 = 0) -> String? {
        let from = operation.startMs - slackMs, until = operation.endMs + slackMs
        let product = operation.productId
        switch code {
        case "sold-out":
            let lowest = Self.lowest(available[product] ?? [], from: from, until: until)
            guard lowest - unitsInFlight >= operation.quantity else { return nil }
            return "sold-out for \(operation.quantity) of product \(product), but at least \(lowest) were left from \(from) to \(until) ms"
                + (unitsInFlight > 0 ? " (\(unitsInFlight) of them perhaps held by attempts never committed)" : "")
        case "limit-exceeded":
            guard let limit = products[product]?.limitPerUser, operation.quantity <= limit else { return nil }
            let highest = Self.highest(held[product]?[operation.userId] ?? [], from: from, until: until)
            guard highest + operation.quantity <= limit else { return nil }
            return "limit-exceeded for user \(operation.userId) on product \(product), who held at most \(highest) of \(limit) meanwhile"
        case "not-started":
            guard let sale = products[product], from >= sale.startsAtMs else { return nil }
            return "not-started for product \(product), whose sale started at \(sale.startsAtMs) ms"
        case "ended":
            guard let sale = products[product], until < sale.endsAtMs else { return nil }
            return "ended for product \(product), whose sale ends at \(sale.endsAtMs) ms"
        default:
            return nil
        }
    }

    /// The least value a step function (0 before its first step) takes in [from, until].
    private static func lowest(_ steps: [Step], from: Int64, until: Int64) -> Int64 {
        values(steps, from: from, until: until).min() ?? 0
    }

    private static func highest(_ steps: [Step], from: Int64, until: Int64) -> Int64 {
        values(steps, from: from, until: until).max() ?? 0
    }

    /// The value in force at `from`, and every value set in (from, until].
    private static func values(_ steps: [Step], from: Int64, until: Int64) -> [Int64] {
        var atStart: Int64 = 0
        var inside = [Int64]()
        for step in steps {
            if step.atMs <= from {
                atStart = step.value
            } else if step.atMs <= until {
                inside.append(step.value)
            }
        }
        return [atStart] + inside
    }
}
