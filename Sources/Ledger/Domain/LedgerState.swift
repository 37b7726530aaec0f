/// The ledger's state as a fold of its events, and the rules that decide commands against it.
///
/// The writer loads the part of the state a batch touches (locked rows of the inline tables),
/// decides every command here, and writes the resulting events and table changes. Audits fold
/// the whole event log with `apply` and compare the result with the tables. Pure: no I/O.
public struct LedgerState: Sendable, Hashable {
    public var products: [Int64: ProductState] = [:]
    /// Units of non-reverted reservations per (product, user).
    public var purchases: [PurchaseKey: Int64] = [:]
    public var reservations: [ReservationID: ReservationState] = [:]
    public var idempotencyKeys: [IdempotencyKey: ReservationID] = [:]

    public init() {}

    // MARK: Fold

    /// Applies one recorded event. Events must come in position order.
    public mutating func apply(_ event: LedgerEvent, position: Int64) {
        switch event {
        case .productListed(let listed):
            products[listed.productId] = ProductState(
                listing: listed, streamVersion: 1, totalStock: listed.stock, reservedUnits: 0)
        case .stockAdded(let added):
            products[added.productId]?.totalStock += added.quantity
            products[added.productId]?.streamVersion += 1
        case .stockReserved(let reserved):
            products[reserved.productId]?.reservedUnits += reserved.quantity
            purchases[PurchaseKey(productId: reserved.productId, userId: reserved.userId), default: 0] += reserved.quantity
            reservations[reserved.reservationId] = ReservationState(
                reservationId: reserved.reservationId, productId: reserved.productId, userId: reserved.userId,
                quantity: reserved.quantity, unitPriceMinor: reserved.unitPriceMinor, expiresAt: reserved.expiresAt,
                idempotencyKey: reserved.idempotencyKey, status: .reserved, reservedPosition: position)
            if let key = reserved.idempotencyKey {
                idempotencyKeys[IdempotencyKey(userId: reserved.userId, key: key)] = reserved.reservationId
            }
        case .reservationReverted(let reverted):
            products[reverted.productId]?.reservedUnits -= reverted.quantity
            purchases[PurchaseKey(productId: reverted.productId, userId: reverted.userId), default: 0] -= reverted.quantity
            reservations[reverted.reservationId]?.status = ReservationStatus(reverted.reason)
            reservations[reverted.reservationId]?.endedPosition = position
        case .orderConfirmed(let confirmed):
            reservations[confirmed.reservationId]?.status = .confirmed
            reservations[confirmed.reservationId]?.endedPosition = position
            reservations[confirmed.reservationId]?.orderId = confirmed.orderId
            reservations[confirmed.reservationId]?.paymentRef = confirmed.paymentRef
        }
    }

    // MARK: Decisions

    /// Decides `command` at time `now`. Accepted events get positions from `nextPosition`
    /// onwards (advanced past them) and are applied to this state, so the next command of the
    /// same batch sees them.
    public mutating func execute(
        _ command: LedgerCommand, at now: Timestamp, nextPosition: inout Int64, limits: Limits
    ) -> (events: [(position: Int64, event: LedgerEvent)], result: CommandResult) {
        if let rejection = command.validate(limits) { return ([], .rejected(rejection)) }
        let decision = decide(command, at: now)
        switch decision {
        case .reject(let rejection):
            return ([], .rejected(rejection))
        case .answer(let result):
            return ([], result)
        case .append(let events, let answer):
            var positioned = [(position: Int64, event: LedgerEvent)]()
            for event in events {
                apply(event, position: nextPosition)
                positioned.append((nextPosition, event))
                nextPosition += 1
            }
            return (positioned, answer(self))
        }
    }

    private enum Decision {
        case reject(LedgerRejection)
        /// Nothing to append; answer from the current state (a repeat of something done).
        case answer(CommandResult)
        /// Append these events, then answer from the state they produce.
        case append([LedgerEvent], (LedgerState) -> CommandResult)
    }

    private func decide(_ command: LedgerCommand, at now: Timestamp) -> Decision {
        switch command {
        case .listProduct(let listing):
            if let existing = products[listing.productId] {
                guard existing.listing == listing else {
                    return .reject(LedgerRejection(.productConflict, "product \(listing.productId) is listed with a different configuration"))
                }
                return .answer(.product(existing, created: false))
            }
            return .append([.productListed(listing)]) { .product($0.products[listing.productId]!, created: true) }

        case .addStock(let productId, let quantity):
            guard products[productId] != nil else { return .reject(unknownProduct(productId)) }
            return .append([.stockAdded(StockAdded(productId: productId, quantity: quantity))]) {
                .product($0.products[productId]!, created: false)
            }

        case .reserve(let reserve):
            return decideReserve(reserve, at: now)

        case .confirm(let reservationId, let userId, let orderId, let paymentRef):
            // Payment that arrives after expiresAt but before the expiry worker reverted the
            // reservation is honoured: whichever of confirm and expire commits first wins.
            return ending(reservationId, userId: userId) { reservation in
                .orderConfirmed(OrderConfirmed(
                    reservationId: reservationId, productId: reservation.productId, userId: reservation.userId,
                    orderId: orderId, paymentRef: paymentRef))
            }

        case .cancel(let reservationId, let userId):
            return revert(reservationId, userId: userId, reason: .cancelled)

        case .expire(let reservationId):
            if let reservation = reservations[reservationId], reservation.status == .reserved, now < reservation.expiresAt {
                return .reject(LedgerRejection(.invalid, "reservation \(reservationId) expires at \(reservation.expiresAt)"))
            }
            return revert(reservationId, userId: nil, reason: .expired)

        case .revert(let reservationId, let reason):
            return revert(reservationId, userId: nil, reason: reason)
        }
    }

    private func decideReserve(_ reserve: LedgerCommand.Reserve, at now: Timestamp) -> Decision {
        // A retried key answers with the original reservation, whatever happened since; the
        // same key on another request is a client bug, said rather than hidden.
        if let key = reserve.idempotencyKey,
            let originalId = idempotencyKeys[IdempotencyKey(userId: reserve.userId, key: key)],
            let original = reservations[originalId]
        {
            guard original.productId == reserve.productId, original.quantity == reserve.quantity else {
                return .reject(LedgerRejection(
                    .idempotencyKeyReused,
                    "the key names a reservation of \(original.quantity) of product \(original.productId); use a new key for another request"))
            }
            return .answer(.reservation(original, duplicate: true))
        }
        guard let product = products[reserve.productId] else { return .reject(unknownProduct(reserve.productId)) }
        if reservations[reserve.reservationId] != nil {
            return .reject(LedgerRejection(.invalid, "reservation id \(reserve.reservationId) is already used"))
        }
        let listing = product.listing
        if now < listing.startsAt { return .reject(LedgerRejection(.notStarted, "the sale starts at \(listing.startsAt)")) }
        if now >= listing.endsAt { return .reject(LedgerRejection(.ended, "the sale ended at \(listing.endsAt)")) }
        if product.available < reserve.quantity {
            return .reject(LedgerRejection(.soldOut, "\(product.available) of \(product.totalStock) units left"))
        }
        let held = purchases[PurchaseKey(productId: reserve.productId, userId: reserve.userId), default: 0]
        if held + reserve.quantity > listing.limitPerUser {
            return .reject(LedgerRejection(.limitExceeded, "limit is \(listing.limitPerUser) per user; \(held) already held"))
        }
        let event = StockReserved(
            reservationId: reserve.reservationId, productId: reserve.productId, userId: reserve.userId,
            quantity: reserve.quantity, unitPriceMinor: listing.priceMinor,
            expiresAt: now.adding(seconds: listing.reservationTTLSeconds), idempotencyKey: reserve.idempotencyKey)
        return .append([.stockReserved(event)]) { .reservation($0.reservations[reserve.reservationId]!, duplicate: false) }
    }

    private func revert(_ reservationId: ReservationID, userId: Int64?, reason: RevertReason) -> Decision {
        ending(reservationId, userId: userId) { reservation in
            .reservationReverted(ReservationReverted(
                reservationId: reservationId, productId: reservation.productId, userId: reservation.userId,
                quantity: reservation.quantity, reason: reason))
        }
    }

    /// Invariant 3: a reservation ends once. Another user's reservation is reported unknown.
    private func ending(_ reservationId: ReservationID, userId: Int64?, _ event: (ReservationState) -> LedgerEvent) -> Decision {
        guard let reservation = reservations[reservationId], userId == nil || userId == reservation.userId else {
            return .reject(LedgerRejection(.unknownReservation, "no reservation \(reservationId)"))
        }
        guard reservation.status == .reserved else {
            return .reject(LedgerRejection(.alreadyEnded, "reservation \(reservationId) is already \(reservation.status.rawValue)"))
        }
        return .append([event(reservation)]) { .reservation($0.reservations[reservationId]!, duplicate: false) }
    }

    private func unknownProduct(_ productId: Int64) -> LedgerRejection {
        LedgerRejection(.unknownProduct, "no product \(productId)")
    }
}
