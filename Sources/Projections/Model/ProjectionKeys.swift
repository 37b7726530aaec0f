/// Names of the Redis read-model keys. Every key of one product carries the hash tag `{p:ID}`,
/// so a product lives in one cluster slot and each script touches one slot. Keys are built from
/// validated integers only. The generation lets `ledger replay` build a complete new copy beside
/// the live one and switch to it with one `SET`.
public struct ProjectionKeys: Sendable, Hashable {
    /// Holds the live generation number (absent: generation 1).
    public static let generationPointer = "ledger:generation"

    public let generation: Int64

    public init(generation: Int64) {
        precondition(generation > 0, "generations start at 1")
        self.generation = generation
    }

    /// Set of the product ids projected in this generation (used to enumerate, never by scripts).
    public var products: String { "ledger:g\(generation):products" }

    /// Prefix of every key of this generation, for `SCAN … MATCH` when it is dropped.
    public var pattern: String { "ledger:g\(generation):*" }

    public func product(_ productId: Int64) -> ProductKeys {
        precondition(productId > 0, "product ids are positive")
        return ProductKeys(prefix: "ledger:g\(generation):{p:\(productId)}")
    }
}

/// The keys of one product, in the order every script receives them.
public struct ProductKeys: Sendable, Hashable {
    /// Hash: sale config, `total`, `available`, `soldOut`, `applied` (ledger position).
    public let config: String
    /// Hash: user id → units held (tentative or not reverted).
    public let users: String
    /// Hash: reservation id → `status|userId|quantity|idempotencyKey`.
    public let reservations: String
    /// Hash: `userId:idempotencyKey` → reservation id.
    public let idempotencyKeys: String
    /// Sorted set: tentative reservation id → epoch ms when the gate took it.
    public let tentatives: String

    init(prefix: String) {
        config = prefix + ":product"
        users = prefix + ":users"
        reservations = prefix + ":reservations"
        idempotencyKeys = prefix + ":keys"
        tentatives = prefix + ":tentative"
    }

    public var all: [String] { [config, users, reservations, idempotencyKeys, tentatives] }
    var arguments: [RedisArgument] { all.map { RedisArgument($0) } }
}
