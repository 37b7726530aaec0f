/// Turns the consumer's group status into what the projector reports once per change rather
/// than once per poll: the group dropped this member, it is a member again, commits failed.
struct GroupMembershipWatch {
    enum Change: Equatable {
        /// The group took the assignment away `times` times since the last observation.
        case lost(times: Int)
        case rejoined
        /// `count` more offset commits failed.
        case commitsFailed(count: Int)
    }

    private var lostSeen = 0
    private var failedCommitsSeen = 0
    private(set) var isRejoining = false

    mutating func changes(_ status: KafkaGroupStatus) -> [Change] {
        var changes = [Change]()
        if status.lostAssignments > lostSeen {
            changes.append(.lost(times: status.lostAssignments - lostSeen))
            lostSeen = status.lostAssignments
            isRejoining = true
        }
        if isRejoining && status.isMember {
            changes.append(.rejoined)
            isRejoining = false
        }
        if status.failedCommits > failedCommitsSeen {
            changes.append(.commitsFailed(count: status.failedCommits - failedCommitsSeen))
            failedCommitsSeen = status.failedCommits
        }
        return changes
    }
}
