import Foundation
import Synchronization
import Testing

@testable import Ledger

@Suite struct RandomBytePoolTests {
    /// A source that counts its calls and hands out 0, 1, 2, … so every byte's origin shows.
    final class CountingSource: Sendable {
        let calls = Atomic(0)
        let nextByte = Mutex<UInt8>(0)
        func fill(_ buffer: UnsafeMutableRawBufferPointer) {
            calls.add(1, ordering: .relaxed)
            nextByte.withLock { next in
                for index in buffer.indices {
                    buffer[index] = next
                    next &+= 1
                }
            }
        }
    }

    @Test func aPageOfKernelBytesServesTwoHundredFiftySixDrawsAndNoByteTwice() {
        let source = CountingSource()
        let pool = RandomBytePool(refill: { source.fill($0) })
        #expect(source.calls.load(ordering: .relaxed) == 0, "nothing is fetched before the first draw")
        var bytes = [UInt8]()
        for _ in 0..<(2 * RandomBytePool.refillBytes / 16 + 1) {
            let (low, high) = pool.next128()
            withUnsafeBytes(of: low) { bytes += $0 }
            withUnsafeBytes(of: high) { bytes += $0 }
        }
        #expect(source.calls.load(ordering: .relaxed) == 3, "one fetch per page, not one per draw")
        // The draws are the source's bytes in order: none skipped, none handed out twice.
        #expect(bytes == (0..<bytes.count).map { UInt8(truncatingIfNeeded: $0) })
    }

    @Test func concurrentDrawsFromTheKernelNeverRepeat() async {
        let draws = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<4 {
                group.addTask { (0..<5_000).map { _ in "\(RandomBytePool.shared.next128())" } }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        #expect(Set(draws).count == 20_000)
    }

    @Test func version7IdsCarryTheirMillisecondsVersionAndVariant() {
        let ids = (0..<1_000).map { _ in UUID.v7(at: Timestamp(epochMs: 0x0190_F3F0_1234)) }
        #expect(Set(ids).count == 1_000)
        for id in ids {
            let text = id.lowercased
            #expect(text.hasPrefix("0190f3f0-1234-7"))
            #expect("89ab".contains(text[text.index(text.startIndex, offsetBy: 19)]))
        }
    }
}
