import Ledger

/// One product's read model as plain field maps, exactly as the Redis hashes hold them. Used to
/// write a replay, to read the live model back, and to compare the two byte for byte.
public struct ProjectedProduct: Sendable, Hashable {
    public var config: [String: String] = [:]
    public var users: [String: String] = [:]
    public var reservations: [String: String] = [:]
    public var idempotencyKeys: [String: String] = [:]
    /// Tentative reservation id → epoch ms when the gate took it.
    public var tentatives: [String: Int64] = [:]

    public init() {}

    /// The sale config part of the model the events of `product` produce once everything up to
    /// `appliedPosition` (the product's last event) is applied.
    public init(expected product: ProductState, appliedPosition: Int64) {
        let listing = product.listing
        config = [
            "name": listing.name, "priceMinor": String(listing.priceMinor), "currency": listing.currency,
            "startsAtMs": String(listing.startsAt.epochMs), "endsAtMs": String(listing.endsAt.epochMs),
            "limitPerUser": String(listing.limitPerUser), "reservationTTLSeconds": String(listing.reservationTTLSeconds),
            "total": String(product.totalStock), "available": String(product.available),
            "soldOut": product.available <= 0 ? "1" : "0", "applied": String(appliedPosition),
        ]
    }

    static func record(status: String, userId: Int64, quantity: Int64, key: String) -> String {
        var record = status
        record.reserveCapacity(status.utf8.count + key.utf8.count + 24)
        record += "|"
        record += String(userId)
        record += "|"
        record += String(quantity)
        record += "|"
        record += key
        return record
    }

    /// This model with the effects of its open tentatives taken out: what it will be once each
    /// is either confirmed by its ledger event or rolled back. Tentatives whose record already
    /// says otherwise are ignored.
    public func withoutTentatives() -> ProjectedProduct {
        var copy = self
        copy.tentatives = [:]
        for id in tentatives.keys {
            guard let record = reservations[id] else { continue }
            let fields = record.split(separator: "|", maxSplits: 3, omittingEmptySubsequences: false)
            guard fields.count == 4, fields[0] == "tentative", let quantity = Int64(fields[2]) else { continue }
            let user = String(fields[1])
            copy.reservations[id] = nil
            if let available = copy.config["available"].flatMap({ Int64($0) }) {
                copy.config["available"] = String(available + quantity)
                copy.config["soldOut"] = available + quantity <= 0 ? "1" : "0"
            }
            let held = (copy.users[user].flatMap { Int64($0) } ?? 0) - quantity
            copy.users[user] = held == 0 ? nil : String(held)
            let keyField = "\(user):\(fields[3])"
            if !fields[3].isEmpty, copy.idempotencyKeys[keyField] == id { copy.idempotencyKeys[keyField] = nil }
        }
        return copy
    }

    /// Every field where `actual` differs from this (expected) model.
    public func differences(from actual: ProjectedProduct, productId: Int64) -> [AuditDifference] {
        var found = [AuditDifference]()
        func compare(_ what: String, _ expected: [String: String], _ actual: [String: String]) {
            for field in Set(expected.keys).union(actual.keys).sorted() where expected[field] != actual[field] {
                found.append(AuditDifference(
                    source: "redis", subject: "product \(productId) \(what) \(field)",
                    ledger: expected[field] ?? "missing", other: actual[field] ?? "missing"))
            }
        }
        compare("config", config, actual.config)
        compare("user", users, actual.users)
        compare("reservation", reservations, actual.reservations)
        compare("idempotency key", idempotencyKeys, actual.idempotencyKeys)
        return found
    }
}
