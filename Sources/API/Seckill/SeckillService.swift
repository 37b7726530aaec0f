import Foundation
import Ledger
import Logging
import Projections

/// The write path of `POST /v1/seckill` (docs/architecture.md, the write path): local checks, the Redis gate, the
/// group-commit append, the gate's rollback when the ledger says no. Answers only after the
/// ledger decided; every refusal is a `Problem` with the ledger's (or the gate's) reason.
struct SeckillService: Sendable {
    let writer: LedgerWriter
    let gate: ReservationGate
    let catalog: ProductCatalog
    let stockCheck: LedgerStockCheck
    let rateLimiter: RateLimiter<Int64>
    let attemptsInFlight: AttemptsInFlight
    let breaker: GateBreaker
    let degradedAttemptsInFlight: AttemptsInFlight
    let limits: Limits
    let logger: Logger

    /// `metadata` is built only for an attempt that reaches the gate: its actor string and
    /// header lookup would be wasted on the losers the sold-out flag answers.
    func reserve(
        productId: Int64, quantity: Int64, idempotencyKey: String?, caller: Identity, metadata: @autoclosure () -> EventMetadata
    ) async throws -> ReservationState {
        guard productId > 0 else { throw Problem.invalid("productId must be a positive integer") }
        guard quantity >= 1, quantity <= limits.maxQuantityPerReservation else {
            throw Problem.invalid("quantity must be between 1 and \(limits.maxQuantityPerReservation)")
        }
        if let idempotencyKey, !LedgerCommand.isValidIdempotencyKey(idempotencyKey, limits) {
            throw Problem.invalid("Idempotency-Key must be 1 to \(limits.maxIdempotencyKeyBytes) printable ASCII characters")
        }
        // A product the cache does not hold costs a ledger read: spend the budget first, so
        // made-up product ids cannot flood the reader. Cached answers (the losing 99 %) spend
        // nothing until they pass the local checks below.
        let cached = catalog.fresh(productId)
        let found: ProductCatalog.Sale?
        if let cached {
            found = cached
        } else {
            try spend(caller)
            found = try await catalog.sale(productId)
        }
        guard let sale = found else {
            throw Self.problem(for: LedgerRejection(.unknownProduct, "product \(productId) is not listed"))
        }
        let product = sale.product
        let now = Timestamp.now()
        if now < product.listing.startsAt { throw Self.problem(for: LedgerRejection(.notStarted, "the sale starts at \(product.listing.startsAt)")) }
        if now >= product.listing.endsAt { throw Self.problem(for: LedgerRejection(.ended, "the sale ended at \(product.listing.endsAt)")) }
        if quantity > product.listing.limitPerUser {
            throw Self.problem(for: LedgerRejection(.limitExceeded, "at most \(product.listing.limitPerUser) per user"))
        }
        if idempotencyKey == nil, sale.isSoldOut { throw Problem.soldOut }
        // After the local answers: they cost nothing; the limit protects the gate and the writer.
        if cached != nil { try spend(caller) }
        // A writer that is shedding would refuse the attempt after the gate took its units.
        if writer.isSheddingNewWork { throw Problem.overloaded("The ledger is overloaded; retry shortly with the same Idempotency-Key") }
        guard attemptsInFlight.enter() else {
            throw Problem.overloaded("\(attemptsInFlight.cap) attempts are already on their way to the ledger; retry shortly with the same Idempotency-Key")
        }
        defer { attemptsInFlight.leave() }
        let admittedAt = ContinuousClock.now

        let reservationId = ReservationID.v7()
        let reserve = LedgerCommand.Reserve(
            reservationId: reservationId, productId: productId, userId: caller.userId, quantity: quantity, idempotencyKey: idempotencyKey)
        guard breaker.admitsCall() else {
            return try await reserveWithoutGate(reserve, metadata: metadata())
        }
        let attempt: Attempt
        do {
            attempt = try await gateThenAppend(try await gate.attempt(reserve, now: now), .reserve(reserve), metadata: metadata())
        } catch let error as RedisError where error.code == .overloaded || error.code == .closed {
            throw error  // Redis is busy, not broken: sending the excess to PostgreSQL would only move it there
        } catch {
            // Redis is down, frozen or confused. The call may have taken a tentative; the
            // reconciler undoes it if the ledger does not take the reservation, the projector
            // confirms it if it does.
            breaker.recordFailure(error)
            return try await reserveWithoutGate(reserve, metadata: metadata())
        }
        let gateDecision: GateDecision
        let appended: Result<CommandResult, Error>
        switch attempt {
        case .appended(let decided, let ledgerResult):
            if case .success = ledgerResult { attemptsInFlight.answered(after: .now - admittedAt) }
            (gateDecision, appended) = (decided, ledgerResult)
        case .refused(.soldOut):
            // The gate's copy may be behind the ledger: units given back there are the ledger's to sell.
            if await stockCheck.ledgerDecides(productId, needing: quantity) {
                return try await reserveWithoutGate(reserve, metadata: metadata())
            }
            // Sold out means fewer units than asked; only a refused single unit means none left.
            guard quantity > 1 else {
                catalog.markSoldOut(productId)
                throw Problem.soldOut
            }
            throw Self.problem(for: LedgerRejection(.soldOut, "fewer than \(quantity) units of product \(productId) are left"))
        case .refused(.limitExceeded):
            // What the user holds may be behind in the gate's copy too (a cancel or an expiry not projected yet).
            if await stockCheck.ledgerDecidesLimit(productId, userId: caller.userId, quantity: quantity, limitPerUser: product.listing.limitPerUser) {
                return try await reserveWithoutGate(reserve, metadata: metadata())
            }
            throw Self.problem(for: LedgerRejection(.limitExceeded, "at most \(product.listing.limitPerUser) per user"))
        case .refused(.notStarted):
            throw Self.problem(for: LedgerRejection(.notStarted, "the sale has not started"))
        case .refused(.ended):
            throw Self.problem(for: LedgerRejection(.ended, "the sale has ended"))
        case .refused(let decision):
            preconditionFailure("the gate's \(decision) goes on to the ledger")
        }
        let tookUnits = gateDecision == .reserved

        let result: CommandResult
        do {
            result = try appended.get()
        } catch let error as LedgerError where error.code != .unavailable {
            // Not decided (overloaded, shutting down): the units go back on sale now. An
            // `unavailable` commit may have happened; the reconciler decides that one later.
            if tookUnits { await rollback(productId: productId, reservationId: reservationId) }
            throw error
        }
        if tookUnits, result.reservation?.reservationId != reservationId {
            await rollback(productId: productId, reservationId: reservationId)  // refused, or the key's original answered
        }
        if case .duplicate(let earlier) = gateDecision, let bound = result.reservation?.reservationId, bound != earlier {
            // The key's earlier attempt took units in the gate and never reached the ledger (its
            // node died, or its commit failed), and the ledger has now bound the key to another
            // reservation, so that attempt can never commit: its units go back on sale now, not
            // when the reconciler finds them, and the gate no longer counts the key twice.
            await rollback(productId: productId, reservationId: earlier)
        }
        return try answer(result, for: reserve)
    }

    /// A reservation decided by the ledger alone (its guard tables hold stock, limits and keys)
    /// while the gate's breaker is open or its copy is behind, with its own cap on attempts in
    /// flight: without the gate, every loser of a sale would otherwise reach PostgreSQL.
    private func reserveWithoutGate(_ reserve: LedgerCommand.Reserve, metadata: EventMetadata) async throws -> ReservationState {
        guard degradedAttemptsInFlight.enter() else {
            throw Problem.overloaded(
                "Redis is unavailable and \(degradedAttemptsInFlight.cap) attempts already wait for the ledger alone; retry shortly with the same Idempotency-Key")
        }
        defer { degradedAttemptsInFlight.leave() }
        return try answer(try await writer.submit(.reserve(reserve), metadata: metadata), for: reserve)
    }

    /// The reservation the ledger committed (or the key's original), or its refusal as a problem.
    private func answer(_ result: CommandResult, for reserve: LedgerCommand.Reserve) throws -> ReservationState {
        switch result {
        case .reservation(let state, _):
            return state
        case .rejected(let rejection):
            // Sold out for one unit means none left; for more, maybe a few.
            if rejection.code == .soldOut && reserve.quantity == 1 {
                stockCheck.recordSoldOut(reserve.productId)
                catalog.markSoldOut(reserve.productId)
            }
            throw Self.problem(for: rejection)
        case .product:
            preconditionFailure("a reserve command answers with a reservation")
        }
    }

    /// One write of the caller's budget, or 429.
    private func spend(_ caller: Identity) throws {
        let budget = rateLimiter.decide(caller.userId)
        guard budget.isAllowed else {
            throw Problem.rateLimited(
                budget, "at most \(limits.seckillAttemptBurst) writes at once and \(Int(limits.seckillAttemptsPerUserPerSecond)) a second per user")
        }
    }

    /// What the gate decided and, when it let the attempt go on, what the ledger answered.
    private enum Attempt: Sendable {
        case refused(GateDecision)
        case appended(GateDecision, Result<CommandResult, Error>)
    }

    /// The gate, then (when it lets the attempt go on) the group-commit append, started from the
    /// Redis connection's thread: the task wakes once, with both answers, instead of once per
    /// hop. A duplicate key goes to the ledger, which answers with the original; a product the
    /// read model does not hold yet (projector behind) is decided by the ledger alone.
    private func gateThenAppend(_ gateAttempt: GateAttempt, _ command: LedgerCommand, metadata: EventMetadata) async throws -> Attempt {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Attempt, Error>) in
            gate.reserve(gateAttempt) { [writer] decided in
                switch decided {
                case .failure(let error):
                    continuation.resume(throwing: error)
                case .success(let decision) where decision.letsTheLedgerDecide:
                    writer.submit(command, metadata: metadata) { continuation.resume(returning: .appended(decision, $0)) }
                case .success(let decision):
                    continuation.resume(returning: .refused(decision))
                }
            }
        }
    }

    /// Gives a refused attempt's units back in Redis. A failure only delays that: the
    /// reconciler rolls back tentatives the ledger never took.
    private func rollback(productId: Int64, reservationId: ReservationID) async {
        do {
            try await gate.rollback(productId: productId, reservationId: reservationId)
        } catch {
            logger.warning("gate rollback failed; the reconciler will undo it", metadata: ["reservationId": "\(reservationId)", "error": "\(error)"])
        }
    }

    /// The API's answer for a ledger (or gate) refusal.
    static func problem(for rejection: LedgerRejection) -> Problem {
        switch rejection.code {
        case .soldOut: Problem(.soldOut, detail: rejection.detail)
        case .limitExceeded: Problem(.limitExceeded, detail: rejection.detail)
        case .notStarted: Problem(.notStarted, detail: rejection.detail)
        case .ended: Problem(.ended, detail: rejection.detail)
        case .unknownProduct: Problem(.unknownProduct, detail: rejection.detail)
        case .unknownReservation: Problem(.unknownReservation, detail: rejection.detail)
        case .alreadyEnded: Problem(.alreadyEnded, detail: rejection.detail)
        case .productConflict: Problem(.productConflict, detail: rejection.detail)
        case .idempotencyKeyReused: Problem(.idempotencyKeyReused, detail: rejection.detail)
        case .invalid: .invalid(rejection.detail)
        }
    }
}
