import HTTPTypes
import Hummingbird
import Metrics
import Synchronization

/// Counts answered requests by route template, method and status (`http_requests_total`). One
/// short lock and one atomic increment a request: Hummingbird's `MetricsMiddleware`, which also
/// keeps a latency histogram and an in-flight gauge per request, cost a seventh of a sold-out
/// answer (docs/performance.md). Latency is measured by the stages' own timers (writer
/// batches, Redis pipelines) and by `ledger bench`, not per request here.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    private let counters: RequestCounters

    init(factory: MetricsFactory = MetricsSystem.factory) {
        counters = RequestCounters(factory: factory)
    }

    @concurrent func handle(_ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            counters.count(route: context.endpointPath, method: request.method, status: response.status.code)
            return response
        } catch {
            // Only an error no inner middleware answered gets here; Hummingbird answers it with
            // its status, or 500.
            counters.count(route: context.endpointPath, method: request.method, status: (error as? any HTTPResponseError)?.status.code ?? 500)
            throw error
        }
    }
}

/// The request counters, made once per route, method and status. Routes are the router's
/// templates (`/v1/products/{id}`) and every unknown path is `NotFound` (Hummingbird's name for
/// it, used here too when no route was resolved), so the set stays small.
private final class RequestCounters: Sendable {
    private struct Key: Hashable {
        let route: String
        let method: HTTPRequest.Method
        let status: Int
    }

    private let factory: MetricsFactory
    private let counters = Mutex<[Key: Counter]>([:])

    init(factory: MetricsFactory) {
        self.factory = factory
    }

    func count(route: String?, method: HTTPRequest.Method, status: Int) {
        let key = Key(route: route ?? "NotFound", method: method, status: status)
        let counter = counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(
                label: "http_requests_total", dimensions: [("route", key.route), ("method", method.rawValue), ("status", String(status))],
                factory: factory)
            counters[key] = counter
            return counter
        }
        counter.increment()
    }
}
