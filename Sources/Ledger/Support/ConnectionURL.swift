/// Helpers for service URLs (`postgresql://user:secret@host:port/db`, `redis://:secret@host:port/0`)
/// and libpq's key=value connection strings.
public enum ConnectionURL {
    /// Query and key=value parameters whose values are secrets.
    static let secretKeys: Set<String> = ["password", "pass", "requirepass", "sslpassword"]

    /// The URL with any password replaced by `***`, safe for logs and error messages: the
    /// user-info password, a `password=` query parameter, and a `password = '…'` pair of a
    /// key=value string (quoted or not).
    public static func redacted(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return redactedPairs(url) }
        var head = String(url[..<schemeEnd.upperBound])
        let rest = url[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
            head += authority[..<colon] + ":***" + authority[at...]
        } else {
            head += authority
        }
        let pathAndQuery = rest[authorityEnd...]
        guard let question = pathAndQuery.firstIndex(of: "?") else { return head + pathAndQuery }
        let query = pathAndQuery[pathAndQuery.index(after: question)...].split(separator: "&", omittingEmptySubsequences: false).map { pair in
            let key = pair.split(separator: "=", maxSplits: 1).first.map { $0.lowercased() } ?? ""
            return secretKeys.contains(key) ? key + "=***" : String(pair)
        }
        return head + pathAndQuery[...question] + query.joined(separator: "&")
    }

    /// The libpq connection string (URL or key=value) with `connect_timeout` set to `seconds`,
    /// unless it sets one already (the operator's choice wins).
    public static func withConnectTimeout(_ conninfo: String, seconds: Int) -> String {
        guard !conninfo.lowercased().contains("connect_timeout") else { return conninfo }
        guard conninfo.contains("://") else { return conninfo + " connect_timeout=\(seconds)" }
        return conninfo + (conninfo.contains("?") ? "&" : "?") + "connect_timeout=\(seconds)"
    }

    /// libpq's `key = value` form: values may be quoted with `'` and escape with `\`.
    private static func redactedPairs(_ text: String) -> String {
        var output = ""
        var index = text.startIndex
        func skipSpaces() {
            while index < text.endIndex, text[index] == " " || text[index] == "\t" {
                output.append(text[index])
                index = text.index(after: index)
            }
        }
        while index < text.endIndex {
            skipSpaces()
            let keyStart = index
            while index < text.endIndex, text[index] != "=", text[index] != " ", text[index] != "\t" { index = text.index(after: index) }
            let key = text[keyStart..<index].lowercased()
            output += text[keyStart..<index]
            skipSpaces()
            guard index < text.endIndex, text[index] == "=" else { continue }
            output.append("=")
            index = text.index(after: index)
            skipSpaces()
            let valueStart = index
            if index < text.endIndex, text[index] == "'" {
                index = text.index(after: index)
                while index < text.endIndex, text[index] != "'" {
                    if text[index] == "\\", text.index(after: index) < text.endIndex { index = text.index(after: index) }
                    index = text.index(after: index)
                }
                if index < text.endIndex { index = text.index(after: index) }
            } else {
                while index < text.endIndex, text[index] != " ", text[index] != "\t" { index = text.index(after: index) }
            }
            output += secretKeys.contains(key) ? "***" : text[valueStart..<index]
        }
        return output
    }
}
