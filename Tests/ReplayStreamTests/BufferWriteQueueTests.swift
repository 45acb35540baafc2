import Foundation
import Testing
import ReplayStream

/// ``BufferWriteQueue``: a buffer sent is written where the sender filled it (never copied first), in the order
/// sent, and comes back to the sender as the next buffer to fill once written.
@Suite struct BufferWriteQueueTests {
    private static func address(_ buffer: [Int]) -> Int {
        buffer.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) }
    }

    /// Forty buffers of 64 KiB each sent through one variable: every write sees the bytes at the address the
    /// sender filled (a copy would be elsewhere), the writes come in order with the values filled, and after the
    /// first writes the sender fills no new buffer: only the buffers the queue gave back.
    @Test func sentBuffersAreWrittenInPlaceInOrderAndComeBack() {
        let queue = BufferWriteQueue<Int>(label: "test.buffer-write-queue")
        let seen = TracedMutex<[(address: Int, first: Int, count: Int)]>([])
        var buffer: [Int] = []
        var filled: [Int] = []
        for round in 0..<40 {
            buffer.append(contentsOf: (0..<8192).map { round * 8192 + $0 })
            filled.append(Self.address(buffer))
            queue.send(&buffer) { bytes in
                let values = bytes.bindMemory(to: Int.self)
                seen.withLock { $0.append((Int(bitPattern: values.baseAddress), values[0], values.count)) }
            }
            #expect(buffer.isEmpty)
        }
        queue.waitForWrites()
        #expect(queue.failure.hasFailed == false)
        let writes = seen.withLock { $0 }
        #expect(writes.map(\.address) == filled)
        #expect(writes.map(\.first) == (0..<40).map { $0 * 8192 })
        #expect(writes.allSatisfy { $0.count == 8192 })
        // A send waits until at most one write is in flight, and a write gives its buffer back before it ends: a new
        // buffer is made only when no spare is back, so there are never more than three (the sender's, one in
        // flight, one spare), however the writes interleave.
        #expect(Set(filled).count <= 3)
    }
}
