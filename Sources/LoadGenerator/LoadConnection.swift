import NIOCore
import NIOPosix

/// One keep-alive HTTP/1.1 connection of the load generator, with at most one request in flight.
///
/// It lives on its channel's event loop and reports through plain callbacks: no task, continuation
/// or lock per request, so the generator costs the machine it measures as little as possible. For
/// the same reason it writes each request as one buffer of bytes and reads the answers with
/// `HTTPResponseReader` rather than through NIO's HTTP handlers.
final class LoadConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// One request of a run and the time it was meant to leave (latency counts from there).
    struct Exchange {
        let request: LoadScenario.Request
        let intendedAt: ContinuousClock.Instant
    }

    /// What came back for a request: its status and body, or why there is none.
    enum Answer {
        case response(status: Int, body: ByteBuffer)
        case failed(String)
    }

    /// A larger answer is not one of the API's: the request fails and the connection closes.
    static let maxResponseBytes = 64 * 1024

    private let host: String
    private let answered: (LoadConnection, Exchange, Answer) -> Void
    private let closed: (LoadConnection) -> Void
    private var context: ChannelHandlerContext?
    private var inFlight: Exchange?
    /// Bytes received and not yet read as a response.
    private var received = ByteBuffer()
    private var reader = HTTPResponseReader(maxBodyBytes: LoadConnection.maxResponseBytes)

    /// `answered` runs once per sent request; `closed` once, when the connection is gone.
    init(
        host: String, answered: @escaping (LoadConnection, Exchange, Answer) -> Void,
        closed: @escaping (LoadConnection) -> Void
    ) {
        self.host = host
        self.answered = answered
        self.closed = closed
    }

    func send(_ exchange: Exchange) {
        precondition(inFlight == nil, "one request in flight per connection")
        guard let context else {
            answered(self, exchange, .failed("connection closed"))
            return
        }
        inFlight = exchange
        context.writeAndFlush(wrapOutboundOut(Self.encode(exchange.request, host: host, allocator: context.channel.allocator)), promise: nil)
    }

    /// The request as HTTP/1.1 bytes.
    static func encode(_ request: LoadScenario.Request, host: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 160 + request.path.utf8.count + request.token.utf8.count + (request.body?.utf8.count ?? 0))
        buffer.writeString(request.method)
        buffer.writeStaticString(" ")
        buffer.writeString(request.path)
        buffer.writeStaticString(" HTTP/1.1\r\nHost: ")
        buffer.writeString(host)
        buffer.writeStaticString("\r\nAuthorization: Bearer ")
        buffer.writeString(request.token)
        if let key = request.idempotencyKey {
            buffer.writeStaticString("\r\nIdempotency-Key: ")
            buffer.writeString(key)
        }
        if let body = request.body {
            buffer.writeStaticString("\r\nContent-Type: application/json\r\nContent-Length: ")
            buffer.writeString(String(body.utf8.count))
            buffer.writeStaticString("\r\n\r\n")
            buffer.writeString(body)
        } else if request.method == "POST" {
            buffer.writeStaticString("\r\nContent-Length: 0\r\n\r\n")
        } else {
            buffer.writeStaticString("\r\n\r\n")
        }
        return buffer
    }

    /// Opens a connection to `host:port` on `loop`, with `makeHandler()` at the end of its pipeline.
    static func connect(
        host: String, port: Int, on loop: EventLoop, timeout: TimeAmount, makeHandler: @escaping @Sendable () -> LoadConnection
    ) -> EventLoopFuture<Channel> {
        ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(makeHandler())
                }
            }
            .connect(host: host, port: port)
    }

    func close() {
        // Not from inside channelRead (this is often called while it delivers an answer): a
        // close there can lose the channel-inactive event the run waits for.
        guard let context else { return }
        context.eventLoop.assumeIsolated().execute { context.close(promise: nil) }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if received.readableBytes == 0 { received = bytes } else { received.writeBuffer(&bytes) }
        while true {
            switch reader.next(&received) {
            case .needMore:
                received.discardReadBytes()
                return
            case .response(let status, let body):
                // An answer nobody asked for: the connection is out of step; it goes.
                guard let exchange = inFlight else {
                    close()
                    return
                }
                inFlight = nil
                answered(self, exchange, .response(status: status, body: body))
            case .invalid(let reason):
                if let exchange = inFlight {
                    inFlight = nil
                    answered(self, exchange, .failed(reason))
                }
                close()
                return
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.context = nil
        if let exchange = inFlight {
            inFlight = nil
            answered(self, exchange, .failed("connection closed"))
        }
        closed(self)
    }
}
