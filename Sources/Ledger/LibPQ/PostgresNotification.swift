/// A NOTIFY received on a channel this connection LISTENs to.
public struct PostgresNotification: Sendable, Equatable {
    public let channel: String
    public let payload: String
    public let backendPID: Int32
}
