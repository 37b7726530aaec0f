import Foundation
import Ledger
import LoadGenerator
import Projections
import Synchronization

/// A `redis-server` of the test's own, on loopback, without persistence: the test can freeze it
/// (SIGSTOP), kill it (SIGKILL) and start it again empty on the same port, as a restart without
/// persistence does, without touching the Redis other tests share.
public final class RedisServerProcess: Sendable {
    public let port: Int
    /// The running server, nil once stopped.
    private let process: Mutex<ChildProcess?>

    public var url: String { "redis://127.0.0.1:\(port)/0" }

    private init(port: Int, process: ChildProcess) {
        self.port = port
        self.process = Mutex(process)
    }

    /// Starts one on a free port below Linux's ephemeral range and waits until it answers.
    public static func start() async throws -> RedisServerProcess {
        let port = Int.random(in: 20_000...32_000)
        return RedisServerProcess(port: port, process: try await spawn(port: port))
    }

    private static func spawn(port: Int) async throws -> ChildProcess {
        let program = "/usr/bin/redis-server"
        guard FileManager.default.isExecutableFile(atPath: program) else {
            throw TestServices.MissingServiceError(variable: "\(program) (scripts/services.sh install)")
        }
        let process = try ChildProcess.spawn(
            program, ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], environment: [:],
            outputPath: NSTemporaryDirectory() + "redis-\(port).log")
        let answering = try await eventually(timeout: .seconds(10)) {
            guard let connection = try? await RedisConnection.connect(url: "redis://127.0.0.1:\(port)/0", timeoutMs: 500) else { return false }
            let reply = try? await connection.command(["PING"])
            await connection.close()
            return reply?.string == "PONG"
        }
        guard answering else {
            process.signal(SIGKILL)
            _ = try await process.waitForExit()
            throw TestServices.MissingServiceError(variable: "redis-server did not start: \(process.output.suffix(2_000))")
        }
        return process
    }

    /// Connections stay open and nothing answers.
    public func freeze() { process.withLock { $0?.signal(SIGSTOP) } }

    public func thaw() { process.withLock { $0?.signal(SIGCONT) } }

    /// SIGKILL (if running), then a new empty server on the same port: everything it held is gone.
    public func restartEmpty() async throws {
        try await stop()
        let fresh = try await Self.spawn(port: port)
        process.withLock { $0 = fresh }
    }

    /// SIGKILL; the port stays this server's, for `restartEmpty`.
    public func stop() async throws {
        guard let current = process.withLock({ process in defer { process = nil }; return process }) else { return }
        current.signal(SIGCONT)
        current.signal(SIGKILL)
        _ = try await current.waitForExit()
    }
}
