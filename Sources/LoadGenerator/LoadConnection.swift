import NIOCore
import NIOHTTP1
import NIOPosix

/// One keep-alive HTTP/1.1 connection of the load generator, with at most one request in flight.
///
/// It lives on its channel's event loop and reports through plain callbacks: no task, continuation
/// or lock per request, so the generator costs the machine it measures as little as possible.
final class LoadConnection: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

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
    private var status = 0
    private var body = ByteBuffer()

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
        status = 0
        body.clear()
        let request = exchange.request
        var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: request.method), uri: request.path)
        head.headers.add(name: "Host", value: host)
        head.headers.add(name: "Authorization", value: "Bearer \(request.token)")
        var payload: ByteBuffer?
        if let text = request.body {
            let buffer = context.channel.allocator.buffer(string: text)
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: String(buffer.readableBytes))
            payload = buffer
        } else if request.method == "POST" {
            head.headers.add(name: "Content-Length", value: "0")
        }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let payload { context.write(wrapOutboundOut(.body(.byteBuffer(payload))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
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
                    // The generator writes only its own fixed header names and minted tokens:
                    // checking them per request was an eighth of its CPU.
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(enableOutboundHeaderValidation: false)
                    try channel.pipeline.syncOperations.addHandler(makeHandler())
                }
            }
            .connect(host: host, port: port)
    }

    func close() {
        // Not from inside the response decoder (this is often called while it delivers the
        // answer): a close there can lose the channel-inactive event the run waits for.
        guard let context else { return }
        context.eventLoop.assumeIsolated().execute { context.close(promise: nil) }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
        case .body(var part):
            guard let exchange = inFlight else { return }
            guard body.readableBytes + part.readableBytes <= Self.maxResponseBytes else {
                inFlight = nil
                answered(self, exchange, .failed("response larger than \(Self.maxResponseBytes) bytes"))
                close()
                return
            }
            body.writeBuffer(&part)
        case .end:
            guard let exchange = inFlight else { return }
            inFlight = nil
            answered(self, exchange, .response(status: status, body: body))
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
