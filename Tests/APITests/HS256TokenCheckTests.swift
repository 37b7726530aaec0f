@testable import API
import Crypto
import Foundation
import Testing

/// The fast HS256 check answers like jwt-kit for the tokens it decides, and leaves the rest to it.
@Suite struct HS256TokenCheckTests {
    private let secret = String(repeating: "s3cret-", count: 6)

    private func base64URL(_ bytes: some DataProtocol) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// A token signed with `key` (the right secret unless given).
    private func sign(header: String = #"{"alg":"HS256","typ":"JWT"}"#, _ payload: String, key: String? = nil) -> String {
        let signed = "\(base64URL(Data(header.utf8))).\(base64URL(Data(payload.utf8)))"
        let mac = HMAC<SHA256>.authenticationCode(for: Data(signed.utf8), using: SymmetricKey(data: Data((key ?? secret).utf8)))
        return "\(signed).\(base64URL(Data(mac)))"
    }

    private var future: Int { Int(Date().timeIntervalSince1970) + 600 }

    @Test func tokensThisServiceIssuesAreDecidedWithoutJWTKit() async throws {
        let authority = try await TokenAuthority(secret: secret)
        let check = HS256TokenCheck(secret: secret)
        let user = try await authority.token(userId: 42, admin: false, ttlSeconds: 600)
        let admin = try await authority.token(userId: 7, admin: true, ttlSeconds: 600)
        guard case .valid(let identity, let expiresAt) = check.check(user, now: Date()) else {
            Issue.record("an issued token is not decided: \(check.check(user, now: Date()))")
            return
        }
        #expect(identity == Identity(userId: 42, isAdmin: false))
        #expect(expiresAt.timeIntervalSince1970.rounded(.down) == expiresAt.timeIntervalSince1970, "whole seconds")
        #expect(check.check(admin, now: Date()) != .undecided)
        #expect(await authority.identity(token: admin) == Identity(userId: 7, isAdmin: true))
        #expect(check.check(user, now: expiresAt) == .invalid, "expired at exp")
    }

    @Test func badSignaturesExpiredTokensAndBadSubjectsAreRefused() async throws {
        let authority = try await TokenAuthority(secret: secret)
        let check = HS256TokenCheck(secret: secret)
        let good = sign(#"{"sub":"5","exp":\#(future),"iat":1}"#)
        #expect(check.check(good, now: Date()) == .valid(Identity(userId: 5, isAdmin: false), expiresAt: Date(timeIntervalSince1970: Double(future))))
        let refused = [
            sign(#"{"sub":"5","exp":\#(future),"iat":1}"#, key: String(repeating: "other-", count: 6)),  // another key
            String(good.dropLast(2)) + (good.hasSuffix("AA") ? "AE" : "AA"),  // signature changed
            good.replacingOccurrences(of: good.split(separator: ".")[1], with: base64URL(Data(#"{"sub":"6","exp":\#(future),"iat":1}"#.utf8))),  // payload swapped
            sign(#"{"sub":"5","exp":1000,"iat":1}"#),  // expired
            sign(#"{"sub":"0","exp":\#(future),"iat":1}"#), sign(#"{"sub":"abc","exp":\#(future),"iat":1}"#),  // not a user id
        ]
        for token in refused {
            #expect(check.check(token, now: Date()) == .invalid, "\(token)")
            #expect(await authority.identity(token: token) == nil, "jwt-kit agrees: \(token)")
        }
    }

    /// Shapes it does not decide go to jwt-kit, which accepts what is valid and refuses the rest.
    @Test func otherShapesAreLeftToJWTKit() async throws {
        let authority = try await TokenAuthority(secret: secret)
        let check = HS256TokenCheck(secret: secret)
        let fractional = sign(#"{"sub":"9","exp":\#(future).25,"iat":1.5}"#)
        let extraClaim = sign(#"{"sub":"9","exp":\#(future),"iat":1,"jti":"x"}"#)
        let noIssuedAt = sign(#"{"sub":"9","exp":\#(future)}"#)
        #expect(check.check(noIssuedAt, now: Date()) == .undecided)
        #expect(await authority.identity(token: noIssuedAt) == nil, "TokenAuthority.Claims requires iat")
        for token in [fractional, extraClaim] {
            #expect(check.check(token, now: Date()) == .undecided, "\(token)")
            #expect(await authority.identity(token: token) == Identity(userId: 9, isAdmin: false), "jwt-kit accepts it: \(token)")
        }
        // Claims and headers jwt-kit has rules for (here it refuses both: an `nbf`, a key id it does not hold).
        let notBefore = sign(#"{"sub":"9","exp":\#(future),"iat":1,"nbf":1}"#)
        let kid = sign(header: #"{"alg":"HS256","kid":"a"}"#, #"{"sub":"9","exp":\#(future),"iat":1}"#)
        for token in [notBefore, kid] {
            #expect(check.check(token, now: Date()) == .undecided, "\(token)")
        }
        let none = "\(base64URL(Data(#"{"alg":"none"}"#.utf8))).\(base64URL(Data(#"{"sub":"9","exp":\#(future),"iat":1}"#.utf8)))."
        // jwt-kit lets its one key decide the algorithm; a header naming another is its call too.
        #expect(check.check(sign(header: #"{"alg":"HS512","typ":"JWT"}"#, #"{"sub":"9","exp":\#(future),"iat":1}"#), now: Date()) == .undecided)
        for token in [none, "a.b", "a.b.c.d", "!!.!!.!!"] {
            #expect(check.check(token, now: Date()) == .undecided, "\(token)")
            #expect(await authority.identity(token: token) == nil, "jwt-kit refuses it: \(token)")
        }
    }

    /// The key is prepared once and copied per check: checks in a row and at once must not see
    /// each other's input (a shared hash state would make every check after the first fail).
    @Test func oneCheckDecidesManyTokensInARowAndAtOnce() async {
        let check = HS256TokenCheck(secret: secret)
        let good = (1...50).map { sign(#"{"sub":"\#($0)","exp":\#(future),"iat":1}"#) }
        let forged = (1...50).map { sign(#"{"sub":"\#($0)","exp":\#(future),"iat":1}"#, key: String(repeating: "other-", count: 6)) }
        let truncated = good.map { String($0.dropLast(3)) }  // 30 of the 32 bytes, still canonical base64url
        for (index, token) in good.enumerated() {
            #expect(check.check(forged[index], now: Date()) == .invalid)
            #expect(check.check(truncated[index], now: Date()) == .invalid, "a shorter signature never matches")
            guard case .valid(let identity, _) = check.check(token, now: Date()) else {
                Issue.record("token \(index) after a forged one is not valid")
                continue
            }
            #expect(identity.userId == Int64(index + 1))
        }
        let users = await withTaskGroup(of: Int64?.self) { group in
            for token in good + forged {
                group.addTask {
                    if case .valid(let identity, _) = check.check(token, now: Date()) { return identity.userId }
                    return nil
                }
            }
            return await group.reduce(into: [Int64]()) { if let user = $1 { $0.append(user) } }
        }
        #expect(users.sorted() == Array(1...50))
    }

    @Test func base64URLIsStrict() {
        #expect(HS256TokenCheck.base64URL("SGk".utf8[...]) == Array("Hi".utf8))
        #expect(HS256TokenCheck.base64URL("SGl".utf8[...]) == nil, "non-zero padding bits")
        #expect(HS256TokenCheck.base64URL("SGk=".utf8[...]) == nil, "padding is not base64url")
        #expect(HS256TokenCheck.base64URL("S".utf8[...]) == nil, "a single leftover character")
        #expect(HS256TokenCheck.base64URL("-w".utf8[...]) == [0xFB])
    }

    /// With an issuer and audience configured, both checks (fast and jwt-kit's) refuse tokens
    /// that lack them or carry others, and take the ones the authority issues.
    @Test func aConfiguredIssuerAndAudienceAreRequired() async throws {
        let authority = try await TokenAuthority(secret: secret, issuer: "ledger", audience: "shop")
        let check = HS256TokenCheck(secret: secret, issuer: "ledger", audience: "shop")
        let issued = try await authority.token(userId: 42, admin: false, ttlSeconds: 600)
        #expect(await authority.identity(token: issued) == Identity(userId: 42, isAdmin: false))
        #expect(check.check(issued, now: Date()) != .invalid)
        let now = Int(Date().timeIntervalSince1970)
        let cases = [
            (#"{"sub":"42","exp":\#(future),"iat":\#(now)}"#, "neither"),
            (#"{"sub":"42","exp":\#(future),"iat":\#(now),"iss":"ledger"}"#, "no audience"),
            (#"{"sub":"42","exp":\#(future),"iat":\#(now),"iss":"other","aud":"shop"}"#, "another issuer"),
            (#"{"sub":"42","exp":\#(future),"iat":\#(now),"iss":"ledger","aud":"other"}"#, "another audience"),
            (#"{"sub":"42","exp":\#(future),"iat":\#(now),"iss":"ledger","aud":["other"]}"#, "another audience in a list (jwt-kit's)"),
        ]
        for (payload, why) in cases {
            let token = sign(payload)
            #expect(check.check(token, now: Date()) != .valid(Identity(userId: 42, isAdmin: false), expiresAt: Date(timeIntervalSince1970: Double(future))), "\(why)")
            #expect(await authority.identity(token: token) == nil, "\(why)")
        }
        let listed = sign(#"{"sub":"42","exp":\#(future),"iat":\#(now),"iss":"ledger","aud":["other","shop"]}"#)
        #expect(await authority.identity(token: listed) == Identity(userId: 42, isAdmin: false), "an audience list that names us")
        #expect(try await TokenAuthority(secret: secret).identity(token: sign(cases[2].0)) != nil, "unconfigured: iss and aud are not checked")
    }
}
