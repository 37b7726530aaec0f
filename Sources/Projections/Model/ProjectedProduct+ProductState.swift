import Ledger

extension ProjectedProduct {
    /// The product as a read model's config hash knows it (`readConfig`), for reads while the
    /// ledger does not answer; nil when the hash lacks the listing (not projected yet, or the
    /// model was lost). The listing's `stock` is the total so far and `streamVersion` is unknown
    /// (0): the read model keeps neither. `available` counts open tentatives, as the gate does.
    public static func productState(productId: Int64, config: [String: String]) -> ProductState? {
        func number(_ field: String) -> Int64? { config[field].flatMap { Int64($0) } }
        guard let name = config["name"], let currency = config["currency"], let priceMinor = number("priceMinor"),
            let startsAtMs = number("startsAtMs"), let endsAtMs = number("endsAtMs"), let limitPerUser = number("limitPerUser"),
            let ttlSeconds = number("reservationTTLSeconds"), let total = number("total"), let available = number("available")
        else { return nil }
        let listing = ProductListed(
            productId: productId, name: name, priceMinor: priceMinor, currency: currency, stock: total,
            startsAt: Timestamp(epochMs: startsAtMs), endsAt: Timestamp(epochMs: endsAtMs), limitPerUser: limitPerUser,
            reservationTTLSeconds: ttlSeconds)
        return ProductState(listing: listing, streamVersion: 0, totalStock: total, reservedUnits: total - available)
    }
}
