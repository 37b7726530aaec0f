import Ledger

extension ProjectedProduct {
    /// Reads one product's read model in one round trip.
    public static func read(_ keys: ProductKeys, on redis: RedisConnection) async throws -> ProjectedProduct {
        let replies = try await redis.pipeline([
            ["HGETALL", RedisArgument(keys.config)], ["HGETALL", RedisArgument(keys.users)],
            ["HGETALL", RedisArgument(keys.reservations)], ["HGETALL", RedisArgument(keys.idempotencyKeys)],
            ["ZRANGE", RedisArgument(keys.tentatives), "0", "-1", "WITHSCORES"],
        ]).map { try $0.orThrow() }
        var product = ProjectedProduct()
        product.config = try fieldMap(replies[0])
        product.users = try fieldMap(replies[1])
        product.reservations = try fieldMap(replies[2])
        product.idempotencyKeys = try fieldMap(replies[3])
        product.tentatives = try fieldMap(replies[4]).compactMapValues { Int64($0) }
        return product
    }

    /// Reads only the sale config hash (the other hashes grow with the sale's users).
    public static func readConfig(_ keys: ProductKeys, on redis: RedisConnection) async throws -> [String: String] {
        try fieldMap(try await redis.command(["HGETALL", RedisArgument(keys.config)]).orThrow())
    }

    private static func fieldMap(_ reply: RedisReply) throws -> [String: String] {
        guard let elements = reply.array, elements.count % 2 == 0 else {
            throw RedisError(code: .unexpectedReply, message: "expected field/value pairs")
        }
        var map = [String: String](minimumCapacity: elements.count / 2)
        var index = 0
        while index < elements.count {
            guard let field = elements[index].string, let value = elements[index + 1].string else {
                throw RedisError(code: .unexpectedReply, message: "expected bulk strings")
            }
            map[field] = value
            index += 2
        }
        return map
    }
}

/// The hashes of one product's read model.
public enum ProjectionHash: Sendable, CaseIterable {
    case config, users, reservations, idempotencyKeys

    func key(_ keys: ProductKeys) -> String {
        switch self {
        case .config: return keys.config
        case .users: return keys.users
        case .reservations: return keys.reservations
        case .idempotencyKeys: return keys.idempotencyKeys
        }
    }
}

extension LedgerSnapshot {
    /// Every field of the read model these events produce, once the projector has applied
    /// everything and no tentative is open. The one definition behind both `expectedProjection`
    /// (audits) and replay's writes.
    public func forEachExpectedField(_ body: (_ productId: Int64, _ hash: ProjectionHash, _ field: String, _ value: String) throws -> Void) rethrows {
        for (productId, product) in folded.products {
            for (field, value) in ProjectedProduct(expected: product, appliedPosition: lastPositions[productId] ?? 0).config {
                try body(productId, .config, field, value)
            }
        }
        for reservation in folded.reservations.values where folded.products[reservation.productId] != nil {
            let key = reservation.idempotencyKey ?? ""
            try body(
                reservation.productId, .reservations, reservation.reservationId.text,
                ProjectedProduct.record(status: reservation.status.rawValue, userId: reservation.userId, quantity: reservation.quantity, key: key))
            if !key.isEmpty {
                try body(reservation.productId, .idempotencyKeys, String(reservation.userId) + ":" + key, reservation.reservationId.text)
            }
        }
        for (key, quantity) in folded.purchases where quantity != 0 && folded.products[key.productId] != nil {
            try body(key.productId, .users, String(key.userId), String(quantity))
        }
    }

    /// Per product, the read model these events produce.
    public func expectedProjection() -> [Int64: ProjectedProduct] {
        var expected = [Int64: ProjectedProduct](minimumCapacity: folded.products.count)
        forEachExpectedField { productId, hash, field, value in
            switch hash {
            case .config: expected[productId, default: ProjectedProduct()].config[field] = value
            case .users: expected[productId, default: ProjectedProduct()].users[field] = value
            case .reservations: expected[productId, default: ProjectedProduct()].reservations[field] = value
            case .idempotencyKeys: expected[productId, default: ProjectedProduct()].idempotencyKeys[field] = value
            }
        }
        return expected
    }
}
