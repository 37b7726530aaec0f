import Foundation
import Ledger

/// A program started by a test or a chaos run, which it can signal (SIGKILL, SIGTERM) and wait
/// for. Its standard output and error go to a file (for reading when a test fails), or to this
/// process's standard error. Waiting is `waitpid` on a thread of its own: it does not hold the
/// cooperative pool, and it ends when the child does, whatever descendants inherited from it.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    public let outputPath: String?
    private let waiter = BlockingWorker(name: "child-wait")

    private init(pid: pid_t, outputPath: String?) {
        self.pid = pid
        self.outputPath = outputPath
    }

    deinit {
        waiter.shutdown()
    }

    public static func spawn(_ program: String, _ arguments: [String], environment: [String: String], outputPath: String?) throws -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let outputPath {
            posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0o644)
        }
        posix_spawn_file_actions_adddup2(&actions, outputPath == nil ? 2 : 1, outputPath == nil ? 1 : 2)
        var argv = ([program] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var merged = ProcessInfo.processInfo.environment
        merged.merge(environment) { _, new in new }
        var envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, program, &actions, nil, &argv, &envp)
        guard result == 0 else { throw LoadGeneratorError(code: .spawnFailed, detail: "\(program) could not start (errno \(result))") }
        return ChildProcess(pid: pid, outputPath: outputPath)
    }

    public func signal(_ signal: Int32) {
        kill(pid, signal)
    }

    /// The exit status, or 128 + the signal that ended it.
    public func waitForExit() async throws -> Int32 {
        let pid = self.pid
        return try await waiter.run {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            let signal = status & 0x7F
            return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
        }
    }

    /// What it wrote to its output file so far.
    public var output: String {
        outputPath.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? ""
    }
}
