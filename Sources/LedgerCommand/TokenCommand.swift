import API
import ArgumentParser
import Ledger

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Print a bearer token for a user (signed with LEDGER_JWT_SECRET).")

    @Option(help: "User id (the token's sub).")
    var user: Int64

    @Flag(help: "Give the token role admin.")
    var admin = false

    @Option(help: "Seconds until the token expires (at most a week).")
    var ttl = 3_600

    @OptionGroup var auth: AuthOptions

    func validate() throws {
        guard user > 0 else { throw ValidationError("--user must be a positive id") }
        let maxTTL = Limits().maxTokenTTLSeconds
        guard ttl > 0, ttl <= maxTTL else { throw ValidationError("--ttl must be 1…\(maxTTL) seconds") }
    }

    func run() async throws {
        print(try await auth.tokenAuthority().token(userId: user, admin: admin, ttlSeconds: ttl))
    }
}
