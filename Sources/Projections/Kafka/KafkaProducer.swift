import CRdKafka
import Glibc
import Ledger
import Synchronization

/// An idempotent producer (`enable.idempotence=true`, `acks=all`). `send` returns when the
/// broker acknowledged the message or librdkafka gave up on it (`message.timeout.ms`); while
/// brokers are down, sends wait and retry inside librdkafka until that timeout.
///
/// Delivery reports are served by a poll loop on the producer's own thread; `close` flushes.
public final class KafkaProducer: Sendable {
    private let client: ProducerClient
    private let worker: BlockingWorker
    private let flushTimeoutMs: Int32

    public init(configuration: KafkaConfiguration, flushTimeoutMs: Int32 = Limits().kafkaFlushTimeoutMs, name: String = "kafka-producer") throws {
        var configuration = configuration
        configuration["enable.idempotence"] = "true"
        configuration["acks"] = "all"
        let conf = try configuration.makeConf()
        rd_kafka_conf_set_dr_msg_cb(conf, deliveryReportCallback)
        client = ProducerClient(handle: try makeKafkaHandle(RD_KAFKA_PRODUCER, conf: conf))
        worker = BlockingWorker(name: name)
        self.flushTimeoutMs = flushTimeoutMs
        let client = self.client
        worker.submit { client.pollUntilStopped() }
    }

    deinit {
        let client = self.client
        client.stop()
        worker.submit { client.destroy(flushTimeoutMs: 0) }
        worker.shutdown()
    }

    /// Produces one message and waits for its delivery report.
    @discardableResult
    public func send(_ message: KafkaOutgoingMessage) async throws -> KafkaDeliveryReport {
        try await send([message])[0].get()
    }

    /// Queues the messages in order (so per-partition order is theirs) and waits for every
    /// delivery report. When librdkafka refuses one (local queue full, producer closing), the
    /// rest are not queued and fail too: what was produced is always a prefix of `messages`.
    public func send(_ messages: [KafkaOutgoingMessage]) async -> [Result<KafkaDeliveryReport, KafkaError>] {
        guard !messages.isEmpty else { return [] }
        return await withCheckedContinuation { continuation in
            let batch = BatchDelivery(count: messages.count, continuation: continuation)
            for (index, message) in messages.enumerated() {
                let promise = Unmanaged.passRetained(DeliveryPromise { batch.report(index, $0) }).toOpaque()
                if let error = client.produce(message, opaque: promise) {
                    Unmanaged<DeliveryPromise>.fromOpaque(promise).release()
                    for unsent in index..<messages.count { batch.report(unsent, .failure(error)) }
                    break
                }
            }
        }
    }

    /// Fails every queued and in-flight message with `_PURGE_QUEUE`/`_PURGE_INFLIGHT` at once, so
    /// no `send` keeps waiting (used when shutdown must not wait for an unreachable broker).
    /// Callable from any thread; the producer stays usable.
    public func abandonPending() {
        client.purge()
    }

    /// Stops polling, waits up to the flush timeout for outstanding messages, fails whatever
    /// is left (`_PURGE_QUEUE`) so no `send` waits forever, and frees the handle.
    public func close() async {
        client.stop()
        let client = self.client
        let flushTimeoutMs = self.flushTimeoutMs
        _ = try? await worker.run { client.destroy(flushTimeoutMs: flushTimeoutMs) }
        worker.shutdown()
    }
}

/// The `rd_kafka_t`. librdkafka's produce and poll calls are thread-safe; destroy happens once,
/// on the producer's thread, after the poll loop ended.
private final class ProducerClient: @unchecked Sendable {
    private var handle: OpaquePointer?
    private let stopping = Atomic<Bool>(false)

    init(handle: OpaquePointer) {
        self.handle = handle
    }

    func stop() {
        stopping.store(true, ordering: .releasing)
    }

    func pollUntilStopped() {
        guard let handle else { return }
        while !stopping.load(ordering: .acquiring) {
            rd_kafka_poll(handle, 100)
        }
    }

    func destroy(flushTimeoutMs: Int32) {
        guard let handle else { return }
        rd_kafka_flush(handle, flushTimeoutMs)
        rd_kafka_purge(handle, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT)
        rd_kafka_poll(handle, 0)  // serve the purged messages' delivery reports
        rd_kafka_destroy(handle)
        self.handle = nil
    }

    func purge() {
        guard let handle, !stopping.load(ordering: .acquiring) else { return }
        rd_kafka_purge(handle, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT)
    }

    /// Queues the message; returns an error when librdkafka refused it (queue full, unknown topic…).
    func produce(_ message: KafkaOutgoingMessage, opaque: UnsafeMutableRawPointer) -> KafkaError? {
        guard let handle, !stopping.load(ordering: .acquiring) else {
            return KafkaError(RD_KAFKA_RESP_ERR__DESTROY, "producer is closed")
        }
        // The topic and header names as C strings and the header values, in one buffer alive
        // until produceva returns (librdkafka copies them into the message). A buffer and a growing
        // array each cost more than produceva itself.
        var arenaBytes = message.topic.utf8.count + 1
        for header in message.headers { arenaBytes += header.name.utf8.count + 1 + header.value.count }
        let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: arenaBytes, alignment: 1)
        defer { arena.deallocate() }
        var used = 0
        func place(_ bytes: UnsafeBufferPointer<UInt8>, terminated: Bool) -> UnsafeMutableRawPointer {
            let start = arena.baseAddress! + used
            if let source = bytes.baseAddress { start.copyMemory(from: source, byteCount: bytes.count) }
            used += bytes.count
            if terminated {
                arena[used] = 0
                used += 1
            }
            return start
        }
        func cString(_ text: String) -> UnsafePointer<CChar> {
            var text = text
            return UnsafePointer(text.withUTF8 { place($0, terminated: true) }.assumingMemoryBound(to: CChar.self))
        }
        let fieldCount = 4 + (message.key == nil ? 0 : 1) + message.headers.count
        return withUnsafeTemporaryAllocation(of: rd_kafka_vu_t.self, capacity: fieldCount) { fields in
            var filled = 0
            func add(_ field: rd_kafka_vu_t) {
                fields[filled] = field
                filled += 1
            }
            return message.value.withUnsafeBytes { value in
                withOptionalBytes(message.key) { key in
                    var topic = rd_kafka_vu_t()
                    topic.vtype = RD_KAFKA_VTYPE_TOPIC
                    topic.u.cstr = cString(message.topic)
                    add(topic)
                    if let key {
                        var field = rd_kafka_vu_t()
                        field.vtype = RD_KAFKA_VTYPE_KEY
                        field.u.mem.ptr = UnsafeMutableRawPointer(mutating: key.baseAddress)
                        field.u.mem.size = key.count
                        add(field)
                    }
                    var payload = rd_kafka_vu_t()
                    payload.vtype = RD_KAFKA_VTYPE_VALUE
                    payload.u.mem.ptr = UnsafeMutableRawPointer(mutating: value.baseAddress)
                    payload.u.mem.size = value.count
                    add(payload)
                    var flags = rd_kafka_vu_t()
                    flags.vtype = RD_KAFKA_VTYPE_MSGFLAGS
                    flags.u.i = RD_KAFKA_MSG_F_COPY
                    add(flags)
                    var opaqueField = rd_kafka_vu_t()
                    opaqueField.vtype = RD_KAFKA_VTYPE_OPAQUE
                    opaqueField.u.ptr = opaque
                    add(opaqueField)
                    for header in message.headers {
                        var field = rd_kafka_vu_t()
                        field.vtype = RD_KAFKA_VTYPE_HEADER
                        field.u.header.name = cString(header.name)
                        field.u.header.val = UnsafeRawPointer(header.value.withUnsafeBufferPointer { place($0, terminated: false) })
                        field.u.header.size = header.value.count
                        add(field)
                    }
                    precondition(filled == fieldCount && used == arenaBytes, "every field and byte placed")
                    guard let error = rd_kafka_produceva(handle, fields.baseAddress, filled) else { return nil }
                    defer { rd_kafka_error_destroy(error) }
                    return KafkaError(rd_kafka_error_code(error), String(cString: rd_kafka_error_string(error)))
                }
            }
        }
    }
}

private func withOptionalBytes<T>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> T) -> T {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBytes { body($0) }
}

/// Holds what to do with a message's delivery report until librdkafka has it.
private final class DeliveryPromise {
    let deliver: (Result<KafkaDeliveryReport, KafkaError>) -> Void
    init(_ deliver: @escaping (Result<KafkaDeliveryReport, KafkaError>) -> Void) {
        self.deliver = deliver
    }
}

/// Collects the reports of one `send` batch and resumes its caller once, after the last.
private final class BatchDelivery: Sendable {
    private struct State {
        var results: [Result<KafkaDeliveryReport, KafkaError>?]
        var remaining: Int
    }

    private let state: Mutex<State>
    private let continuation: CheckedContinuation<[Result<KafkaDeliveryReport, KafkaError>], Never>

    init(count: Int, continuation: CheckedContinuation<[Result<KafkaDeliveryReport, KafkaError>], Never>) {
        state = Mutex(State(results: Array(repeating: nil, count: count), remaining: count))
        self.continuation = continuation
    }

    func report(_ index: Int, _ result: Result<KafkaDeliveryReport, KafkaError>) {
        let finished: [Result<KafkaDeliveryReport, KafkaError>]? = state.withLock { state in
            precondition(state.results[index] == nil, "one report per message")
            state.results[index] = result
            state.remaining -= 1
            return state.remaining == 0 ? state.results.map { $0! } : nil
        }
        if let finished { continuation.resume(returning: finished) }
    }
}

/// Called by librdkafka from `rd_kafka_poll` exactly once per produced message.
private let deliveryReportCallback: @convention(c) (
    OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?
) -> Void = { _, message, _ in
    guard let message, let opaque = message.pointee._private else { return }
    let promise = Unmanaged<DeliveryPromise>.fromOpaque(opaque).takeRetainedValue()
    let error = message.pointee.err
    if error == RD_KAFKA_RESP_ERR_NO_ERROR {
        promise.deliver(.success(KafkaDeliveryReport(partition: message.pointee.partition, offset: message.pointee.offset)))
    } else {
        promise.deliver(.failure(KafkaError(error)))
    }
}
