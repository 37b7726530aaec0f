import Glibc

/// What a connection's socket holds without reading it: the C clients (libpq, hiredis) check
/// whether an idle connection was closed by its server before they reuse it.
public enum SocketReadiness {
    /// Whether `socket` has bytes (or end-of-stream) to read within `timeoutMs`. A missing
    /// socket counts as readable, so the caller goes on to find the connection broken.
    public static func isReadable(_ socket: Int32, timeoutMs: Int32 = 0) -> Bool {
        guard socket >= 0 else { return true }
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, timeoutMs) > 0
    }

    /// Whether the peer closed `socket`: readable, and a peek reads end-of-stream.
    public static func peerClosed(_ socket: Int32) -> Bool {
        guard isReadable(socket) else { return false }
        var byte: UInt8 = 0
        return recv(socket, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) == 0
    }
}
