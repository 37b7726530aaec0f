import Foundation

/// A point in time with millisecond precision, stored as milliseconds since the Unix epoch so
/// that what is written to and read back from PostgreSQL and JSON compares exactly.
/// JSON form: ISO-8601 UTC with milliseconds, `2026-11-24T16:00:00.000Z`.
public struct Timestamp: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public let epochMs: Int64

    public init(epochMs: Int64) {
        self.epochMs = epochMs
    }

    public init(_ date: Date) {
        epochMs = Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    public static func now() -> Timestamp { Timestamp(Date()) }

    public func adding(seconds: Int64) -> Timestamp { Timestamp(epochMs: epochMs + seconds * 1000) }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.epochMs < rhs.epochMs }

    /// Parses ISO-8601 with or without fractional seconds and with any UTC offset.
    public init?(iso8601 text: String) {
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) {
            self.init(date)
        } else if let date = try? Date(text, strategy: Date.ISO8601FormatStyle()) {
            self.init(date)
        } else {
            return nil
        }
    }

    public var iso8601: String {
        // Civil-from-days (Howard Hinnant), so formatting needs no calendar or locale.
        let days = epochMs >= 0 ? epochMs / 86_400_000 : (epochMs - 86_399_999) / 86_400_000
        let msOfDay = epochMs - days * 86_400_000
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(msOfDay / 3_600_000, 2)):"
            + "\(pad(msOfDay / 60_000 % 60, 2)):\(pad(msOfDay / 1000 % 60, 2)).\(pad(msOfDay % 1000, 3))Z"
    }

    public var description: String { iso8601 }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = Timestamp(iso8601: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO-8601 time: \(text)")
        }
        self = value
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(iso8601)
    }
}
