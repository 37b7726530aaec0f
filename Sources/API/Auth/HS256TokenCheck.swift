import Crypto
import Foundation
import Ledger

/// The common bearer token checked without jwt-kit: compact HS256 with a plain header and the
/// claims `TokenAuthority.Claims` requires (`sub`, whole-second `exp` and `iat`, optional `role`). Anything
/// else is `undecided` and goes to jwt-kit, so this answers faster, never differently. jwt-kit's
/// check (JSONDecoder, an actor hop per token) was ~6 % of the server's CPU in a sale where
/// every user is new.
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

    init(secret: String) {
        keyed = HMAC(key: SymmetricKey(data: Data(secret.utf8)))
    }

    func check(_ token: String, now: Date) -> Verdict {
        let parts = token.utf8.split(separator: UInt8(ascii: "."), maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 3, let header = Self.object(parts[0]), let signature = Self.base64URL(parts[2]) else { return .undecided }
        guard header.string("alg") == "HS256",
            header.fields.allSatisfy({ $0.key == "alg" || ($0.key == "typ" && $0.value == .string("JWT")) })
        else { return .undecided }
        // The signature covers the first two parts exactly as sent.
        var mac = keyed
        mac.update(data: Array(token.utf8.prefix(parts[0].count + 1 + parts[1].count)))
        // The comparison is constant-time (swift-crypto's `==` against bytes).
        guard mac.finalize() == signature else { return .invalid }
        guard let claims = Self.object(parts[1]),
            claims.fields.allSatisfy({ ["sub", "exp", "iat", "role"].contains($0.key) }),
            let subject = claims.string("sub"), let exp = claims.int64("exp"), claims.int64("iat") != nil,
            case .some(let role) = claims.optionalString("role")
        else { return .undecided }
        let expiresAt = Date(timeIntervalSince1970: Double(exp))
        guard now < expiresAt, let userId = Int64(subject), userId > 0 else { return .invalid }
        return .valid(Identity(userId: userId, isAdmin: role == "admin"), expiresAt: expiresAt)
    }

    private static func object(_ part: Substring.UTF8View) -> FlatJSONObject? {
        base64URL(part).flatMap { FlatJSONObject(String(decoding: $0, as: UTF8.self)) }
    }

    /// Unpadded base64url; nil for any other character or a non-canonical ending.
    static func base64URL(_ text: Substring.UTF8View) -> [UInt8]? {
        var bytes = [UInt8]()
        bytes.reserveCapacity(text.count * 3 / 4)
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
            default: return nil
            }
            buffer = (buffer << 6) | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
                buffer &= (1 << UInt32(bits)) - 1
            }
        }
        // Leftover bits are padding: fewer than six, all zero.
        guard bits < 6, buffer == 0 else { return nil }
        return bytes
    }
}
