import Ledger
import Projections
import ServiceLifecycle

/// A Redis namespace of its own for one test (so tests run in parallel on one server), and
/// helpers to look at it.
public struct ProjectionFixture: Sendable {
    public let namespace: String
    public let redis: RedisConnection
    public let redisURL: String

    public static func run<T: Sendable>(_ body: @Sendable (ProjectionFixture) async throws -> T) async throws -> T {
        let url = try TestServices.redisURL()
        let fixture = ProjectionFixture(namespace: TestServices.uniqueName("test"), redis: try await RedisConnection.connect(url: url), redisURL: url)
        do {
            let value = try await body(fixture)
            try await fixture.deleteEverything()
            await fixture.redis.close()
            return value
        } catch {
            try? await fixture.deleteEverything()
            await fixture.redis.close()
            throw error
        }
    }

    /// The live generation's keys.
    public func keys() async throws -> ProjectionKeys {
        try await ProjectionGeneration.read(on: redis, namespace: namespace)
    }

    public func product(_ productId: Int64) async throws -> ProjectedProduct {
        try await ProjectedProduct.read(try await keys().product(productId), on: redis)
    }

    /// Every key of the namespace with its `DUMP` bytes: equal dumps mean byte-identical data.
    public func dump() async throws -> [String: [UInt8]] {
        var dumps = [String: [UInt8]]()
        for name in try await keyNames() {
            if case .bulk(let bytes) = try await redis.command(["DUMP", RedisArgument(name)]) { dumps[name] = bytes }
        }
        return dumps
    }

    public func keyNames() async throws -> [String] {
        var names = [String]()
        var cursor = "0"
        repeat {
            let reply = try await redis.command(["SCAN", RedisArgument(cursor), "MATCH", RedisArgument("\(namespace):*"), "COUNT", "1000"])
            let parts = reply.array ?? []
            cursor = parts.first?.string ?? "0"
            names += (parts.last?.array ?? []).compactMap(\.string)
        } while cursor != "0"
        return names.sorted()
    }

    public func deleteEverything() async throws {
        let names = try await keyNames()
        if !names.isEmpty { try await redis.command(["DEL"] + names.map { RedisArgument($0) }) }
    }

    /// Deletes the keys of a namespace some other program (a served process) wrote.
    public static func delete(namespace: String, url: String) async throws {
        let fixture = ProjectionFixture(namespace: namespace, redis: try await RedisConnection.connect(url: url), redisURL: url)
        try await fixture.deleteEverything()
        await fixture.redis.close()
    }
}

/// Runs `services` while `body` runs, then cancels them and waits for them to stop.
public func withRunning<T: Sendable>(_ services: [any Service], _ body: @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        for service in services {
            group.addTask {
                try await service.run()
                return nil
            }
        }
        do {
            let value = try await body()
            group.cancelAll()
            while try await group.next() != nil {}
            return value
        } catch {
            group.cancelAll()
            throw error
        }
    }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
public func eventually(timeout: Duration = .seconds(30), _ condition: @Sendable () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
