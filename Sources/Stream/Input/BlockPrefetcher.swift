import Foundation
import Synchronization

/// Reads a ``MatrixSource`` on a second thread, a few blocks ahead of the consumer.
///
/// Inflating the archive and parsing the CSV each take about one core; with this they overlap.
/// Blocks are filled in a small ring of reused buffers (bounded memory: `depth` × `blockSize`; ISA-L inflates
/// straight into them, libarchive's blocks are copied in),
/// handed over through two semaphores. Hand-written because the project has no async runtime on
/// this path and the hand-off must not allocate per block.
///
/// The owner calls ``stop()`` when done (on every path, errors included); releasing a prefetcher whose
/// thread still runs is a programming error, caught by an assertion in debug builds.
///
/// `@unchecked Sendable` (the producer thread holds a reference): the ring's slots are owned by one
/// side at a time, handed over by the semaphores (`free` gives a slot to the producer, `filled` to the
/// consumer), so no slot or length is touched by both threads at once; `source` is used by the producer
/// thread only (its `location` is immutable); everything else both threads see is in `shared`.
public final class BlockPrefetcher: @unchecked Sendable {
    private let source: MatrixSource
    private let blockSize: Int
    private let depth: Int
    /// The ring: `depth` buffers of `blockSize` bytes and their filled lengths, allocated once.
    private let buffers: [UnsafeMutableRawPointer]
    private let lengths: UnsafeMutablePointer<Int>
    /// Counts filled buffers the consumer may take.
    private let filled: DispatchSemaphore
    /// Counts free buffers the producer may fill.
    private let free: DispatchSemaphore
    private let finished = DispatchSemaphore(value: 0)

    /// What both threads read and write.
    private struct Shared {
        var producerError: Error?
        var stopRequested = false
        /// Compressed bytes consumed as of the last block handed over.
        var bytesConsumed: Int64 = 0
        /// Decompressed bytes read from the source so far (how far a failed read got).
        var bytesDecompressed: Int64 = 0
    }
    private let shared = Mutex(Shared())

    // Consumer-side state (the consumer's thread only).
    private var consumerIndex = 0
    private var holdingBuffer = false
    private var stopped = false

    /// Starts reading `source` on a background thread.
    public init(source: MatrixSource, blockSize: Int = 1 << 20, depth: Int = 4) {
        self.source = source
        self.blockSize = blockSize
        self.depth = depth
        buffers = (0..<depth).map { _ in UnsafeMutableRawPointer.allocate(byteCount: blockSize, alignment: 64) }
        lengths = UnsafeMutablePointer<Int>.allocate(capacity: depth)
        lengths.initialize(repeating: 0, count: depth)
        // Both start at 0 and are signalled up: libdispatch traps when a semaphore is released with a
        // value below the one it was created with, which a stop in the middle of a read would leave.
        filled = DispatchSemaphore(value: 0)
        free = DispatchSemaphore(value: 0)
        for _ in 0..<depth { free.signal() }
        let thread = Thread { [self] in self.produce() }
        thread.name = "replay.inflate"
        thread.start()
    }

    deinit {
        assert(stopped, "BlockPrefetcher released without stop(): its thread may still be reading")
        for b in buffers { b.deallocate() }
        lengths.deallocate()
    }

    /// Where the CSV was found.
    public var location: String { source.location }

    /// Compressed bytes consumed so far (as of the last block handed over).
    public var bytesConsumed: Int64 { shared.withLock { $0.bytesConsumed } }

    /// Decompressed CSV bytes read from the source so far (how far a failed read got).
    public var bytesDecompressed: Int64 { shared.withLock { $0.bytesDecompressed } }

    private func produce() {
        var index = 0
        while true {
            free.wait()
            if shared.withLock({ $0.stopRequested }) { break }
            // Fill one buffer: ISA-L inflates straight into it, libarchive's blocks are copied.
            let length: Int
            do {
                length = try source.read(into: UnsafeMutableRawBufferPointer(start: buffers[index], count: blockSize))
            } catch {
                let delivered = source.bytesDelivered
                shared.withLock {
                    $0.producerError = error
                    $0.bytesDecompressed = delivered
                }
                filled.signal()
                break
            }
            lengths[index] = length
            let consumed = source.bytesConsumed, delivered = source.bytesDelivered
            shared.withLock {
                $0.bytesConsumed = consumed
                $0.bytesDecompressed = delivered
            }
            filled.signal()
            if length == 0 { break }
            index = (index + 1) % depth
        }
        finished.signal()
    }

    /// The next block of CSV bytes, or nil at the end.
    ///
    /// - Warning: The block is valid only until the next call.
    /// - Throws: what the source threw while reading ahead.
    public func nextBlock() throws -> UnsafeRawBufferPointer? {
        if holdingBuffer {
            holdingBuffer = false
            consumerIndex = (consumerIndex + 1) % depth
            free.signal()
        }
        filled.wait()
        if let error = shared.withLock({ $0.producerError }) {
            filled.signal()  // later calls see the error too
            throw error
        }
        let length = lengths[consumerIndex]
        if length == 0 {
            filled.signal()
            return nil
        }
        holdingBuffer = true
        return UnsafeRawBufferPointer(start: buffers[consumerIndex], count: length)
    }

    /// Stops the producer and waits for its thread to end (idempotent; call it on every path).
    public func stop() {
        guard !stopped else { return }
        stopped = true
        shared.withLock { $0.stopRequested = true }
        // Wake the producer if it waits for a free buffer.
        for _ in 0..<depth { free.signal() }
        finished.wait()
    }
}
