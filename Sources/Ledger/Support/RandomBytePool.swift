import Glibc
import Synchronization

/// Random bytes from the kernel's CSPRNG, fetched a page at a time. `SystemRandomNumberGenerator`
/// makes one `getrandom` system call per 8 bytes: with two UUIDs per reservation that was four system
/// calls per request, the most frequent call of the server. Bytes handed out are never reused.
/// (The server never forks, so no child can hand out the same buffered bytes.)
public final class RandomBytePool: Sendable {
    /// The process-wide pool.
    public static let shared = RandomBytePool()

    static let refillBytes = 4_096

    private struct State: ~Copyable {
        var buffer: [UInt8]
        var offset: Int
    }

    private let state: Mutex<State>
    private let refill: @Sendable (UnsafeMutableRawBufferPointer) -> Void

    /// `refill` fills the whole buffer it is given with random bytes (the kernel's by default).
    init(refill: @escaping @Sendable (UnsafeMutableRawBufferPointer) -> Void = RandomBytePool.kernelRandom) {
        self.refill = refill
        state = Mutex(State(buffer: [UInt8](repeating: 0, count: Self.refillBytes), offset: Self.refillBytes))
    }

    /// 16 fresh random bytes as two words.
    public func next128() -> (UInt64, UInt64) {
        state.withLock { state in
            if state.offset + 16 > state.buffer.count {
                state.buffer.withUnsafeMutableBytes { refill($0) }
                state.offset = 0
            }
            let words = state.buffer.withUnsafeBytes { bytes in
                (bytes.loadUnaligned(fromByteOffset: state.offset, as: UInt64.self),
                 bytes.loadUnaligned(fromByteOffset: state.offset + 8, as: UInt64.self))
            }
            state.offset += 16
            return words
        }
    }

    /// Reads the kernel's CSPRNG (`getrandom` is not in Swift's Glibc module; /dev/urandom is
    /// the same source). Three system calls a page instead of one per 8 bytes. The read never
    /// waits once the kernel's pool is initialised (long before a server starts), so it may run
    /// on the cooperative pool, as the `getrandom` calls it replaces did.
    @Sendable static func kernelRandom(_ buffer: UnsafeMutableRawBufferPointer) {
        let descriptor = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        precondition(descriptor >= 0, "cannot open /dev/urandom: errno \(errno)")
        defer { close(descriptor) }
        var filled = 0
        while filled < buffer.count {
            let count = read(descriptor, buffer.baseAddress! + filled, buffer.count - filled)
            precondition(count > 0 || errno == EINTR, "cannot read /dev/urandom: errno \(errno)")
            if count > 0 { filled += count }
        }
    }
}
