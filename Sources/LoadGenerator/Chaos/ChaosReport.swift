/// What a chaos run showed: per second what the clients got, per kind of fault how the system
/// came through it, and the checker's verdict with the liveness checks added. JSON for machines,
/// `html` for people.
public struct ChaosReport: Sendable, Codable {
    /// The operations that started in one second of the run.
    public struct Second: Sendable, Codable, Equatable {
        public var second: Int
        public var ok = 0
        public var refusedByCode: [String: Int] = [:]
        public var unknown = 0
        /// The 99th percentile latency of the successful operations, if any.
        public var okP99Ms: Int64?
    }

    /// How the system came through every fault of one kind.
    public struct FaultKindRow: Sendable, Codable, Equatable {
        public var kind: ChaosFault.Kind
        public var count = 0
        /// Per fault: from its end to the end of the first successful reservation after it.
        public var recoveriesMs: [Int64] = []
        /// Operations begun while the fault lasted whose outcome was unknown or a 503.
        public var errorsDuring = 0
        /// Acknowledged reservations, confirms or cancels the ledger lacks, begun during the fault or its recovery.
        public var lostAcknowledged = 0
        public var oversoldUnits: Int64 = 0
    }

    public var seed: UInt64
    public var nodes: Int
    public var startMs: Int64
    public var endMs: Int64
    public var operations: Int
    public var faults: [ChaosFault]
    public var seconds: [Second]
    public var faultKinds: [FaultKindRow]
    public var recoveryBoundMs: Int64
    public var verdict: ChaosVerdict

    public var passed: Bool { verdict.isClean }

    /// `faults` as they really happened (epoch milliseconds). A fault after whose end no
    /// reservation succeeded within `recoveryBoundMs` is a liveness violation.
    public init(
        history: [ChaosOperation], faults: [ChaosFault], verdict: ChaosVerdict, seed: UInt64, nodes: Int, startMs: Int64, endMs: Int64,
        recoveryBoundMs: Int64
    ) {
        (self.seed, self.nodes, self.startMs, self.endMs, self.faults, self.recoveryBoundMs) = (seed, nodes, startMs, endMs, faults, recoveryBoundMs)
        operations = history.count
        seconds = Self.seconds(history, startMs: startMs, endMs: endMs)
        var verdict = verdict
        var rows = [ChaosFault.Kind: FaultKindRow]()
        let successes = history.filter { $0.kind == .reserve && $0.outcome.isOK }.map(\.endMs).sorted()
        for fault in faults {
            var row = rows[fault.kind] ?? FaultKindRow(kind: fault.kind)
            row.count += 1
            let recovery = successes.first { $0 >= fault.endMs }.map { $0 - fault.endMs }
            if let recovery, recovery <= recoveryBoundMs {
                row.recoveriesMs.append(recovery)
            } else {
                verdict.violations.append(.init(
                    .noRecovery, "no reservation succeeded within \(recoveryBoundMs) ms after \(fault.kind.rawValue) ended", atMs: fault.endMs))
            }
            row.errorsDuring += history.count { operation in
                guard (fault.startMs...fault.endMs).contains(operation.startMs) else { return false }
                if case .unknown = operation.outcome { return true }
                return operation.outcome == .refused(code: "overloaded")
            }
            let window = fault.startMs...(fault.endMs + (recovery ?? recoveryBoundMs))
            for violation in verdict.violations {
                guard let at = violation.atMs, window.contains(at) else { continue }
                switch violation.kind {
                case .lostAcknowledgement, .lostEnding: row.lostAcknowledged += 1
                case .oversold: row.oversoldUnits = max(row.oversoldUnits, violation.units ?? 1)
                default: break
                }
            }
            rows[fault.kind] = row
        }
        faultKinds = ChaosFault.Kind.allCases.compactMap { rows[$0] }
        self.verdict = verdict
    }

    static func seconds(_ history: [ChaosOperation], startMs: Int64, endMs: Int64) -> [Second] {
        let count = Int(max(0, endMs - startMs) / 1_000) + 1
        var seconds = (0..<count).map { Second(second: $0) }
        var latencies = [[Int64]](repeating: [], count: count)
        for operation in history {
            let index = min(count - 1, max(0, Int((operation.startMs - startMs) / 1_000)))
            switch operation.outcome {
            case .ok:
                seconds[index].ok += 1
                latencies[index].append(operation.endMs - operation.startMs)
            case .refused(let code): seconds[index].refusedByCode[code, default: 0] += 1
            case .unknown: seconds[index].unknown += 1
            }
        }
        for index in seconds.indices where !latencies[index].isEmpty {
            let sorted = latencies[index].sorted()
            seconds[index].okP99Ms = sorted[min(sorted.count - 1, (sorted.count * 99 + 99) / 100 - 1)]
        }
        return seconds
    }
}
