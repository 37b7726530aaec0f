/// Helpers for service URLs (`postgresql://user:secret@host:port/db`, `redis://:secret@host:port/0`).
public enum ConnectionURL {
    /// The URL with any password replaced by `***`, safe for logs and error messages.
    public static func redacted(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else {
            // key=value connection strings: mask a password=... pair
            return url.split(separator: " ").map { pair in
                pair.lowercased().hasPrefix("password=") ? "password=***" : String(pair)
            }.joined(separator: " ")
        }
        let rest = url[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@") else { return url }
        let userInfo = authority[..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return url }
        return String(url[..<schemeEnd.upperBound]) + userInfo[..<colon] + ":***" + authority[at...]
            + rest[authorityEnd...]
    }
}
