import Foundation
import Logging

/// The process's open-file limit, raised so the HTTP connection cap (plus the service's own
/// connections and files) fits under it: the usual soft limit of 1,024 would refuse accepts
/// long before the cap.
enum FileDescriptorLimit {
    /// Descriptors the service uses besides HTTP connections (database, Redis, Kafka, logs).
    static let reservedForService = 256

    static func raise(toFit connections: Int, logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        let wanted = rlim_t(connections + reservedForService)
        guard limit.rlim_cur < wanted else { return }
        limit.rlim_cur = min(wanted, limit.rlim_max)
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) != 0 || limit.rlim_cur < wanted {
            logger.warning(
                "the open-file limit is below the connection cap; lower --max-connections or raise the hard limit",
                metadata: ["limit": "\(limit.rlim_cur)", "needed": "\(wanted)"])
        }
    }
}
