@testable import API
import Foundation
import Testing

@Suite struct VerifiedTokensTests {
    private let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func aRememberedTokenAnswersUntilItExpires() {
        let tokens = VerifiedTokens(capacity: 10)
        let identity = Identity(userId: 7, isAdmin: false)
        #expect(tokens.identity("t", at: now) == nil)
        tokens.remember("t", identity, until: now.addingTimeInterval(60))
        #expect(tokens.identity("t", at: now) == identity)
        #expect(tokens.identity("t.other-signature", at: now) == nil)
        #expect(tokens.identity("t", at: now.addingTimeInterval(60)) == nil)
        // Expired entries are dropped, not answered later.
        #expect(tokens.identity("t", at: now) == nil)
    }

    /// A flash sale brings a new user (a new token) with most requests: the table must never
    /// grow while serving, since growing rehashes every token under the lock all requests take.
    @Test func theTableIsSizedAtOnceAndStartsOverWhenFullWithoutGrowing() {
        let capacity = 50_000
        let tokens = VerifiedTokens(capacity: capacity)
        let reserved = tokens.reservedCapacity
        #expect(reserved >= capacity)
        for user in 1...Int64(capacity + 10) {
            tokens.remember("token-\(user)", Identity(userId: user, isAdmin: false), until: now.addingTimeInterval(60))
        }
        #expect(tokens.reservedCapacity == reserved)
        // Full at `capacity`: it started over, so the first tokens are gone and the last are held.
        #expect(tokens.identity("token-1", at: now) == nil)
        #expect(tokens.identity("token-\(capacity + 10)", at: now)?.userId == Int64(capacity + 10))
    }
}
