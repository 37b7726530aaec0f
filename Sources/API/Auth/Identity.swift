/// Who is calling: a user id, and whether the token carries `role: admin`.
public struct Identity: Sendable, Hashable {
    public var userId: Int64
    public var isAdmin: Bool

    public init(userId: Int64, isAdmin: Bool) {
        self.userId = userId
        self.isAdmin = isAdmin
    }

    /// `user:42` or `admin:42`, for event metadata.
    public var actor: String { "\(isAdmin ? "admin" : "user"):\(userId)" }
}
