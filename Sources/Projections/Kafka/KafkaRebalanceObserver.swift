import CRdKafka
import Synchronization

/// The consumer's rebalance and offset-commit callbacks: applies each assignment and
/// revocation (librdkafka does not once a callback is set) and records the group status for
/// other threads to read. The callbacks run on the consumer's own thread, inside a poll or close.
final class KafkaRebalanceObserver: Sendable {
    private let state = Mutex(KafkaGroupStatus())

    var status: KafkaGroupStatus { state.withLock { $0 } }

    /// Registers the callback on `conf`; `self` must outlive the handle made from it.
    func install(on conf: OpaquePointer) {
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(self).toOpaque())
        rd_kafka_conf_set_rebalance_cb(conf) { handle, error, partitions, opaque in
            guard let handle, let opaque else { return }
            Unmanaged<KafkaRebalanceObserver>.fromOpaque(opaque).takeUnretainedValue().rebalance(handle, error, partitions)
        }
        rd_kafka_conf_set_offset_commit_cb(conf) { _, error, _, opaque in
            // _NO_OFFSET: nothing was left to commit, not a failure.
            guard let opaque, error != RD_KAFKA_RESP_ERR_NO_ERROR, error != RD_KAFKA_RESP_ERR__NO_OFFSET else { return }
            Unmanaged<KafkaRebalanceObserver>.fromOpaque(opaque).takeUnretainedValue().state.withLock { $0.failedCommits += 1 }
        }
    }

    /// The consumers use the default eager assignors (range, round robin): a rebalance revokes
    /// the whole assignment and assigns a new one.
    private func rebalance(_ handle: OpaquePointer, _ error: rd_kafka_resp_err_t, _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) {
        switch error {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            rd_kafka_assign(handle, partitions)
            state.withLock { $0.isMember = true }
        default:
            let lost = rd_kafka_assignment_lost(handle) != 0
            rd_kafka_assign(handle, nil)
            state.withLock {
                $0.isMember = false
                if lost { $0.lostAssignments += 1 }
                $0.lagMessages = 0
            }
        }
    }

    func recordLag(_ lagMessages: Int64) {
        state.withLock { $0.lagMessages = lagMessages }
    }
}
