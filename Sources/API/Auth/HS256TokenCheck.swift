import Crypto
import Foundation
import Ledger

/// The common bearer token checked without jwt-kit: compact HS256 with a plain header and the
/// claims `TokenAuthority.Claims` requires (`sub`, whole-second `exp` and `iat`, optional `role`). Anything
/// else is `undecided` and goes to jwt-kit, so this answers faster, never differently. jwt-kit's
/// check (JSONDecoder, an actor hop per token) weighs on a sale where every user is new.
struct HS256TokenCheck: Sendable {
    enum Verdict: Equatable {
        case valid(Identity, expiresAt: Date)
        /// A bad signature, an expired token or a `sub` that is not a positive user id.
        case invalid
        case undecided
    }

    /// Keyed once: deriving the padded inner and outer keys per token (several allocations and
    /// two hash blocks) was a quarter of the check.
    private let keyed: HMAC<SHA256>
    /// The `iss` and `aud` a token must carry, when configured.
    private let issuer: String?
    private let audience: String?

    init(secret: String, issuer: String? = nil, audience: String? = nil) {
        keyed = HMAC(key: SymmetricKey(data: Data(secret.utf8)))
        self.issuer = issuer
        self.audience = audience
    }

    func check(_ token: String, now: Date) -> Verdict {
        var token = token
        return token.withUTF8 { check(utf8: $0, now: now) }
    }

    /// The token's bytes where they lie: every user new to the server pays this check, so it
    /// finds the parts, decodes them and feeds the HMAC without a string, an array or a copy of
    /// the token (a generic split of the string, byte-wise array appends and a copy of the signed
    /// part nearly doubled the check), so that the HMAC is most of its cost.
    private func check(utf8 token: UnsafeBufferPointer<UInt8>, now: Date) -> Verdict {
        let dot = UInt8(ascii: ".")
        guard let firstDot = token.firstIndex(of: dot), let secondDot = token[(firstDot + 1)...].firstIndex(of: dot),
            !token[(secondDot + 1)...].contains(dot),
            let header = Self.object(token[..<firstDot]), let signature = Self.base64URL(token[(secondDot + 1)...])
        else { return .undecided }
        guard header.string("alg") == "HS256",
            header.fields.allSatisfy({ $0.key == "alg" || ($0.key == "typ" && $0.value == .string("JWT")) })
        else { return .undecided }
        // The signature covers the first two parts exactly as sent.
        var mac = keyed
        mac.update(data: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: token[..<secondDot])))
        // The comparison is constant-time (swift-crypto's `==` against bytes).
        guard mac.finalize() == signature else { return .invalid }
        guard let claims = Self.object(token[(firstDot + 1)..<secondDot]),
            claims.fields.allSatisfy({ Self.isClaim($0.key) }),
            let subject = claims.string("sub"), let exp = claims.int64("exp"), claims.int64("iat") != nil,
            case .some(let role) = claims.optionalString("role"),
            case .some(let tokenIssuer) = claims.optionalString("iss"), case .some(let tokenAudience) = claims.optionalString("aud")
        else { return .undecided }
        let expiresAt = Date(timeIntervalSince1970: Double(exp))
        guard now < expiresAt, let userId = Int64(subject), userId > 0 else { return .invalid }
        if let issuer, tokenIssuer != issuer { return .invalid }
        if let audience, tokenAudience != audience { return .invalid }
        return .valid(Identity(userId: userId, isAdmin: role == "admin"), expiresAt: expiresAt)
    }

    /// The claims `TokenAuthority.Claims` has; a token with any other is jwt-kit's to judge.
    private static func isClaim(_ key: String) -> Bool {
        switch key {
        case "sub", "exp", "iat", "role", "iss", "aud": true
        default: false
        }
    }

    private static func object(_ part: Slice<UnsafeBufferPointer<UInt8>>) -> FlatJSONObject? {
        base64URL(part).flatMap { json in json.withUnsafeBytes { FlatJSONObject(utf8: $0) } }
    }

    /// Unpadded base64url; nil for any other character or a non-canonical ending.
    static func base64URL(_ text: some Collection<UInt8>) -> [UInt8]? {
        var valid = true
        let bytes = [UInt8](unsafeUninitializedCapacity: text.count * 3 / 4) { output, count in
            var buffer: UInt32 = 0
            var bits = 0
            for character in text {
                let value: UInt8
                switch character {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = character - UInt8(ascii: "A")
                case UInt8(ascii: "a")...UInt8(ascii: "z"): value = character - UInt8(ascii: "a") + 26
                case UInt8(ascii: "0")...UInt8(ascii: "9"): value = character - UInt8(ascii: "0") + 52
                case UInt8(ascii: "-"): value = 62
                case UInt8(ascii: "_"): value = 63
                default:
                    valid = false
                    return
                }
                buffer = (buffer << 6) | UInt32(value)
                bits += 6
                if bits >= 8 {
                    bits -= 8
                    // Never past the capacity: n characters carry 6n bits, at most 6n / 8 bytes.
                    output[count] = UInt8(truncatingIfNeeded: buffer >> UInt32(bits))
                    count += 1
                    buffer &= (1 << UInt32(bits)) - 1
                }
            }
            // Leftover bits are padding: fewer than six, all zero.
            valid = bits < 6 && buffer == 0
        }
        return valid ? bytes : nil
    }
}
