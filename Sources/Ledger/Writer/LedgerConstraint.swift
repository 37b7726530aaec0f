/// The constraints and unique indexes of the migrations whose violation the writer turns into
/// a rejection of one command (see `LedgerWriter.rejection(for:command:)`).
enum LedgerConstraint: String, CaseIterable {
    /// `inventory.available` never below zero.
    case inventoryNeverOversold = "inventory_never_oversold"
    /// A user's purchased units of a product within its limit.
    case purchasesWithinLimit = "purchases_within_limit"
    /// One event per (stream, version): a reservation id used twice.
    case eventsStreamVersion = "events_stream_version"
    /// At most one ending event (confirm, cancel, expire, revert) per reservation.
    case eventsReservationEndsOnce = "events_reservation_ends_once"
    case reservationsPrimaryKey = "reservations_pkey"
}
