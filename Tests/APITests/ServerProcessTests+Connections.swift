import Foundation
import HummingbirdTesting
import TestSupport
import Testing

/// Idle or slow clients cannot hold the server's descriptors: idle connections are closed after
/// the idle timeout, and the connection cap bounds how many are open at once.
extension ServerProcessTests {
    @Test func thousandsOfIdleConnectionsAreClosedAndHealthStillAnswersWithinASecond() async throws {
        try await withSetup { setup in
            let server = try await start(setup, ["--idle-timeout-ms", "8000", "--max-connections", "6000"], log: "idle")
            let baseline = Self.openDescriptors(server.pid)
            let idle = try IdleSockets(count: 2_000, port: setup.port)
            defer { idle.close() }
            // A debug build accepts a few hundred a second, and the first may time out meanwhile.
            let held = Self.openDescriptors(server.pid) - baseline
            #expect(held >= 1_000, "the server holds the idle connections: \(held)")
            let started = ContinuousClock.now
            let health = try await TestClient.withClient(host: "127.0.0.1", port: setup.port) { try await $0.get("/health").head.status }
            #expect(health == .ok)
            #expect(ContinuousClock.now - started < .seconds(1), "answered beside \(held) idle connections")
            // Past the timeout the server closes them: each socket reads end-of-stream.
            let closed = try await eventually(timeout: .seconds(60)) { idle.countClosedByPeer() == 2_000 }
            #expect(closed, "\(idle.countClosedByPeer()) of 2,000 closed by the server")
            #expect(Self.openDescriptors(server.pid) < baseline + 100, "their descriptors are free again")
            server.signal(SIGTERM)
            #expect(try await server.waitForExit() == 0)
        }
    }

    @Test func reachingTheCapClosesTheLongestIdleConnectionsSoNewClientsGetIn() async throws {
        try await withSetup { setup in
            // The idle timeout is far beyond the test: only the cap closes connections here.
            let server = try await start(setup, ["--max-connections", "300", "--idle-timeout-ms", "120000"], log: "idle-at-cap")
            let baseline = Self.openDescriptors(server.pid)
            // The server's descriptors while the sockets arrive, the most seen.
            let sampler = Task {
                var most = 0
                while !Task.isCancelled {
                    most = max(most, Self.openDescriptors(server.pid) - baseline)
                    try? await Task.sleep(for: .milliseconds(10))
                }
                return most
            }
            let idle = try IdleSockets(count: 1_000, port: setup.port)
            defer { idle.close() }
            // Each time the cap is reached the oldest idle ones make room for those waiting.
            let madeRoom = try await eventually(timeout: .seconds(30)) { idle.countClosedByPeer() >= 650 }
            #expect(madeRoom, "\(idle.countClosedByPeer()) of 1,000 idle connections closed at the cap")
            sampler.cancel()
            // The service's own descriptors (broker connections, files) move by a few meanwhile.
            let most = await sampler.value
            #expect(most >= 200 && most <= 310, "at most the cap was open at any time: \(most)")
            let started = ContinuousClock.now
            let health = try await TestClient.withClient(host: "127.0.0.1", port: setup.port) { try await $0.get("/health").head.status }
            #expect(health == .ok)
            #expect(ContinuousClock.now - started < .seconds(1), "a new client got in beside 300 idle connections at the cap")
            server.signal(SIGTERM)
            #expect(try await server.waitForExit() == 0)
        }
    }

    /// The server's open descriptors, from /proc.
    static func openDescriptors(_ pid: pid_t) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
    }
}

/// TCP connections to loopback that never send a byte.
final class IdleSockets: Sendable {
    let descriptors: [Int32]

    init(count: Int, port: Int) throws {
        IdleSockets.raiseDescriptorLimit(to: count + 1_024)
        var opened = [Int32]()
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard result == 0 else {
                let code = errno
                Glibc.close(fd)
                opened.forEach { Glibc.close($0) }
                throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            opened.append(fd)
        }
        descriptors = opened
    }

    /// How many sockets read end-of-stream (or a reset): the server closed them.
    func countClosedByPeer() -> Int {
        var byte: UInt8 = 0
        return descriptors.count { fd in
            let read = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
            return read == 0 || (read < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        }
    }

    func close() {
        for fd in descriptors { Glibc.close(fd) }
    }

    static func raiseDescriptorLimit(to wanted: Int) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(wanted) else { return }
        limit.rlim_cur = min(rlim_t(wanted), limit.rlim_max)
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}
