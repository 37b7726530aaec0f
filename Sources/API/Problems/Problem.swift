import HTTPTypes
import Hummingbird
import Ledger

/// An RFC 9457 problem: every error the API returns, as `application/problem+json` with a
/// machine-readable `code`. Details never carry credentials or internal state.
public struct Problem: Error, Sendable, Equatable, ResponseGenerator {
    public var status: HTTPResponse.Status
    public var code: ProblemCode
    public var title: String
    public var detail: String
    /// Seconds a client should wait before retrying (503, 429).
    public var retryAfterSeconds: Int?
    /// The methods a path does take (405).
    public var allowedMethods: [String]?
    /// The bucket that refused the request (429): its `RateLimit` and `RateLimit-Policy`.
    public var rateLimit: RateLimitDecision?

    /// The code's own status and title unless given (an `invalid` 4xx keeps the status it came with).
    public init(_ code: ProblemCode, detail: String, status: HTTPResponse.Status? = nil, title: String? = nil, retryAfterSeconds: Int? = nil) {
        self.status = status ?? code.status
        self.code = code
        self.title = title ?? code.title
        self.detail = detail
        self.retryAfterSeconds = retryAfterSeconds
    }

    public static func invalid(_ detail: String) -> Problem { Problem(.invalid, detail: detail) }
    public static func unauthorized(_ detail: String) -> Problem { Problem(.unauthorized, detail: detail) }
    public static func forbidden(_ detail: String) -> Problem { Problem(.forbidden, detail: detail) }

    public static func unavailable(_ detail: String, retryAfterSeconds: Int = 1) -> Problem {
        Problem(.unavailable, detail: detail, retryAfterSeconds: retryAfterSeconds)
    }

    public static func overloaded(_ detail: String) -> Problem { Problem(.overloaded, detail: detail, retryAfterSeconds: 1) }

    /// A refusal by a rate limit, with the headers that tell the client when to come back.
    public static func rateLimited(_ decision: RateLimitDecision, _ detail: String) -> Problem {
        var problem = Problem(.rateLimited, detail: detail, retryAfterSeconds: decision.retryAfterSeconds)
        problem.rateLimit = decision
        return problem
    }

    /// The answer most requests of a sale get (none left), built once with its body rather than
    /// a detail string, its JSON and a copy into a buffer per answer.
    public static let soldOut = Problem(.soldOut, detail: "no units of this product are left")
    private static let soldOutBody = ByteBuffer(bytes: soldOut.body)

    /// Built once: the losing 99 % are answered with a problem.
    private static let fields: HTTPFields = [.contentType: "application/problem+json"]

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = Self.fields
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        if let allowedMethods { headers[.allow] = allowedMethods.joined(separator: ", ") }
        if let rateLimit {
            headers[.rateLimit] = rateLimit.headerValue
            headers[.rateLimitPolicy] = rateLimit.policy.headerValue
        }
        let bytes = self == Self.soldOut ? Self.soldOutBody : ByteBuffer(bytes: body)
        return Response(status: status, headers: headers, body: .init(byteBuffer: bytes))
    }

    /// Written by hand: JSONSerialization was a third of the sold-out path's CPU.
    var body: [UInt8] {
        var json = JSONObjectWriter(capacity: 160 + detail.utf8.count)
        json.field("code", code.rawValue)
        json.field("detail", detail)
        json.field("status", Int64(status.code))
        json.field("title", title)
        json.field("type", "/problems/" + code.rawValue)
        return json.finishedBytes()
    }
}

extension HTTPField.Name {
    static let rateLimit = Self("RateLimit")!
    static let rateLimitPolicy = Self("RateLimit-Policy")!
}
