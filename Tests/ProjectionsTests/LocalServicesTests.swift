import Foundation
import Ledger
import Projections
import TestSupport
import Testing

/// The services `make services-up` starts are set up as a careful operator would: passwords
/// on both, the service's database role no superuser, the secrets readable by their owner only.
@Suite struct LocalServicesTests {
    @Test func postgresWantsAPasswordAndTheServiceRoleIsNoSuperuser() async throws {
        let url = try TestServices.databaseURL()
        let connection = try await PostgresConnection.connect(url: url)
        let role = try await connection.query("SELECT rolsuper, rolcreatedb FROM pg_roles WHERE rolname = current_user")
        #expect(try role[0]["rolsuper"].string() == "f")
        #expect(try role[0]["rolcreatedb"].string() == "t", "it makes the tests' databases")
        await connection.close()
        let withoutPassword = url.replacingOccurrences(of: #":[^:@/]+@"#, with: "@", options: .regularExpression)
        #expect(withoutPassword != url, "the URL carries a password")
        let error = await #expect(throws: PostgresError.self) { _ = try await PostgresConnection.connect(url: withoutPassword) }
        #expect(error?.description.contains("password") == true, "\(String(describing: error))")
    }

    @Test func redisWantsAPassword() async throws {
        let url = try TestServices.redisURL()
        let withoutPassword = url.replacingOccurrences(of: #"//[^@]*@"#, with: "//", options: .regularExpression)
        #expect(withoutPassword != url, "the URL carries a password")
        let open = try await RedisConnection.connect(url: withoutPassword)
        await #expect(throws: RedisError.self) { _ = try await open.command(["GET", "anything"]) }
        await open.close()
        let authenticated = try await RedisConnection.connect(url: url)
        #expect(try await authenticated.command(["PING"]).string == "PONG")
        await authenticated.close()
    }

    @Test func theEnvironmentFileAndSecretsAreTheOwnersAlone() throws {
        let script = try TestServices.variable("LEDGER_SERVICES_SCRIPT")
        let local = URL(fileURLWithPath: script).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".local")
        for name in ["env", "jwt-secret", "postgres-password", "redis-password"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: local.appendingPathComponent(name).path)
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
            #expect(mode == 0o600, "\(name): \(String(mode, radix: 8))")
        }
    }
}
