import ArgumentParser
import Ledger
import Projections

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Print the cluster as the ledger sees it: the head, each relay's leader, epoch and lag, Redis's live generation (or a missing read model).")

    @OptionGroup var connections: ConnectionOptions

    func run() async throws {
        LedgerTool.bootstrapLogging()
        let postgres = try await PostgresConnection.connect(url: connections.databaseURL, name: "status-postgres")
        let head: Int64
        let relays: [RelayStatus]
        do {
            head = try await postgres.query("SELECT position FROM ledger_head")[0]["position"].int64()
            relays = try await RelayStatus.read(on: postgres)
        } catch {
            await postgres.close()
            throw error
        }
        await postgres.close()
        print("ledger head position \(head)")
        if relays.isEmpty { print("relay: none has run yet") }
        for relay in relays {
            print("relay \(relay.name): topic \(relay.topic), epoch \(relay.epoch), checkpoint \(relay.position) "
                + "(\(head - relay.position) behind), leader \(relay.leader ?? "none (no node's relay holds the lock)")")
        }
        let redis = try await RedisConnection.connect(url: connections.redisURL, name: "status-redis")
        let keys: ProjectionKeys
        let marked: Bool
        do {
            keys = try await ProjectionGeneration.read(on: redis, namespace: connections.redisNamespace)
            let pointer = ProjectionKeys.generationPointer(namespace: connections.redisNamespace)
            marked = try await redis.command(["EXISTS", RedisArgument(pointer)]).integer == 1
        } catch {
            await redis.close()
            throw error
        }
        await redis.close()
        // The pointer marks a complete model (ReadModelWatch); without it on a non-empty ledger,
        // the nodes decide reservations without the gate until one of them rebuilt the model.
        let model = marked || head == 0 ? "live generation \(keys.generation)" : "read model missing (the nodes decide reservations without the gate until one of them rebuilt it)"
        print("redis namespace \(connections.redisNamespace): \(model)")
    }
}
