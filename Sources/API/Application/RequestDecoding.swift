import Foundation
import Hummingbird
import Ledger
import NIOCore

/// A body that can be read from the flat JSON object the hot routes receive without
/// JSONDecoder (nil: not exactly that shape; the general decoder then explains what is wrong).
protocol FlatDecodable {
    init?(flat object: FlatJSONObject)
}

/// Reading what a request carries, with a problem for every way it can be wrong.
enum RequestDecoding {
    /// The JSON body as `T`: at most `maxBytes`, every field present and of its type.
    static func body<T: Decodable>(_ request: Request, as type: T.Type, maxBytes: Int) async throws -> T {
        try decode(T.self, from: try await collect(request, maxBytes: maxBytes))
    }

    /// The same for a body the hot routes receive, read without JSONDecoder in the usual case:
    /// the flat parser over the body's own bytes.
    static func body<T: Decodable & FlatDecodable>(_ request: Request, as type: T.Type, maxBytes: Int) async throws -> T {
        let buffer = try await collect(request, maxBytes: maxBytes)
        if let value = buffer.withUnsafeReadableBytes({ FlatJSONObject(utf8: $0).flatMap(T.init(flat:)) }) { return value }
        return try decode(T.self, from: buffer)
    }

    @inline(__always)
    private static func collect(_ request: Request, maxBytes: Int) async throws -> ByteBuffer {
        var request = request
        do {
            return try await request.collectBody(upTo: maxBytes)
        } catch is NIOTooManyBytesError {
            throw Problem(.tooLarge, detail: "bodies are limited to \(maxBytes) bytes")
        }
    }

    private static func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            throw Problem.invalid(describe(error))
        } catch {
            throw Problem.invalid("the body is not JSON")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context, _ key: CodingKey? = nil) -> String {
            let keys = context.codingPath + (key.map { [$0] } ?? [])
            return keys.isEmpty ? "the body" : keys.map(\.stringValue).joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context, key)) is missing"
        case .typeMismatch(let type, let context): return "\(path(context)) must be \(describe(type))"
        case .valueNotFound(let type, let context): return "\(path(context)) must be \(describe(type)), not null"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "the body is not valid JSON" : "\(path(context)) is out of range or malformed"
        @unknown default: return "the body does not match the schema"
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        if type == Int64.self || type == Int.self { return "an integer" }
        if type == String.self { return "a string" }
        return "an object"
    }

    /// A path parameter that must be a positive integer id.
    static func id(_ context: LedgerRequestContext, _ name: String) throws -> Int64 {
        guard let text = context.parameters.get(name), let id = Int64(text), id > 0 else {
            throw Problem.invalid("\(name) must be a positive integer")
        }
        return id
    }

    /// A path parameter that must be a reservation id (a lower-case UUID): anything else names no
    /// reservation.
    static func reservationID(_ context: LedgerRequestContext, _ name: String) throws -> ReservationID {
        guard let text = context.parameters.get(name), let id = ReservationID(text) else {
            throw Problem(.unknownReservation, detail: "no reservation \(context.parameters.get(name) ?? "")")
        }
        return id
    }

    /// `after` and `limit` of a paged read.
    static func page(_ request: Request, limits: Limits) throws -> (after: Int64, limit: Int) {
        let query = request.uri.queryParameters
        var after: Int64 = 0
        if let text = query.get("after") {
            guard let value = Int64(text), value >= 0 else { throw Problem.invalid("after must be a non-negative position") }
            after = value
        }
        var limit = limits.defaultPageSize
        if let text = query.get("limit") {
            guard let value = Int(text), value >= 1, value <= limits.maxPageSize else {
                throw Problem.invalid("limit must be between 1 and \(limits.maxPageSize)")
            }
            limit = value
        }
        return (after, limit)
    }
}
