/// A product as the ledger knows it: its listing, how many units exist and how many are held.
public struct ProductState: Sendable, Hashable {
    public var listing: ProductListed
    public var streamVersion: Int64
    public var totalStock: Int64
    /// Units in reservations that were not reverted (reserved or confirmed).
    public var reservedUnits: Int64

    public var productId: Int64 { listing.productId }
    public var available: Int64 { totalStock - reservedUnits }

    public init(listing: ProductListed, streamVersion: Int64, totalStock: Int64, reservedUnits: Int64) {
        self.listing = listing
        self.streamVersion = streamVersion
        self.totalStock = totalStock
        self.reservedUnits = reservedUnits
    }
}
