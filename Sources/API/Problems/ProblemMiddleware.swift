import HTTPTypes
import Hummingbird
import Ledger
import Logging
import Projections

/// Turns every error a route throws into a problem response: the API's own problems as they
/// are, the framework's HTTP errors (unknown route, body too large) with a code, a failed
/// dependency as 503. Anything else is logged and answered 500 without internals.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Every route's method and path template (`/v1/products/:id`), to tell 405 from 404.
    let routes: [(method: HTTPRequest.Method, path: String)]
    /// Every request fails alike while a dependency is down: one line a second says so.
    let repeatedWarnings: LogThrottle

    @concurrent func handle(_ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            // First: the losing 99 % (sold out) end here, and each cast of an error costs.
            return try problem.response(from: request, context: context)
        } catch let error as HTTPError where error.status == .notFound {
            let allowed = routes.filter { Self.matches(request.uri.path, $0.path) }.map(\.method.rawValue)
            guard !allowed.isEmpty else { return try Self.problem(for: error, logger: context.logger, repeatedWarnings: repeatedWarnings).response(from: request, context: context) }
            var problem = Problem(.methodNotAllowed, detail: "\(request.uri.path) takes \(allowed.joined(separator: ", "))")
            problem.allowedMethods = allowed
            return try problem.response(from: request, context: context)
        } catch {
            return try Self.problem(for: error, logger: context.logger, repeatedWarnings: repeatedWarnings).response(from: request, context: context)
        }
    }

    /// Whether `path` fits `template`, whose `:name` segments match any one segment.
    static func matches(_ path: String, _ template: String) -> Bool {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        let pattern = template.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count == pattern.count else { return false }
        return zip(segments, pattern).allSatisfy { segment, part in part.hasPrefix(":") ? !segment.isEmpty : segment == part }
    }

    static func problem(for error: Error, logger: Logger, repeatedWarnings: LogThrottle) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as HTTPError:
            switch error.status {
            case .notFound:
                return Problem(.notFound, detail: "No such route: check the path against /openapi.yaml")
            case .methodNotAllowed:
                return Problem(.methodNotAllowed, detail: "This route does not take that method")
            case .contentTooLarge:
                return Problem(.tooLarge, detail: error.body ?? "The body is larger than allowed")
            case .unauthorized:
                return .unauthorized(error.body ?? "Missing or invalid credentials")
            default:
                if error.status.code < 500 {
                    return Problem(.invalid, detail: error.body ?? error.status.reasonPhrase, status: error.status, title: error.status.reasonPhrase)
                }
                logger.error("request failed", metadata: ["error": "\(error)"])
                return .unavailable("The server could not answer")
            }
        case let error as LedgerError:
            if error.code == .overloaded { return .overloaded("The ledger is overloaded; retry shortly with the same Idempotency-Key") }
            if error.code == .shuttingDown { return .unavailable("The ledger is shutting down; retry shortly", retryAfterSeconds: 1) }
            repeatedWarnings.warning(logger, "ledger unavailable", metadata: ["error": "\(error)"])
            return .unavailable("The ledger is unavailable; retry with the same Idempotency-Key")
        case let error as RedisError where error.code == .overloaded:
            return .overloaded("Too many attempts wait for the gate; retry shortly")
        case let error as RedisError:
            repeatedWarnings.warning(logger, "redis unavailable", metadata: ["error": "\(error)"])
            return .unavailable("Redis is unavailable")
        case let error as PostgresError where error.code == .overloaded:
            return .overloaded("Too many reads wait for the ledger; retry shortly")
        case let error as PostgresError:
            repeatedWarnings.warning(logger, "postgres unavailable", metadata: ["error": "\(error)"])
            return .unavailable("PostgreSQL is unavailable")
        default:
            logger.error("unexpected error", metadata: ["error": "\(error)"])
            return Problem(.internal, detail: "The server failed to answer; it has been logged")
        }
    }
}
