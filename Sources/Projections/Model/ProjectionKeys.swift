/// Names of the Redis read-model keys. Every key of one product carries the hash tag `{p:ID}`,
/// so a product lives in one cluster slot and each script touches one slot. Keys are built from
/// validated integers only. The generation lets `ledger replay` build a complete new copy beside
/// the live one and switch to it with one `SET`. The namespace lets several ledgers (or
/// parallel tests) share one Redis.
public struct ProjectionKeys: Sendable, Hashable {
    public static let defaultNamespace = "ledger"

    public let namespace: String
    public let generation: Int64

    public init(namespace: String = defaultNamespace, generation: Int64) {
        precondition(generation > 0, "generations start at 1")
        self.namespace = namespace
        self.generation = generation
    }

    /// Holds the live generation number (absent: generation 1).
    public static func generationPointer(namespace: String) -> String { "\(namespace):generation" }

    /// Held by a running replay.
    public static func replayLock(namespace: String) -> String { "\(namespace):replay:lock" }

    /// The keys of the generation after this one.
    public var next: ProjectionKeys { ProjectionKeys(namespace: namespace, generation: generation + 1) }

    /// Set of the product ids projected in this generation (used to enumerate, never by scripts).
    public var products: String { "\(namespace):g\(generation):products" }

    /// Prefix of every key of this generation, for `SCAN … MATCH` when it is dropped.
    public var pattern: String { "\(namespace):g\(generation):*" }

    public func product(_ productId: Int64) -> ProductKeys {
        precondition(productId > 0, "product ids are positive")
        return ProductKeys(prefix: "\(namespace):g\(generation):{p:\(productId)}")
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
