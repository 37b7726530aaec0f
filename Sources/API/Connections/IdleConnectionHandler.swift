import NIOCore
import NIOHTTPTypes

/// Tells `IdleConnections` when its connection waits for a request (no request being read or
/// answered) and when it is busy, and closes it on request only while it is still idle.
final class IdleConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let connections: IdleConnections
    private var context: ChannelHandlerContext?
    private var requestsInProgress = 0

    init(_ connections: IdleConnections) {
        self.connections = connections
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        connections.becameIdle(self, on: context.eventLoop)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        connections.becameBusy(self)
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        connections.becameBusy(self)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            requestsInProgress += 1
            if requestsInProgress == 1 { connections.becameBusy(self) }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            requestsInProgress -= 1
            if requestsInProgress == 0, context.channel.isActive { connections.becameIdle(self, on: context.eventLoop) }
        }
        context.write(data, promise: promise)
    }

    /// Runs on the connection's event loop.
    func closeIfIdle() {
        guard requestsInProgress == 0, let context else { return }
        context.close(promise: nil)
    }
}
