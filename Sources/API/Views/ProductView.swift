import Ledger

/// A product as the API shows it: its sale config, live availability and sale state.
struct ProductView: Codable, Sendable, Equatable {
    var id: Int64
    var name: String
    var priceMinor: Int64
    var currency: String
    var stock: Int64
    var startsAt: String
    var endsAt: String
    var limitPerUser: Int64
    var reservationTTLSeconds: Int64
    var available: Int64
    /// upcoming · open · sold-out · ended
    var state: String

    init(_ product: ProductState, available: Int64, now: Timestamp) {
        let listing = product.listing
        id = listing.productId
        name = listing.name
        priceMinor = listing.priceMinor
        currency = listing.currency
        stock = product.totalStock
        startsAt = listing.startsAt.iso8601
        endsAt = listing.endsAt.iso8601
        limitPerUser = listing.limitPerUser
        reservationTTLSeconds = listing.reservationTTLSeconds
        self.available = max(available, 0)
        if now < listing.startsAt {
            state = "upcoming"
        } else if now >= listing.endsAt {
            state = "ended"
        } else {
            state = available <= 0 ? "sold-out" : "open"
        }
    }
}

/// The body of `POST /v1/products`.
struct ProductListingRequest: Codable, Sendable {
    var id: Int64
    var name: String
    var priceMinor: Int64
    var currency: String
    var stock: Int64
    var startsAt: String
    var endsAt: String
    var limitPerUser: Int64
    var reservationTTLSeconds: Int64
}

struct StockRequest: Codable, Sendable {
    var quantity: Int64
}
