@testable import API
import HTTPTypes
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing

/// Which connections count as idle, and which the cap closes: the handler on channels that
/// need no network.
@Suite struct IdleConnectionsTests {
    @Test func theLongestIdleComeFirst() {
        #expect(IdleConnections.oldest([(key: "c", since: 3), (key: "a", since: 1), (key: "b", since: 2)], count: 2) == ["a", "b"])
        #expect(IdleConnections.oldest([(key: "a", since: 1)], count: 5) == ["a"])
    }

    @Test func aConnectionIsIdleUntilARequestArrivesAndAgainOnceItIsAnswered() throws {
        let idle = IdleConnections()
        let channel = try Self.connectedChannel(idle)
        #expect(idle.count == 1)
        try channel.writeInbound(HTTPRequestPart.head(HTTPRequest(method: .get, scheme: nil, authority: nil, path: "/health")))
        #expect(idle.count == 0)
        try channel.writeInbound(HTTPRequestPart.end(nil))
        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .ok)))
        #expect(idle.count == 0, "still being answered")
        try channel.writeOutbound(HTTPResponsePart.end(nil))
        #expect(idle.count == 1)
        _ = try channel.finish()
        #expect(idle.count == 0, "a closed connection is forgotten")
    }

    @Test func reachingTheCapClosesTheLongestIdleAndSparesBusyOnes() throws {
        let idle = IdleConnections()
        var cap = ConnectionCap(maxConnections: 3, closedAtCap: 1, idle: idle, logger: Logger(label: "test"))
        let first = try Self.connectedChannel(idle)
        cap.connectionOpened()
        let busy = try Self.connectedChannel(idle)
        cap.connectionOpened()
        try busy.writeInbound(HTTPRequestPart.head(HTTPRequest(method: .get, scheme: nil, authority: nil, path: "/slow")))
        #expect(cap.isAcceptingNewConnections())
        let last = try Self.connectedChannel(idle)
        cap.connectionOpened()
        #expect(!cap.isAcceptingNewConnections())
        for channel in [first, busy, last] { channel.embeddedEventLoop.run() }
        #expect(!first.isActive, "the longest idle is closed")
        #expect(busy.isActive && last.isActive)
        cap.connectionClosed()
        #expect(cap.isAcceptingNewConnections())
        // Again at the cap: the busy one is never picked.
        cap.connectionOpened()
        for channel in [busy, last] { channel.embeddedEventLoop.run() }
        #expect(busy.isActive && !last.isActive)
        _ = try busy.finish(acceptAlreadyClosed: true)
    }

    @Test func aConnectionPickedJustBeforeItsRequestArrivedStaysOpen() throws {
        let idle = IdleConnections()
        let channel = try Self.connectedChannel(idle)
        idle.closeOldest(1)
        try channel.writeInbound(HTTPRequestPart.head(HTTPRequest(method: .get, scheme: nil, authority: nil, path: "/health")))
        channel.embeddedEventLoop.run()
        #expect(channel.isActive)
        _ = try channel.finish(acceptAlreadyClosed: true)
    }

    static func connectedChannel(_ idle: IdleConnections) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(handler: IdleConnectionHandler(idle))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
        return channel
    }
}
