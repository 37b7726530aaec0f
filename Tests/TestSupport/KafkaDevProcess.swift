import Foundation
import Ledger
import LoadGenerator

/// `ledger kafka-dev` run as a process of its own, so a test can freeze the brokers (SIGSTOP)
/// the way a long GC pause, a stalled disk or a partition freezes a real one.
public final class KafkaDevProcess: Sendable {
    public let process: ChildProcess
    public let bootstrapServers: String
    public let topic: String

    private init(process: ChildProcess, bootstrapServers: String, topic: String) {
        self.process = process
        self.bootstrapServers = bootstrapServers
        self.topic = topic
    }

    /// Starts three mock brokers holding `topic` and waits until they listen.
    public static func start(topic: String, partitions: Int32) async throws -> KafkaDevProcess {
        let name = TestServices.uniqueName("kafka-dev")
        let bootstrapFile = NSTemporaryDirectory() + "\(name).bootstrap"
        let process = try ChildProcess.spawn(
            try TestServices.variable("LEDGER_BIN"),
            ["kafka-dev", "--brokers", "3", "--topic", topic, "--partitions", "\(partitions)", "--bootstrap-file", bootstrapFile],
            environment: [:], outputPath: NSTemporaryDirectory() + "\(name).log")
        let started = try await eventually(timeout: .seconds(30)) { FileManager.default.fileExists(atPath: bootstrapFile) }
        guard started, let bootstrap = try? String(contentsOfFile: bootstrapFile, encoding: .utf8) else {
            process.signal(SIGKILL)
            _ = try await process.waitForExit()
            throw TestServices.MissingServiceError(variable: "kafka-dev did not start: \(process.output.suffix(2_000))")
        }
        try? FileManager.default.removeItem(atPath: bootstrapFile)
        return KafkaDevProcess(process: process, bootstrapServers: bootstrap.trimmingCharacters(in: .whitespacesAndNewlines), topic: topic)
    }

    /// Freezes every broker: connections stay open and nothing answers.
    public func freeze() { process.signal(SIGSTOP) }

    public func thaw() { process.signal(SIGCONT) }

    public func stop() async throws {
        process.signal(SIGCONT)
        process.signal(SIGKILL)
        _ = try await process.waitForExit()
    }
}
