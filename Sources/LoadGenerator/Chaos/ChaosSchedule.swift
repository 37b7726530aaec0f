/// The faults of a run, drawn from a seed: the same seed, duration and node count give the same
/// schedule. Every kind comes once, in a shuffled order, before any comes again; faults never
/// overlap (each one's effects are measured on their own), with a quiet gap after each.
public enum ChaosSchedule {
    /// Nothing fails in the first seconds (the sale gets going) nor in the last (recovery is seen).
    public static let quietStartMs: Int64 = 3_000
    public static let quietEndMs: Int64 = 3_000
    static let faultMs: ClosedRange<Int64> = 2_000...3_500
    static let gapMs: ClosedRange<Int64> = 1_500...2_500

    public static func make(seed: UInt64, durationMs: Int64, nodes: Int, kinds: [ChaosFault.Kind] = ChaosFault.Kind.allCases) -> [ChaosFault] {
        precondition(nodes >= 1 && !kinds.isEmpty, "a schedule needs a node and a kind of fault")
        var random = SplitMix(seed: seed)
        func draw(_ range: ClosedRange<Int64>) -> Int64 { range.lowerBound + Int64(random.next() % UInt64(range.upperBound - range.lowerBound + 1)) }
        var faults = [ChaosFault]()
        var at = quietStartMs
        while true {
            var round = kinds
            for index in round.indices.reversed() where index > 0 {
                round.swapAt(index, Int(random.next() % UInt64(index + 1)))
            }
            for kind in round {
                let length = draw(faultMs)
                guard at + length <= durationMs - quietEndMs else { return faults }
                let node = kind == .nodeKill ? 1 + Int(random.next() % UInt64(nodes)) : nil
                faults.append(ChaosFault(kind: kind, node: node, startMs: at, endMs: at + length))
                at += length + draw(gapMs)
            }
        }
    }
}
