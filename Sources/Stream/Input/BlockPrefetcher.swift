import Foundation

/// Reads a ``MatrixSource`` on a second thread, a few blocks ahead of the consumer.
///
/// Inflating the archive and parsing the CSV each take about one core; with this they overlap.
/// Blocks are copied into a small ring of reused buffers (bounded memory: `depth` × `blockSize`),
/// handed over through two semaphores. Hand-written because the project has no async runtime on
/// this path and the hand-off must not allocate per block.
public final class BlockPrefetcher {
    private let source: MatrixSource
    private let blockSize: Int
    private let depth: Int
    private var buffers: [UnsafeMutableRawPointer]
    private var lengths: [Int]
    /// Counts filled buffers the consumer may take.
    private let filled: DispatchSemaphore
    /// Counts free buffers the producer may fill.
    private let free: DispatchSemaphore
    private let lock = NSLock()
    private var producerError: Error?
    private var producerDone = false
    private var stopRequested = false
    private var consumerIndex = 0
    private var holdingBuffer = false
    private let finished = DispatchSemaphore(value: 0)
    private var thread: Thread?
    private var bytesConsumedAtLastBlock: Int64 = 0

    /// Starts reading `source` on a background thread.
    public init(source: MatrixSource, blockSize: Int = 1 << 20, depth: Int = 4) {
        self.source = source
        self.blockSize = blockSize
        self.depth = depth
        buffers = (0..<depth).map { _ in UnsafeMutableRawPointer.allocate(byteCount: blockSize, alignment: 64) }
        lengths = Array(repeating: 0, count: depth)
        // Both start at 0 and are signalled up: libdispatch traps when a semaphore is released with a
        // value below the one it was created with, which a stop in the middle of a read would leave.
        filled = DispatchSemaphore(value: 0)
        free = DispatchSemaphore(value: 0)
        for _ in 0..<depth { free.signal() }
        let thread = Thread { [unowned self] in self.produce() }
        thread.name = "replay.inflate"
        self.thread = thread
        thread.start()
    }

    deinit {
        stop()
        for b in buffers { b.deallocate() }
    }

    /// Where the CSV was found.
    public var location: String { source.location }

    /// Compressed bytes consumed so far (as of the last block handed over).
    public var bytesConsumed: Int64 {
        lock.lock()
        defer { lock.unlock() }
        return bytesConsumedAtLastBlock
    }

    private func produce() {
        var index = 0
        var pending: UnsafeRawBufferPointer?
        var pendingOffset = 0
        outer: while true {
            free.wait()
            lock.lock()
            let stopping = stopRequested
            lock.unlock()
            if stopping { break }
            // Fill one buffer, possibly from several source blocks.
            var length = 0
            let target = buffers[index]
            do {
                while length < blockSize {
                    if pending == nil || pendingOffset == pending!.count {
                        guard let block = try source.nextBlock() else { break }
                        pending = block
                        pendingOffset = 0
                        if block.isEmpty { continue }
                    }
                    let chunk = min(blockSize - length, pending!.count - pendingOffset)
                    (target + length).copyMemory(from: pending!.baseAddress! + pendingOffset, byteCount: chunk)
                    length += chunk
                    pendingOffset += chunk
                }
            } catch {
                lock.lock()
                producerError = error
                producerDone = true
                lock.unlock()
                filled.signal()
                break outer
            }
            lengths[index] = length
            let consumed = source.bytesConsumed
            lock.lock()
            bytesConsumedAtLastBlock = consumed
            if length == 0 { producerDone = true }
            lock.unlock()
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
        lock.lock()
        let error = producerError
        lock.unlock()
        if let error {
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

    /// Stops the producer and waits for its thread to end (idempotent).
    public func stop() {
        guard let _ = thread else { return }
        thread = nil
        lock.lock()
        stopRequested = true
        lock.unlock()
        // Wake the producer if it waits for a free buffer.
        for _ in 0..<depth { free.signal() }
        finished.wait()
    }
}
