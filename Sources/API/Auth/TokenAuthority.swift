import Foundation
import JWTKit
import Ledger

/// Issues and checks HS256 bearer tokens: `sub` is the user id, `role: "admin"` marks an admin,
/// `exp` is required; `iss` and `aud` must match when an issuer or audience is configured.
public struct TokenAuthority: Sendable {
    struct Claims: JWTPayload {
        var sub: SubjectClaim
        var exp: ExpirationClaim
        var iat: IssuedAtClaim
        var role: String?
        var iss: IssuerClaim?
        var aud: AudienceClaim?

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
        }
    }

    /// HS256 needs a key at least as long as its 32-byte digest.
    public static let minimumSecretBytes = 32

    public struct WeakSecret: Error, CustomStringConvertible {
        public var description: String { "the JWT secret must be at least \(TokenAuthority.minimumSecretBytes) bytes" }
    }

    private let keys: JWTKeyCollection
    private let fastCheck: HS256TokenCheck
    private let verified = VerifiedTokens(capacity: Limits().verifiedTokensCached)
    private let issuer: String?
    private let audience: String?

    public init(secret: String, issuer: String? = nil, audience: String? = nil) async throws {
        guard secret.utf8.count >= Self.minimumSecretBytes else { throw WeakSecret() }
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        fastCheck = HS256TokenCheck(secret: secret, issuer: issuer, audience: audience)
        self.issuer = issuer
        self.audience = audience
    }

    /// Whole seconds for `iat` and `exp` (what `HS256TokenCheck` reads; RFC 7519 allows fractions).
    public func token(userId: Int64, admin: Bool, ttlSeconds: Int) async throws -> String {
        let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        return try await keys.sign(Claims(
            sub: SubjectClaim(value: String(userId)), exp: ExpirationClaim(value: now.addingTimeInterval(Double(ttlSeconds))),
            iat: IssuedAtClaim(value: now), role: admin ? "admin" : nil, iss: issuer.map { IssuerClaim(value: $0) },
            aud: audience.map { AudienceClaim(value: $0) }))
    }

    /// The identity in a valid token; nil for a bad signature, an expired token or a `sub`
    /// that is not a positive user id.
    public func identity(token: String) async -> Identity? {
        let now = Date()
        if let identity = verified.identity(token, at: now) { return identity }
        switch fastCheck.check(token, now: now) {
        case .valid(let identity, let expiresAt):
            verified.remember(token, identity, until: expiresAt)
            return identity
        case .invalid:
            return nil
        case .undecided:
            break
        }
        guard let claims = try? await keys.verify(token, as: Claims.self),
            let userId = Int64(claims.sub.value), userId > 0,
            issuer == nil || claims.iss?.value == issuer, audience.map({ claims.aud?.value.contains($0) == true }) ?? true
        else { return nil }
        let identity = Identity(userId: userId, isAdmin: claims.role == "admin")
        verified.remember(token, identity, until: claims.exp.value)
        return identity
    }
}
