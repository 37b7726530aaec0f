import Hummingbird
import Ledger
import NIOCore

/// Per-request state: the authenticated caller, once the auth middleware found one.
public struct LedgerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: Identity?
    /// The connection, for the client's address when a route needs it (most never do).
    private let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        identity = nil
        channel = source.channel
    }

    /// The peer's IP address: what an anonymous client's budget is kept by.
    public var clientAddress: String {
        channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// Bodies are collected by the routes with the API's own limit; this caps anything else.
    public var maxUploadSize: Int { Self.maxUploadBytes }
    private static let maxUploadBytes = Limits().maxBodyBytes

    /// The caller, or 401.
    public func user() throws -> Identity {
        guard let identity else { throw Problem.unauthorized("Send Authorization: Bearer <token>") }
        return identity
    }

    /// An admin caller, or 401 / 403.
    public func admin() throws -> Identity {
        let identity = try user()
        guard identity.isAdmin else { throw Problem.forbidden("This route is for admins") }
        return identity
    }
}
