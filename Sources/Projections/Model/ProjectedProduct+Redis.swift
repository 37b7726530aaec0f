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

    /// `HSET`/`ZADD` commands that write this model into empty keys, at most `chunk` fields each.
    public func writeCommands(_ keys: ProductKeys, chunk: Int) -> [[RedisArgument]] {
        var commands = [[RedisArgument]]()
        func hset(_ key: String, _ fields: [String: String]) {
            let sorted = fields.sorted { $0.key < $1.key }
            var start = 0
            while start < sorted.count {
                var command: [RedisArgument] = ["HSET", RedisArgument(key)]
                for (field, value) in sorted[start..<min(start + chunk, sorted.count)] {
                    command.append(RedisArgument(field))
                    command.append(RedisArgument(value))
                }
                commands.append(command)
                start += chunk
            }
        }
        hset(keys.config, config)
        hset(keys.users, users)
        hset(keys.reservations, reservations)
        hset(keys.idempotencyKeys, idempotencyKeys)
        for (id, since) in tentatives.sorted(by: { $0.key < $1.key }) {
            commands.append(["ZADD", RedisArgument(keys.tentatives), RedisArgument(since), RedisArgument(id)])
        }
        return commands
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

extension LedgerSnapshot {
    /// Per product, the read model these events produce.
    public func expectedProjection() -> [Int64: ProjectedProduct] {
        var reservationsByProduct = [Int64: [ReservationState]]()
        for reservation in folded.reservations.values {
            reservationsByProduct[reservation.productId, default: []].append(reservation)
        }
        var purchasesByProduct = [Int64: [Int64: Int64]]()
        for (key, quantity) in folded.purchases {
            purchasesByProduct[key.productId, default: [:]][key.userId] = quantity
        }
        var expected = [Int64: ProjectedProduct]()
        for (productId, product) in folded.products {
            expected[productId] = ProjectedProduct(
                expected: product, reservations: reservationsByProduct[productId] ?? [],
                purchases: purchasesByProduct[productId] ?? [:], appliedPosition: lastPositions[productId] ?? 0)
        }
        return expected
    }
}
