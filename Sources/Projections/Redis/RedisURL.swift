import Ledger

/// `redis://[:password@]host[:port][/db]`.
struct RedisURL: Sendable {
    var host = "127.0.0.1"
    var port: Int32 = 6379
    var password: String?
    var database = 0

    init(_ url: String) throws {
        guard url.hasPrefix("redis://") else {
            throw RedisError(code: .invalidURL, message: "expected redis://host:port[/db], got \(ConnectionURL.redacted(url))")
        }
        var rest = Substring(url.dropFirst("redis://".count))
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            if !path.isEmpty {
                guard let database = Int(path), database >= 0 else {
                    throw RedisError(code: .invalidURL, message: "database must be a number in \(ConnectionURL.redacted(url))")
                }
                self.database = database
            }
            rest = rest[..<slash]
        }
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            let secret = userInfo.firstIndex(of: ":").map { userInfo[userInfo.index(after: $0)...] } ?? userInfo
            password = secret.isEmpty ? nil : String(secret)
            rest = rest[rest.index(after: at)...]
        }
        if let colon = rest.lastIndex(of: ":") {
            guard let port = Int32(rest[rest.index(after: colon)...]), port > 0 else {
                throw RedisError(code: .invalidURL, message: "bad port in \(ConnectionURL.redacted(url))")
            }
            self.port = port
            rest = rest[..<colon]
        }
        if !rest.isEmpty { host = String(rest) }
    }
}
