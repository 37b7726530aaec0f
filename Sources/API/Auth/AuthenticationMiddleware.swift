import HTTPTypes
import Hummingbird

/// How callers prove who they are.
public enum AuthenticationMode: Sendable {
    /// `Authorization: Bearer <JWT>` (the default).
    case bearer(TokenAuthority)
    /// An authenticating gateway in front of the service sets the user id (and `admin` role) in
    /// headers; only safe when nothing else can reach the service.
    case trustedHeaders(userHeader: HTTPField.Name, roleHeader: HTTPField.Name)
}

/// Sets `context.identity` from the request's credentials. Absent credentials leave it nil
/// (routes that need a caller answer 401); present but bad credentials are a 401 at once.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = LedgerRequestContext
    let mode: AuthenticationMode
    /// A longer `Authorization` header is refused before any decoding or hashing.
    let maxTokenBytes: Int

    @concurrent func handle(_ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        switch mode {
        case .bearer(let authority):
            if let header = request.headers.value(.authorization) {
                guard header.utf8.count <= maxTokenBytes + 7 else {
                    throw Problem.unauthorized("The bearer token is longer than \(maxTokenBytes) bytes")
                }
                guard header.hasPrefix("Bearer "), let identity = await authority.identity(token: String(header.dropFirst(7))) else {
                    throw Problem.unauthorized("The bearer token is malformed, badly signed or expired")
                }
                context.identity = identity
            }
        case .trustedHeaders(let userHeader, let roleHeader):
            if let value = request.headers.value(userHeader) {
                guard let userId = Int64(value), userId > 0 else { throw Problem.unauthorized("\(userHeader) is not a user id") }
                context.identity = Identity(userId: userId, isAdmin: request.headers.value(roleHeader) == "admin")
            }
        }
        return try await next(request, context)
    }
}
