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
        if let epochMs = Self.epochMs(canonical: text) {
            self.init(epochMs: epochMs)
        } else if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) {
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
        // Written as bytes: interpolating padded strings made ten strings per timestamp, and
        // every event and reservation answer carries one or two.
        var text = [UInt8]()
        text.reserveCapacity(24)
        func digits(_ value: Int64, _ width: Int) {
            var divisor: Int64 = 1
            for _ in 1..<width { divisor *= 10 }
            while divisor > 0 {
                text.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
                divisor /= 10
            }
        }
        if (0...9999).contains(year) { digits(year, 4) } else { text += Array(String(year).utf8) }
        func field(_ separator: Unicode.Scalar, _ value: Int64, _ width: Int) {
            text.append(UInt8(ascii: separator))
            digits(value, width)
        }
        field("-", month, 2)
        field("-", day, 2)
        field("T", msOfDay / 3_600_000, 2)
        field(":", msOfDay / 60_000 % 60, 2)
        field(":", msOfDay / 1000 % 60, 2)
        field(".", msOfDay % 1000, 3)
        text.append(UInt8(ascii: "Z"))
        return String(decoding: text, as: UTF8.self)
    }

    public var description: String { iso8601 }

    /// The form `iso8601` writes (`2026-11-24T18:00:00.000Z`), parsed without a formatter: the
    /// replay reads it once per event. Anything else returns nil and takes the general parser.
    static func epochMs(canonical text: String) -> Int64? {
        let utf8 = text.utf8
        return utf8.withContiguousStorageIfAvailable { bytes -> Int64? in
            guard bytes.count == 24, bytes[4] == 0x2D, bytes[7] == 0x2D, bytes[10] == 0x54, bytes[13] == 0x3A,
                bytes[16] == 0x3A, bytes[19] == 0x2E, bytes[23] == 0x5A
            else { return nil }
            func number(_ start: Int, _ count: Int) -> Int64? {
                var value: Int64 = 0
                for index in start..<start + count {
                    let digit = Int64(bytes[index]) - 0x30
                    guard digit >= 0 && digit <= 9 else { return nil }
                    value = value * 10 + digit
                }
                return value
            }
            guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
                let minute = number(14, 2), let second = number(17, 2), let ms = number(20, 3),
                (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60
            else { return nil }
            // Days-from-civil (Howard Hinnant), the inverse of `iso8601`.
            let y = month <= 2 ? year - 1 : year
            let era = (y >= 0 ? y : y - 399) / 400
            let yearOfEra = y - era * 400
            let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
            let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
            let days = era * 146_097 + dayOfEra - 719_468
            return days * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1000 + ms
        } ?? nil
    }

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
