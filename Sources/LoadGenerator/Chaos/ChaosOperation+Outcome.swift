extension ChaosOperation.Outcome {
    /// What an HTTP answer tells a client. `code` is the problem body's `code`; `reservationId`
    /// the one a 2xx names. A 503 `overloaded` promises nothing was done; any other 5xx (a
    /// dependency down, the balancer finding no node) may have been done or not.
    public init(status: Int, code: String?, reservationId: String?) {
        switch status {
        case 200..<300:
            self = .ok(reservationId: reservationId ?? "")
        case 503 where code == "overloaded":
            self = .refused(code: "overloaded")
        case 400..<500:
            self = .refused(code: code ?? "status-\(status)")
        default:
            self = .unknown(reason: code.map { "\(status) \($0)" } ?? "status \(status)")
        }
    }

    /// Whether a client sends the same request again (with the same Idempotency-Key): when the
    /// outcome is unknown, or the server asked it to come back later.
    public var isRetried: Bool {
        switch self {
        case .ok: false
        case .unknown: true
        case .refused(let code): code == "overloaded" || code == "rate-limited"
        }
    }

    var isOK: Bool {
        if case .ok = self { return true }
        return false
    }

    /// A 500: the server failed in a way it should have answered otherwise (a bug, not a fault).
    public var isServerError: Bool {
        if case .unknown(let reason) = self { return reason.hasPrefix("500") }
        return false
    }
}
