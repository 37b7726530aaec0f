import Foundation

/// Begins and ends the faults of a chaos run with the repository's own scripts
/// (`scripts/services.sh`, `scripts/cluster.sh`), so a fault is done exactly as an operator would
/// do it by hand, and only to the processes those scripts started.
public struct ChaosFaultInjector: Sendable {
    let servicesScript: String
    let clusterScript: String

    public init(servicesScript: String, clusterScript: String) {
        self.servicesScript = servicesScript
        self.clusterScript = clusterScript
    }

    /// Runs `schedule` (times from `start`): each fault begins at its planned time, or as soon
    /// as the one before has ended when that took longer, and lasts its planned length; its end
    /// waits until the failed part answers again. Answers the faults with the epoch milliseconds
    /// at which each really began and ended. A fault that began is ended even when a later step
    /// fails.
    public func inject(_ schedule: [ChaosFault], from start: ContinuousClock.Instant, report: @Sendable (ChaosFault, _ ended: Bool) -> Void) async throws
        -> [ChaosFault]
    {
        var done = [ChaosFault]()
        for planned in schedule {
            try? await Task.sleep(until: start + .milliseconds(planned.startMs), clock: .continuous)
            let beganMs = ChaosClients.epochMs()
            var fault: ChaosFault
            do {
                fault = try await begin(planned)
            } catch {
                // A kill that failed half way still leaves a node to start; a freeze, a process to thaw.
                try? await end(planned)
                throw error
            }
            fault.startMs = beganMs
            report(fault, false)
            try? await Task.sleep(for: .milliseconds(planned.endMs - planned.startMs))
            try await end(fault)
            fault.endMs = ChaosClients.epochMs()
            report(fault, true)
            done.append(fault)
        }
        return done
    }

    /// Begins `fault`; answers it with the node it hit (the relay leader is looked up first).
    public func begin(_ fault: ChaosFault) async throws -> ChaosFault {
        var fault = fault
        if fault.kind == .relayLeaderKill {
            let leader = try await run(clusterScript, ["relay-leader"], capturing: true)
            guard let line = leader.split(separator: "\n").last, let node = Int(line.trimmingCharacters(in: .whitespaces)) else {
                throw LoadGeneratorError(code: .faultCommandFailed, detail: "relay-leader printed \(leader)")
            }
            fault.node = node
        }
        let (script, arguments) = Self.commands(for: fault).begin
        _ = try await run(script == .cluster ? clusterScript : servicesScript, arguments, capturing: false)
        return fault
    }

    /// Ends `fault` (as `begin` answered it); returns once the failed part answers again.
    public func end(_ fault: ChaosFault) async throws {
        let (script, arguments) = Self.commands(for: fault).end
        _ = try await run(script == .cluster ? clusterScript : servicesScript, arguments, capturing: false)
    }

    enum Script { case services, cluster }

    /// The script and arguments that begin and end each kind of fault.
    static func commands(for fault: ChaosFault) -> (begin: (Script, [String]), end: (Script, [String])) {
        switch fault.kind {
        case .nodeKill, .relayLeaderKill:
            let node = String(fault.node ?? 1)
            return ((.cluster, ["kill-node", node]), (.cluster, ["start-node", node]))
        case .redisFreeze: return ((.services, ["freeze-redis"]), (.services, ["thaw-redis"]))
        case .postgresFreeze: return ((.services, ["freeze-postgres"]), (.services, ["thaw-postgres"]))
        case .kafkaFreeze: return ((.services, ["freeze-kafka"]), (.services, ["thaw-kafka"]))
        case .redisRestartEmpty: return ((.services, ["kill-redis"]), (.services, ["start-redis"]))
        case .postgresRestart: return ((.services, ["stop-postgres", "--immediate"]), (.services, ["start-postgres"]))
        case .kafkaBrokersDown: return ((.services, ["kafka-brokers", "down"]), (.services, ["kafka-brokers", "up"]))
        }
    }

    /// Runs a script to its end; answers its output when `capturing`, else its output goes to
    /// standard error with the script's log.
    private func run(_ script: String, _ arguments: [String], capturing: Bool) async throws -> String {
        let outputPath = capturing ? NSTemporaryDirectory() + "ledger-chaos-\(UUID().uuidString).out" : nil
        defer { if let outputPath { try? FileManager.default.removeItem(atPath: outputPath) } }
        let process = try ChildProcess.spawn(script, arguments, environment: [:], outputPath: outputPath)
        let status = try await process.waitForExit()
        guard status == 0 else {
            throw LoadGeneratorError(code: .faultCommandFailed, detail: "\(script) \(arguments.joined(separator: " ")) exited with \(status)")
        }
        return process.output
    }
}
