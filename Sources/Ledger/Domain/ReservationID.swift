import Foundation

/// A reservation's id: a UUID in the canonical lower-case text form the API, the events, Redis
/// and PostgreSQL all spell it in. Text becomes an id only through `init?(_:)`, which checks that
/// form, so code holding a `ReservationID` never checks again and never sends PostgreSQL a value
/// its `uuid` type would refuse.
public struct ReservationID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let text: String

    public init?(_ text: String) {
        guard UUID.isCanonical(text) else { return nil }
        self.text = text
    }

    public init(_ uuid: UUID) {
        text = uuid.lowercased
    }

    /// A new time-ordered id: reservations made later sort later (see `UUID.v7`).
    public static func v7(at time: Timestamp = .now()) -> ReservationID {
        ReservationID(UUID.v7(at: time))
    }

    public var description: String { text }

    public static func < (lhs: ReservationID, rhs: ReservationID) -> Bool { lhs.text < rhs.text }
}

extension ReservationID: Codable {
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        guard let id = ReservationID(try container.decode(String.self)) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "a reservation id is a lower-case UUID")
        }
        self = id
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}
