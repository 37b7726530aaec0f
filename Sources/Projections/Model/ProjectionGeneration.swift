import Synchronization

/// The live read-model generation, read from `ledger:generation` and cached for
/// `refreshMs`. While one caller refreshes, the others keep using the cached value, so a
/// burst of requests costs one `GET`.
public final class ProjectionGeneration: Sendable {
    private struct Cached {
        var keys: ProjectionKeys?
        var fetchedAt: ContinuousClock.Instant?
        var refreshing = false
    }

    private let connection: RedisConnection
    private let namespace: String
    private let refresh: Duration
    private let cached = Mutex(Cached())

    public init(connection: RedisConnection, namespace: String = ProjectionKeys.defaultNamespace, refreshMs: Int) {
        self.connection = connection
        self.namespace = namespace
        self.refresh = .milliseconds(refreshMs)
    }

    public func current() async throws -> ProjectionKeys {
        let now = ContinuousClock.now
        let (keys, mustFetch): (ProjectionKeys?, Bool) = cached.withLock { cached in
            if let keys = cached.keys, let fetchedAt = cached.fetchedAt, now - fetchedAt < refresh || cached.refreshing {
                return (keys, false)
            }
            cached.refreshing = true
            return (cached.keys, true)
        }
        guard mustFetch else { return keys! }
        do {
            let fresh = try await Self.read(on: connection, namespace: namespace)
            cached.withLock { $0 = Cached(keys: fresh, fetchedAt: .now, refreshing: false) }
            return fresh
        } catch {
            cached.withLock { $0.refreshing = false }
            throw error
        }
    }

    public func close() async {
        await connection.close()
    }

    /// The live generation's keys, read now.
    public static func read(on connection: RedisConnection, namespace: String) async throws -> ProjectionKeys {
        let pointer = ProjectionKeys.generationPointer(namespace: namespace)
        let reply = try await connection.command(["GET", RedisArgument(pointer)])
        if reply.isNull { return ProjectionKeys(namespace: namespace, generation: 1) }
        guard let generation = reply.integer, generation > 0 else {
            throw RedisError(code: .unexpectedReply, message: "\(pointer) holds \(reply)")
        }
        return ProjectionKeys(namespace: namespace, generation: generation)
    }
}
