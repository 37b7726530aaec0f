/// What a command did.
public enum CommandResult: Sendable, Hashable {
    /// The product's state after the command; `created` false when the same listing existed.
    case product(ProductState, created: Bool)
    /// The reservation's state; `duplicate` when an earlier reservation with the same
    /// idempotency key answered instead (no new event).
    case reservation(ReservationState, duplicate: Bool)
    case rejected(LedgerRejection)

    public var rejection: LedgerRejection? {
        if case .rejected(let rejection) = self { return rejection }
        return nil
    }

    public var reservation: ReservationState? {
        if case .reservation(let state, _) = self { return state }
        return nil
    }
}
