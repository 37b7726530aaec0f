import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A real HTTP/1.1 server on 127.0.0.1 whose answers a test scripts: per request number, the
/// status, body, a delay, or closing the connection without an answer. It records what it saw.
final class ScriptedHTTPServer: Sendable {
    enum Reply: Sendable {
        case answer(status: Int, body: String, delay: TimeAmount = .zero)
        /// Close the connection instead of answering.
        case drop
        /// Never answer.
        case hang
    }

    struct Seen: Sendable {
        var requests: [(number: Int, method: String, uri: String, authorization: String?, body: String)] = []
        var inFlight = 0
        var maxInFlight = 0
        /// A second request arrived on a connection before the first was answered.
        var pipelined = 0
    }

    let port: Int
    private let channel: Channel
    private let box: SeenBox

    private init(port: Int, channel: Channel, box: SeenBox) {
        self.port = port
        self.channel = channel
        self.box = box
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var observed: Seen { box.seen.withLock { $0 } }

    static func start(_ script: @escaping @Sendable (_ number: Int) -> Reply) async throws -> ScriptedHTTPServer {
        let box = SeenBox()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: false)
                    try channel.pipeline.syncOperations.addHandler(ScriptedHandler(seen: box, script: script))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return ScriptedHTTPServer(port: channel.localAddress?.port ?? 0, channel: channel, box: box)
    }

    func stop() async throws {
        try await channel.close()
    }
}

/// The recorder shared by every connection's handler.
private final class SeenBox: Sendable {
    let seen = Mutex(ScriptedHTTPServer.Seen())
}

private final class ScriptedHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let box: SeenBox
    let script: @Sendable (Int) -> ScriptedHTTPServer.Reply
    var head: HTTPRequestHead?
    var body = ""
    var awaitingAnswer = false

    init(seen: SeenBox, script: @escaping @Sendable (Int) -> ScriptedHTTPServer.Reply) {
        self.box = seen
        self.script = script
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = ""
        case .body(let buffer):
            body += String(buffer: buffer)
        case .end:
            guard let head else { return }
            let pipelined = awaitingAnswer
            awaitingAnswer = true
            let number = box.seen.withLock { seen in
                seen.requests.append((seen.requests.count, head.method.rawValue, head.uri, head.headers.first(name: "Authorization"), body))
                seen.inFlight += 1
                seen.maxInFlight = max(seen.maxInFlight, seen.inFlight)
                if pipelined { seen.pipelined += 1 }
                return seen.requests.count - 1
            }
            switch script(number) {
            case .answer(let status, let text, let delay):
                context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
                    answer(context: context, status: status, text: text)
                }
            case .drop:
                box.seen.withLock { $0.inFlight -= 1 }
                context.close(promise: nil)
            case .hang:
                break
            }
        }
    }

    private func answer(context: ChannelHandlerContext, status: Int, text: String) {
        box.seen.withLock { $0.inFlight -= 1 }
        awaitingAnswer = false
        let buffer = context.channel.allocator.buffer(string: text)
        var head = HTTPResponseHead(version: .http1_1, status: .init(statusCode: status))
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: String(buffer.readableBytes))
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
