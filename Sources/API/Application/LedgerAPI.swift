import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Ledger
import Logging
import NIOCore
import Prometheus
import Projections

/// The HTTP API: every route of the contract on one router. Build it with the service's parts;
/// `application` returns a Hummingbird `Application` (a `Service`).
public struct LedgerAPI: Sendable {
    public struct Parts: Sendable {
        public var writer: LedgerWriter
        public var reader: LedgerReader
        public var gate: ReservationGate
        /// Open while the gate fails or the read model is missing: reservations then go to the
        /// ledger alone, and product reads skip Redis.
        public var breaker: GateBreaker
        /// For live availability (`available` of the read model).
        public var redis: RedisConnection
        public var generation: ProjectionGeneration
        public var probe: ReadinessProbe
        public var authentication: AuthenticationMode
        public var limits: Limits
        /// What `/metrics` serves (`ServiceMetrics.bootstrap` makes it the process's backend).
        public var metrics: PrometheusCollectorRegistry

        public init(
            writer: LedgerWriter, reader: LedgerReader, gate: ReservationGate, breaker: GateBreaker, redis: RedisConnection,
            generation: ProjectionGeneration, probe: ReadinessProbe, authentication: AuthenticationMode, limits: Limits,
            metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
        ) {
            self.writer = writer
            self.reader = reader
            self.gate = gate
            self.breaker = breaker
            self.redis = redis
            self.generation = generation
            self.probe = probe
            self.authentication = authentication
            self.limits = limits
            self.metrics = metrics
        }
    }

    let parts: Parts
    let catalog: ProductCatalog
    let seckill: SeckillService
    /// Every write of a user (reserve, confirm, cancel) spends from one budget; admins' writes
    /// from their own; reads without a login from their client address's, and a logged-in
    /// user's reads that miss the product cache (each a ledger read) from the user's.
    let userWrites: RateLimiter<Int64>
    let adminWrites: RateLimiter<Int64>
    let reads: RateLimiter<String>
    let readiness: ReadinessCache
    let logger: Logger

    public init(_ parts: Parts, logger: Logger = Logger(label: "ledger.api")) {
        self.parts = parts
        let reader = parts.reader
        let limits = parts.limits
        catalog = ProductCatalog(
            ttlMs: limits.productCacheTTLMs, jitterMs: limits.productCacheJitterMs, maxEntries: limits.productCacheMaxEntries,
            maxUnknownEntries: limits.productCacheMaxUnknownEntries
        ) { [parts] productId in
            do {
                return try await reader.product(productId).map { .init(product: $0, isSoldOut: $0.available <= 0) }
            } catch let error as PostgresError where error.code == .connectionLost || error.code == .connectionFailed {
                // PostgreSQL does not answer: the read model's copy keeps product reads served
                // (a reservation still needs the ledger, which answers for itself). The copy's
                // stock never says sold out: tentatives of attempts stuck on the dead database
                // hold its units, and a restock may not have been projected yet.
                guard let product = await Self.readModelProduct(productId, parts) else { throw error }
                return .init(product: product, isSoldOut: false)
            }
        }
        userWrites = RateLimiter(
            RateLimitPolicy(name: "writes", ratePerSecond: limits.seckillAttemptsPerUserPerSecond, burst: limits.seckillAttemptBurst),
            maxKeys: limits.rateLimitedUsersTracked)
        adminWrites = RateLimiter(
            RateLimitPolicy(name: "admin", ratePerSecond: limits.adminWritesPerSecond, burst: limits.adminWriteBurst),
            maxKeys: limits.rateLimitedUsersTracked)
        reads = RateLimiter(
            RateLimitPolicy(name: "reads", ratePerSecond: limits.readsPerClientPerSecond, burst: limits.readBurst),
            maxKeys: limits.rateLimitedUsersTracked)
        seckill = SeckillService(
            writer: parts.writer, gate: parts.gate, catalog: catalog,
            stockCheck: LedgerStockCheck(maxAgeMs: limits.gateRefusalRecheckMs, maxProducts: limits.productCacheMaxEntries) { [parts] productId in
                // The copy first, then the ledger, in one statement: of the copy's tentatives,
                // those the ledger has recorded (committed, before or after the copy was read,
                // and not projected yet) hold no units in flight; the rest still do.
                let lookedAt = Timestamp.now()
                let keys = try await parts.generation.current().product(productId)
                let holdings = try await GateHoldings.read(keys, on: parts.redis, maxTentatives: limits.gateHoldingsMaxTentatives)
                guard let ledger = try await reader.stockAndSettledPosition(
                    productId, settledBefore: Timestamp(epochMs: lookedAt.epochMs - Int64(limits.gateSettleMs)),
                    recordedAmong: holdings.tentatives?.map(\.reservationId) ?? [])
                else { return nil }
                return .init(
                    available: ledger.available, settledPosition: ledger.settledPosition, appliedPosition: holdings.appliedPosition,
                    holdsUnsettledTentatives: holdings.oldestTentativeMs.map { $0 < lookedAt.epochMs - Int64(limits.gateLostTentativeMs) } ?? false,
                    tentativeUnits: holdings.tentatives.map { $0.units - ledger.recordedUnits })
            } readUser: { [parts] productId, userId in
                let keys = try await parts.generation.current().product(productId)
                let holdings = try await GateHoldings.read(keys, on: parts.redis, maxTentatives: limits.gateHoldingsMaxTentatives, userId: userId)
                let mine = holdings.userTentatives
                let ledger = try await reader.heldUnits(productId: productId, userId: userId, recordedAmong: mine?.map(\.reservationId) ?? [])
                return .init(heldUnits: ledger.held, tentativeUnits: mine.map { $0.units - ledger.recordedUnits })
            },
            rateLimiter: userWrites,
            attemptsInFlight: AttemptsInFlight(
                adapting: InFlightLimit(
                    floor: min(limits.minReservationAttemptsInFlight, limits.maxReservationAttemptsInFlight),
                    ceiling: limits.maxReservationAttemptsInFlight, targetMs: limits.reservationAttemptTargetMs,
                    windowMs: limits.reservationAttemptWindowMs)), breaker: parts.breaker,
            degradedAttemptsInFlight: AttemptsInFlight(cap: limits.maxDegradedReservationsInFlight), limits: limits, logger: logger)
        let probe = parts.probe
        readiness = ReadinessCache(maxAgeMs: limits.readinessCacheMs) { await probe.check() }
        self.logger = logger
    }

    /// The product from the live read model, when the gate's breaker trusts Redis and Redis
    /// has its listing.
    static func readModelProduct(_ productId: Int64, _ parts: Parts) async -> ProductState? {
        guard parts.breaker.isClosed, let keys = try? await parts.generation.current().product(productId),
            let config = try? await ProjectedProduct.readConfig(keys, on: parts.redis)
        else { return nil }
        return ProjectedProduct.productState(productId: productId, config: config)
    }

    /// The HTTP server; `onServerRunning` runs once it listens, with the `host:port` it bound.
    /// Connections are capped and closed when idle, and reaching the cap closes the longest
    /// idle ones, so idle or slow clients can hold neither every descriptor nor the door.
    public func application(
        host: String, port: Int, onServerRunning: @escaping @Sendable (_ address: String) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let limits = parts.limits
        let idle = IdleConnections()
        return Application(
            router: router(),
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: [IdleConnectionHandler(idle)], idleTimeout: .milliseconds(Int64(limits.httpIdleTimeoutMs)))),
            configuration: .init(
                address: .hostname(host, port: port), serverName: "seckill-ledger",
                availableConnectionsDelegate: ConnectionCap(
                    maxConnections: limits.httpMaxConnections, closedAtCap: limits.httpIdleConnectionsClosedAtCap, idle: idle,
                    logger: logger)),
            onServerRunning: { channel in
                let bound = channel.localAddress
                await onServerRunning("\(bound?.ipAddress ?? host):\(bound?.port ?? port)")
            }, logger: logger)
    }

    typealias Handler = @Sendable (Request, LedgerRequestContext) async throws -> Response

    /// Every route of the contract (`/openapi.yaml`).
    var routes: [(method: HTTPRequest.Method, path: String, handler: Handler)] {
        [
            (.get, "/health", { _, _ in try JSONResponse.make(.ok, ["status": "ok"]) }),
            (.get, "/ready", ready),
            (.get, "/metrics", metrics),
            (.get, "/openapi.yaml", { _, _ in
                Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(bytes: PackageResources.openapi_yaml)))
            }),
            (.post, "/v1/products", listProduct),
            (.post, "/v1/products/:id/stock", addStock),
            (.get, "/v1/products/:id", product),
            (.post, "/v1/seckill", reserve),
            (.get, "/v1/reservations/:id", reservation),
            (.post, "/v1/reservations/:id/confirm", confirm),
            (.post, "/v1/reservations/:id/cancel", cancel),
            (.get, "/v1/users/me/reservations", myReservations),
            (.get, "/v1/audit/reservations/:id/events", reservationEvents),
            (.get, "/v1/audit/products/:id/events", productEvents),
            (.get, "/v1/audit/users/:id/events", userEvents),
            (.get, "/v1/events", events),
        ]
    }

    public func router() -> Router<LedgerRequestContext> {
        let router = Router(context: LedgerRequestContext.self)
        let routes = self.routes
        // Outermost, so it counts the status ProblemMiddleware made of a thrown error.
        router.add(middleware: RequestMetricsMiddleware())
        router.add(middleware: ProblemMiddleware(
            routes: routes.map { ($0.method, $0.path) }, repeatedWarnings: LogThrottle(intervalMs: parts.limits.repeatedWarningIntervalMs)))
        router.add(middleware: AuthenticationMiddleware(mode: parts.authentication, maxTokenBytes: parts.limits.maxBearerTokenBytes))
        for route in routes {
            router.on(RouterPath(route.path), method: route.method, use: route.handler)
        }
        return router
    }

    @Sendable func ready(_ request: Request, context: LedgerRequestContext) async throws -> Response {
        let report = await readiness.report()
        // Without PostgreSQL nothing can be decided; without Redis or Kafka the ledger still can.
        guard report.failures["postgres"] == nil else {
            throw Problem.unavailable("not answering: \(report.failures.keys.sorted().joined(separator: ", "))")
        }
        let gate = parts.breaker.stateName
        var body = ["status": report.isReady && parts.breaker.isClosed ? "ready" : "degraded", "gate": gate]
        for dependency in ["postgres", "redis", "kafka"] { body[dependency] = report.failures[dependency] == nil ? "up" : "down" }
        return try JSONResponse.make(.ok, body)
    }

    /// The Prometheus text format of every metric the process recorded.
    @Sendable func metrics(_ request: Request, context: LedgerRequestContext) async throws -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: parts.metrics.emitToBuffer())))
    }

    // MARK: Products

    /// Spends one request of `key`'s budget, or refuses with 429.
    private func spend<Key>(_ limiter: RateLimiter<Key>, _ key: Key) throws {
        let decision = limiter.decide(key)
        guard decision.isAllowed else {
            throw Problem.rateLimited(decision, "at most \(limiter.policy.burst) requests at once and \(limiter.policy.ratePerSecond) a second")
        }
    }

    /// A user's writes spend from the users' budget, an admin's from the admins'.
    private func spendWrite(_ caller: Identity) throws {
        try spend(caller.isAdmin ? adminWrites : userWrites, caller.userId)
    }

    @Sendable func listProduct(_ request: Request, context: LedgerRequestContext) async throws -> Response {
        let admin = try context.admin()
        try spendWrite(admin)
        let body = try await RequestDecoding.body(request, as: ProductListingRequest.self, maxBytes: parts.limits.maxBodyBytes)
        guard let startsAt = Timestamp(iso8601: body.startsAt), let endsAt = Timestamp(iso8601: body.endsAt) else {
            throw Problem.invalid("startsAt and endsAt must be ISO-8601 times")
        }
        let listing = ProductListed(
            productId: body.id, name: body.name, priceMinor: body.priceMinor, currency: body.currency, stock: body.stock,
            startsAt: startsAt, endsAt: endsAt, limitPerUser: body.limitPerUser, reservationTTLSeconds: body.reservationTTLSeconds)
        switch try await parts.writer.submit(.listProduct(listing), metadata: metadata(request, admin)) {
        case .product(let state, let created):
            catalog.invalidate(body.id)
            return try JSONResponse.make(created ? .created : .ok, ProductView(state, available: state.available, now: .now()))
        case .rejected(let rejection):
            throw SeckillService.problem(for: rejection)
        case .reservation:
            preconditionFailure("a listing answers with a product")
        }
    }

    @Sendable func addStock(_ request: Request, context: LedgerRequestContext) async throws -> Response {
        let admin = try context.admin()
        try spendWrite(admin)
        let productId = try RequestDecoding.id(context, "id")
        let body = try await RequestDecoding.body(request, as: StockRequest.self, maxBytes: parts.limits.maxBodyBytes)
        switch try await parts.writer.submit(.addStock(productId: productId, quantity: body.quantity), metadata: metadata(request, admin)) {
        case .product(let state, _):
            catalog.invalidate(productId)
            return try JSONResponse.make(.ok, ProductView(state, available: state.available, now: .now()))
        case .rejected(let rejection):
            throw SeckillService.problem(for: rejection)
        case .reservation:
            preconditionFailure("adding stock answers with a product")
        }
    }

    @Sendable func product(_ request: Request, context: LedgerRequestContext) async throws -> Response {
        let productId = try RequestDecoding.id(context, "id")
        if let caller = context.identity {
            if catalog.fresh(productId) == nil { try spend(reads, "user:\(caller.userId)") }
        } else {
            try spend(reads, "address:\(context.clientAddress)")
        }
        guard let product = try await catalog.product(productId) else { throw Problem(.unknownProduct, detail: "no product \(productId)") }
        // Live availability from the read model (it counts open tentatives); the ledger's
        // figure when Redis has not projected the product, does not answer, or the gate's
        // breaker is open (Redis failing, or its model missing).
        var available = product.available
        if parts.breaker.isClosed, let keys = try? await parts.generation.current().product(productId),
            let live = try? await parts.redis.command(["HGET", RedisArgument(keys.config), "available"]).integer
        {
            available = live
        }
        return try JSONResponse.make(.ok, ProductView(product, available: available, now: .now()))
    }

    // MARK: Reservations

    @Sendable func reserve(_ request: Request, context: LedgerRequestContext) async throws -> Response {
        let caller = try context.user()
        let key = request.headers.value(.idempotencyKey)
        let body = try await RequestDecoding.body(request, as: SeckillRequest.self, maxBytes: parts.limits.maxBodyBytes)
        let state = try await seckill.reserve(
            productId: body.productId, quantity: body.quantity, idempotencyKey: key, caller: caller, metadata: metadata(request, caller))
        return JSONResponse.make(.created, bytes: ReservationView(state).json)
    }

    @Sendable func reservation(_ request: Request, context: LedgerRequestContext) async throws -> Response {
        let caller = try context.user()
        let id = try RequestDecoding.reservationID(context, "id")
        guard let state = try await parts.reader.reservation(id), caller.isAdmin || state.userId == caller.userId else {
            throw Problem(.unknownReservation, detail: "no reservation \(id)")
        }
        return JSONResponse.make(.ok, bytes: ReservationView(state).json)
    }

    @Sendable func confirm(_ request: Request, context: LedgerRequestContext) async throws -> Response {
        let caller = try context.user()
        try spendWrite(caller)
        let id = try RequestDecoding.reservationID(context, "id")
        let body = try await RequestDecoding.body(request, as: ConfirmRequest.self, maxBytes: parts.limits.maxBodyBytes)
        let state = try await end(
            .confirm(reservationId: id, userId: caller.isAdmin ? nil : caller.userId, orderId: UUID.v7().lowercased, paymentRef: body.paymentRef),
            request, caller)
        return try JSONResponse.make(.ok, ["reservationId": state.reservationId.text, "orderId": state.orderId ?? "", "status": state.status.rawValue])
    }

    @Sendable func cancel(_ request: Request, context: LedgerRequestContext) async throws -> Response {
        let caller = try context.user()
        try spendWrite(caller)
        let id = try RequestDecoding.reservationID(context, "id")
        let state = try await end(.cancel(reservationId: id, userId: caller.isAdmin ? nil : caller.userId), request, caller)
        return try JSONResponse.make(.ok, ["reservationId": state.reservationId.text, "status": state.status.rawValue])
    }

    private func end(_ command: LedgerCommand, _ request: Request, _ caller: Identity) async throws -> ReservationState {
        switch try await parts.writer.submit(command, metadata: metadata(request, caller)) {
        case .reservation(let state, _): return state
        case .rejected(let rejection): throw SeckillService.problem(for: rejection)
        case .product: preconditionFailure("ending a reservation answers with a reservation")
        }
    }

    @Sendable func myReservations(_ request: Request, context: LedgerRequestContext) async throws -> Response {
        let caller = try context.user()
        let (after, limit) = try RequestDecoding.page(request, limits: parts.limits)
        let states = try await parts.reader.reservations(userId: caller.userId, after: after, limit: limit)
        return try JSONResponse.make(.ok, ReservationPage(
            items: states.map(ReservationView.init), next: states.count == limit ? states.last?.reservedPosition : nil))
    }

    // MARK: Audit

    @Sendable func reservationEvents(_ request: Request, context: LedgerRequestContext) async throws -> Response {
        _ = try context.admin()
        let id = try RequestDecoding.reservationID(context, "id")
        let (after, limit) = try RequestDecoding.page(request, limits: parts.limits)
        let events = try await parts.reader.stream(StreamID.reservation(id)).filter { $0.position > after }.prefix(limit)
        return JSONResponse.events(Array(events), limit: limit)
    }

    @Sendable func productEvents(_ request: Request, context: LedgerRequestContext) async throws -> Response {
        _ = try context.admin()
        let productId = try RequestDecoding.id(context, "id")
        let (after, limit) = try RequestDecoding.page(request, limits: parts.limits)
        return JSONResponse.events(try await parts.reader.events(productId: productId, after: after, limit: limit), limit: limit)
    }

    @Sendable func userEvents(_ request: Request, context: LedgerRequestContext) async throws -> Response {
        _ = try context.admin()
        let userId = try RequestDecoding.id(context, "id")
        let (after, limit) = try RequestDecoding.page(request, limits: parts.limits)
        return JSONResponse.events(try await parts.reader.events(userId: userId, after: after, limit: limit), limit: limit)
    }

    @Sendable func events(_ request: Request, context: LedgerRequestContext) async throws -> Response {
        _ = try context.admin()
        let (after, limit) = try RequestDecoding.page(request, limits: parts.limits)
        return JSONResponse.events(try await parts.reader.events(after: after, limit: limit), limit: limit)
    }

    /// The caller and the request's `X-Request-ID`, which is kept only when it is 1…128
    /// printable ASCII characters: it goes into every event and Kafka message, never raw.
    private func metadata(_ request: Request, _ caller: Identity) -> EventMetadata {
        let requestId = request.headers.value(.xRequestID).flatMap {
            StoredText.isToken($0, maxBytes: parts.limits.maxMetadataFieldBytes) ? $0 : nil
        }
        return EventMetadata(requestId: requestId, actor: caller.actor)
    }
}

extension HTTPField.Name {
    static let idempotencyKey = Self("Idempotency-Key")!
    static let xRequestID = Self("X-Request-ID")!
}
