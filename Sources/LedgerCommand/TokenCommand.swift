import API
import ArgumentParser

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Print a bearer token for a user (signed with LEDGER_JWT_SECRET).")

    @Option(help: "User id (the token's sub).")
    var user: Int64

    @Flag(help: "Give the token role admin.")
    var admin = false

    @Option(help: "Seconds until the token expires.")
    var ttl = 3_600

    @OptionGroup var auth: AuthOptions

    func validate() throws {
        guard user > 0 else { throw ValidationError("--user must be a positive id") }
        guard ttl > 0 else { throw ValidationError("--ttl must be positive") }
    }

    func run() async throws {
        print(try await TokenAuthority(secret: auth.jwtSecret).token(userId: user, admin: admin, ttlSeconds: ttl))
    }
}
