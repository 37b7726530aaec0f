import Ledger
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(1))) struct BatchingQueueTests {
    /// A batch is the oldest elements, in order, at most `max`; the rest stay for the next one.
    @Test func removeBatchTakesTheOldestUpToTheMaximum() {
        var waiting = Array(1...10)
        #expect(waiting.removeBatch(max: 4) == [1, 2, 3, 4])
        #expect(waiting == Array(5...10))
        #expect(waiting.removeBatch(max: 6) == Array(5...10))
        #expect(waiting.isEmpty)
        waiting.append(11)
        #expect(waiting.removeBatch(max: 4) == [11])
    }

    /// What arrives while every connection is busy joins the next batch, instead of being taken
    /// alone and held until a connection comes free (smaller batches, more transactions).
    @Test func elementsArrivingWhileTheConnectionsAreBusyShareTheNextBatch() async throws {
        let queue = BatchingQueue<Int>(maxDepth: 100)
        let sent = Mutex<[[Int]]>([])
        let (firstBatchArrived, arrived) = AsyncStream.makeStream(of: Void.self)
        let (released, release) = AsyncStream.makeStream(of: Void.self)
        async let dispatching: Void = queue.dispatch(to: ["the only connection"], nextBatch: {
            while true {
                await queue.waitForWork()
                guard let batch = queue.take(max: 100) else { return nil }
                if !batch.isEmpty { return batch }
            }
        }) { batch, _ in
            let isFirst = sent.withLock { sent in
                sent.append(batch)
                return sent.count == 1
            }
            if isFirst {
                arrived.yield()
                for await _ in released { break }
            }
        }
        #expect(queue.enqueue(1) == nil)
        for await _ in firstBatchArrived { break }
        #expect(queue.enqueue(2) == nil)
        try await Task.sleep(for: .milliseconds(100))  // time to take 2 alone, were it taken early
        #expect(queue.enqueue(3) == nil)
        release.yield()
        queue.close()
        await dispatching
        #expect(sent.withLock { $0 } == [[1], [2, 3]])
    }

    /// Oldest first, never more than asked, nothing lost or repeated, whether a take empties the
    /// queue or leaves some behind; a closed queue still gives up what it holds, then nil.
    @Test func takesAreTheOldestElementsInOrderUpToTheMaximum() {
        let queue = BatchingQueue<Int>(maxDepth: 10)
        #expect(queue.take(max: 3) == [])
        for value in 1...5 { #expect(queue.enqueue(value) == nil) }
        #expect(queue.take(max: 3) == [1, 2, 3])
        #expect(queue.peek().oldest == 4 && queue.peek().count == 2)
        #expect(queue.take(max: 3) == [4, 5])
        for value in 6...15 { #expect(queue.enqueue(value) == nil) }
        if case .full(let depth)? = queue.enqueue(16) { #expect(depth == 10) } else { Issue.record("an 11th element was taken") }
        #expect(queue.take(max: 10) == Array(6...15))
        #expect(queue.peek().count == 0)
        for value in 16...19 { #expect(queue.enqueue(value) == nil) }
        queue.close()
        #expect(queue.enqueue(20) == .closed)
        #expect(queue.take(max: 2) == [16, 17])
        #expect(queue.take(max: 5) == [18, 19])
        #expect(queue.take(max: 5) == nil)
    }
}
