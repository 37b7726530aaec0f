import Foundation
import Ledger

/// The services `make test` starts (see scripts/services.sh). A missing variable fails the
/// test that needs it: these tests never skip.
public enum TestServices {
    public struct MissingServiceError: Error, CustomStringConvertible {
        public let variable: String
        public var description: String {
            "\(variable) is not set: run the tests with `make test` (or `make services-up && source .local/env`)"
        }
    }

    public static func variable(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw MissingServiceError(variable: name)
        }
        return value
    }

    public static func databaseURL() throws -> String { try variable("LEDGER_DATABASE_URL") }
    public static func redisURL() throws -> String { try variable("LEDGER_REDIS_URL") }
    public static func kafkaBrokers() throws -> String { try variable("LEDGER_KAFKA_BROKERS") }

    /// A name no other test (or earlier run) uses.
    public static func uniqueName(_ prefix: String) -> String {
        "\(prefix)_\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000_000)"
    }

    /// Creates an empty database, runs `body` with its URL, then drops it. The administrative
    /// session is held only to create and to drop: dozens of tests run at once, and PostgreSQL's
    /// connection slots are shared by all of them.
    public static func withTemporaryDatabase<T>(_ body: (String) async throws -> T) async throws -> T {
        let serverURL = try databaseURL()
        let name = uniqueName("test")
        try await withAdministrativeSession(serverURL) { try await $0.query("CREATE DATABASE \(name)") }
        let url = replacingDatabase(in: serverURL, with: name)
        do {
            let value = try await body(url)
            try await withAdministrativeSession(serverURL) { try await drop(name, $0) }
            return value
        } catch {
            try? await withAdministrativeSession(serverURL) { try await drop(name, $0) }
            throw error
        }
    }

    private static func withAdministrativeSession(_ url: String, _ body: (PostgresConnection) async throws -> Void) async throws {
        let admin = try await PostgresConnection.connect(url: url)
        do {
            try await body(admin)
            await admin.close()
        } catch {
            await admin.close()
            throw error
        }
    }

    /// Ends the test's own sessions on the database, then drops it. Not `WITH (FORCE)`: that
    /// refuses when an autovacuum worker (another role, which the service role may not signal)
    /// works in it, where a plain DROP stops the worker itself and waits for the ended sessions.
    private static func drop(_ name: String, _ admin: PostgresConnection) async throws {
        try await admin.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND usename = current_user AND pid <> pg_backend_pid()",
            [.text(name)])
        try await admin.query("DROP DATABASE \(name)")
    }

    static func replacingDatabase(in url: String, with database: String) -> String {
        let query = url.firstIndex(of: "?").map { String(url[$0...]) } ?? ""
        let base = url.firstIndex(of: "?").map { String(url[..<$0]) } ?? url
        guard let slash = base.lastIndex(of: "/"), base[..<slash].hasSuffix("/") == false else {
            return base + "/" + database + query
        }
        return base[...slash] + database + query
    }

    /// Runs `scripts/services.sh ARGUMENTS` (e.g. `restart-postgres`); fails on a non-zero exit.
    public static func servicesScript(_ arguments: String...) async throws {
        let result = try await run("/bin/bash", [try variable("LEDGER_SERVICES_SCRIPT")] + arguments)
        guard result.status == 0 else {
            throw MissingServiceError(variable: "services.sh \(arguments.joined(separator: " ")) exited with status \(result.status)")
        }
    }

    /// Runs a program (found on PATH) and returns its exit code and standard output. The
    /// wait happens on a worker thread, not on the cooperative pool.
    public static func run(_ program: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        let worker = BlockingWorker(name: "subprocess")
        defer { worker.shutdown() }
        return try await worker.run {
            var pipe: [Int32] = [0, 0]
            guard Glibc.pipe(&pipe) == 0 else { return (-1, "") }
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_adddup2(&actions, pipe[1], 1)
            // Only fd 1 may refer to the pipe in the child: a grandchild that outlives it (a
            // restarted server) must not keep the write end open.
            posix_spawn_file_actions_addclose(&actions, pipe[0])
            posix_spawn_file_actions_addclose(&actions, pipe[1])
            var cArguments = ([program] + arguments).map { strdup($0) } + [nil]
            defer { cArguments.forEach { free($0) } }
            var pid: pid_t = 0
            let spawned = posix_spawnp(&pid, program, &actions, nil, &cArguments, environ)
            close(pipe[1])
            defer { close(pipe[0]) }
            guard spawned == 0 else { return (-1, "") }
            var output = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = read(pipe[0], &buffer, buffer.count)
                if count > 0 { output += buffer[..<count] } else if count == 0 || errno != EINTR { break }
            }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            // The exit code, or 128 + the signal that ended it (as a shell reports it).
            let signal = status & 0x7F
            return (signal == 0 ? (status >> 8) & 0xFF : 128 + signal, String(decoding: output, as: UTF8.self))
        }
    }
}
