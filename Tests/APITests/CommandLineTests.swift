import Foundation
import TestSupport
import Testing

/// `ledger`'s refusals of unsafe settings, and its help text, as an operator meets them.
@Suite(.timeLimit(.minutes(2))) struct CommandLineTests {
    static let secret = "cli-test-secret-\(UInt64.random(in: 0...UInt64.max))-0123456789"
    static let password = "pw-\(UInt64.random(in: 0...UInt64.max))"

    func ledger(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let environment = [
            "LEDGER_JWT_SECRET=\(Self.secret)", "LEDGER_DATABASE_URL=postgresql://ledger:\(Self.password)@127.0.0.1:1/ledger",
            "LEDGER_REDIS_URL=redis://:\(Self.password)@127.0.0.1:1/0",
        ]
        // Standard error too: ArgumentParser's refusals and the server's log go there.
        let result = try await TestServices.run(
            "/bin/sh", ["-c", #"exec "$0" "$@" 2>&1"#, "/usr/bin/env"] + environment + [try TestServices.variable("LEDGER_BIN")] + arguments)
        return (result.status, result.output)
    }

    @Test func helpNeverShowsASecretFromTheEnvironment() async throws {
        for command in [["serve", "--help"], ["token", "--help"], ["bench", "--help"], ["audit", "--help"], ["status", "--help"], ["migrate", "--help"]] {
            let (status, output) = try await ledger(command)
            #expect(status == 0, "\(command): \(output.suffix(500))")
            #expect(!output.contains(Self.secret) && !output.contains(Self.password), "\(command) prints a secret")
            #expect(output.contains("LEDGER_JWT_SECRET") || output.contains("LEDGER_DATABASE_URL"), "\(command) still says where settings come from")
        }
    }

    @Test func tokenLifetimesAreCapped() async throws {
        let (refused, output) = try await ledger(["token", "--user", "1", "--ttl", "\(30 * 86_400)"])
        #expect(refused != 0)
        #expect(output.contains("--ttl must be 1…604800 seconds"), "\(output)")
        let (status, token) = try await ledger(["token", "--user", "1", "--ttl", "600"])
        #expect(status == 0)
        #expect(token.split(separator: ".").count == 3)
    }

    @Test func trustedHeadersAreRefusedOnAPublicAddressUnlessAllowed() async throws {
        let (status, output) = try await ledger(["serve", "--auth-mode", "trusted-header", "--host", "0.0.0.0"])
        #expect(status != 0)
        #expect(output.contains("--allow-trusted-headers-on-any-host"), "\(output.suffix(1_000))")
        // Allowed: it gets as far as the dependencies (none listen on port 1), not refused for the mode.
        let (allowed, allowedOutput) = try await ledger([
            "serve", "--auth-mode", "trusted-header", "--host", "0.0.0.0", "--allow-trusted-headers-on-any-host", "--kafka-brokers", "127.0.0.1:1",
        ])
        #expect(allowed != 0)
        #expect(!allowedOutput.contains("--allow-trusted-headers-on-any-host"))
        #expect(!allowedOutput.contains(Self.password), "no log line shows the database password")
    }
}
