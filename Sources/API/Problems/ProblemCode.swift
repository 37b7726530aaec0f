import HTTPTypes

/// Every machine-readable `code` the API answers with, each with its status and title, defined
/// once. The problem's `type` is `/problems/<code>`.
public enum ProblemCode: String, CaseIterable, Sendable {
    case invalid
    case unauthorized
    case forbidden
    case notFound = "not-found"
    case unknownProduct = "unknown-product"
    case unknownReservation = "unknown-reservation"
    case methodNotAllowed = "method-not-allowed"
    case tooLarge = "too-large"
    case soldOut = "sold-out"
    case limitExceeded = "limit-exceeded"
    case notStarted = "not-started"
    case ended
    case alreadyEnded = "already-ended"
    case productConflict = "product-conflict"
    case idempotencyKeyReused = "idempotency-key-reused"
    case rateLimited = "rate-limited"
    case unavailable
    /// The service is past what it can answer in time (a queue full, or waiting longer than the
    /// shedding target): nothing was done, retry after a moment.
    case overloaded
    case `internal`

    public var status: HTTPResponse.Status {
        switch self {
        case .invalid: .badRequest
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .notFound, .unknownProduct, .unknownReservation: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .tooLarge: .contentTooLarge
        case .soldOut, .limitExceeded, .alreadyEnded, .productConflict: .conflict
        case .notStarted, .ended, .idempotencyKeyReused: .unprocessableContent
        case .rateLimited: .tooManyRequests
        case .unavailable, .overloaded: .serviceUnavailable
        case .internal: .internalServerError
        }
    }

    public var title: String {
        switch self {
        case .invalid: "The request is not valid"
        case .unauthorized: "Authentication is required"
        case .forbidden: "Not allowed"
        case .notFound, .unknownProduct, .unknownReservation: "Not found"
        case .methodNotAllowed: "Method not allowed"
        case .tooLarge: "Request body too large"
        case .soldOut: "Sold out"
        case .limitExceeded: "Per-user limit reached"
        case .notStarted: "The sale has not started"
        case .ended: "The sale has ended"
        case .alreadyEnded: "The reservation has already ended"
        case .productConflict: "A different listing exists"
        case .idempotencyKeyReused: "The Idempotency-Key names another request"
        case .rateLimited: "Too many requests"
        case .unavailable: "A dependency is unavailable"
        case .overloaded: "The service is overloaded"
        case .internal: "Internal error"
        }
    }
}
