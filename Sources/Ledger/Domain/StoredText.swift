/// What text the ledger accepts into its tables and event JSON. PostgreSQL refuses NUL in `text`
/// and `\u0000` in `jsonb` (SQLSTATE 22P05), and a value refused there would fail the whole
/// group-commit batch it travels in; control characters make no sense in a name or a reference
/// either. Swift strings hold Unicode scalars only, so lone surrogates cannot reach this far
/// (the JSON parsers refuse them). Lengths are counted in UTF-8 bytes, what the columns and
/// indexes store: a count of characters would let one character carry kilobytes.
public enum StoredText {
    /// Whether `text` is 1…`maxBytes` UTF-8 bytes with no control character (C0, DEL, C1).
    public static func isStorable(_ text: String, maxBytes: Int) -> Bool {
        let utf8 = text.utf8
        guard !utf8.isEmpty, utf8.count <= maxBytes else { return false }
        return text.unicodeScalars.allSatisfy { !isControl($0.value) }
    }

    /// Whether `text` is 1…`maxBytes` printable ASCII characters without spaces (keys, ids).
    public static func isToken(_ text: String, maxBytes: Int) -> Bool {
        let utf8 = text.utf8
        return !utf8.isEmpty && utf8.count <= maxBytes && utf8.allSatisfy { (0x21...0x7E).contains($0) }
    }

    static func isControl(_ scalar: UInt32) -> Bool {
        scalar < 0x20 || (0x7F...0x9F).contains(scalar)
    }
}
