import Hummingbird

/// Per-request state: the authenticated caller, once the auth middleware found one.
public struct LedgerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: Identity?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        identity = nil
    }

    /// Bodies are collected by the routes with the API's own limit; this caps anything else.
    public var maxUploadSize: Int { 4_096 }

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
