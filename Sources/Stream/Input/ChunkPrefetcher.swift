import Foundation
import Synchronization

/// Reads a ``MatrixSource`` on a thread of its own, a few chunks ahead of its consumers, each chunk cut at a
/// record boundary: whole CSV records (RFC 4180: a line end inside quotes does not end a record), so that the
/// ingest's parse workers read chunks independently and in parallel.
///
/// Chunks are numbered from 0 in file order; `consumers` consumers take them in turn (consumer `c` chunks `c`,
/// `c + consumers`, ...). Each lives in a slot of a small ring of buffers allocated once
/// (`depth` slots of `blockSize + max(blockSize, maxRecordBytes)` bytes, of which a chunk usually touches
/// `blockSize` and the partial record carried over from the chunk before): ISA-L inflates straight into them, libarchive's blocks
/// are copied in. Chunk `k` is in slot `k % depth`; a consumer takes it with ``chunk(_:)`` and gives its slot
/// back with ``release(_:)``, and the producer refills a slot only once it is given back, so consumers may hold
/// chunks and give them back in any order. `depth` is a multiple of `consumers`: the chunks that share a slot
/// are then one consumer's, who waits for them in order (two consumers waiting on one slot could take each
/// other's chunk). One semaphore pair per slot hands it over, no allocation per chunk.
/// Hand-written because the project has no async runtime on this path and the hand-off must not allocate.
///
/// A chunk ends after the last line end of its bytes at which every quote opened since the chunk's start is
/// closed; the rest (a partial record) starts the next chunk. The input's last chunk holds what follows the
/// last such line end (a last record may lack its line end). A record longer than `maxRecordBytes` makes a
/// chunk of more than `maxRecordBytes` bytes without a record boundary: the parser refuses it as it refuses
/// any record that long.
///
/// The owner calls ``stop()`` when done (on every path, errors included); releasing a prefetcher whose
/// thread still runs is a programming error, caught by an assertion in debug builds.
///
/// `@unchecked Sendable` (the producer thread holds a reference): a slot's buffer and its ``Chunk`` record are
/// written by the producer only between the slot's `free` wait and its `filled` signal, and read by the one
/// consumer of its chunk only between that signal and ``release(_:)``, which signals `free` (the producer
/// reads the carried partial record, past the chunk's end, while the chunk's consumer reads the chunk: the two
/// never write); `source` and the hasher are used by the producer thread only (`location` is immutable); the
/// stop flag is atomic.
public final class ChunkPrefetcher: @unchecked Sendable {
    /// One chunk of whole records.
    public struct Chunk {
        /// The chunk's bytes; valid until ``ChunkPrefetcher/release(_:)``.
        public var bytes: UnsafeRawBufferPointer
        /// The CSV ends with this chunk.
        public var isLast: Bool
        /// XXH64 of the CSV's bytes from its start to this chunk's end (nil when not asked for).
        public var digestThrough: UInt64?
        /// Decompressed CSV bytes read from the source when the chunk was cut.
        public var bytesDecompressed: Int64
    }

    private let source: MatrixSource
    private let blockSize: Int
    private let maxRecordBytes: Int
    private let depth: Int
    private let buffers: [UnsafeMutableRawPointer]
    /// Per slot: the chunk it holds, or the error reading it ran into.
    private let chunks: UnsafeMutablePointer<Result<Chunk, any Error>>
    private let filled: [DispatchSemaphore]
    private let free: [DispatchSemaphore]
    private let finished = DispatchSemaphore(value: 0)
    private let stopRequested = Atomic<Bool>(false)
    private let hasher: XXH64?
    private let readBytes = Atomic<Int64>(0)
    private var stopped = false

    /// Starts reading `source` on a background thread; `hashes`: each chunk carries the XXH64 of the CSV
    /// through its end.
    public init(
        source: MatrixSource, hashes: Bool, blockSize: Int = 1 << 20,
        maxRecordBytes: Int = CSVRecordAssembler().maxRecordBytes, consumers: Int, depth: Int = 6
    ) {
        precondition(depth >= 2, "the carried partial record is read from the slot before")
        precondition(depth % consumers == 0, "the chunks sharing a slot must be one consumer's")
        self.source = source
        self.blockSize = blockSize
        self.maxRecordBytes = maxRecordBytes
        self.depth = depth
        hasher = hashes ? XXH64() : nil
        // The partial record carried in is shorter than a block (it follows a record boundary found in the
        // last block read); blocks are read after it until a boundary, or until more than `maxRecordBytes`.
        let capacity = blockSize + max(blockSize, maxRecordBytes + 1)
        buffers = (0..<depth).map { _ in UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64) }
        chunks = UnsafeMutablePointer.allocate(capacity: depth)
        chunks.initialize(
            repeating: .success(Chunk(bytes: UnsafeRawBufferPointer(start: nil, count: 0), isLast: true, digestThrough: nil, bytesDecompressed: 0)),
            count: depth)
        // Both start at 0 and are signalled up: libdispatch traps when a semaphore is released with a value
        // below the one it was created with, which a stop in the middle of a read would leave.
        filled = (0..<depth).map { _ in DispatchSemaphore(value: 0) }
        free = (0..<depth).map { _ in DispatchSemaphore(value: 0) }
        for semaphore in free { semaphore.signal() }
        let thread = Thread { [self] in self.produce() }
        thread.name = "replay.inflate"
        thread.start()
    }

    deinit {
        assert(stopped, "ChunkPrefetcher released without stop(): its thread may still be reading")
        for b in buffers { b.deallocate() }
        chunks.deinitialize(count: depth)
        chunks.deallocate()
    }

    /// Where the CSV was found.
    public var location: String { source.location }

    /// Decompressed CSV bytes read from the source so far (how far a failed read got).
    public var bytesDecompressed: Int64 { readBytes.load(ordering: .relaxed) }

    /// Chunk `k`, once read; nil once ``requestStop()`` was called. Each chunk is taken once, and a consumer
    /// takes its chunks in increasing order; no chunk after the last one is asked for except by a consumer
    /// that a stop then wakes.
    /// - Throws: what the source threw while reading chunk `k`.
    public func chunk(_ k: Int) throws -> Chunk? {
        let slot = k % depth
        filled[slot].wait()
        if stopRequested.load(ordering: .sequentiallyConsistent) { return nil }
        return try chunks[slot].get()
    }

    /// Gives chunk `k`'s slot back for the producer to refill.
    public func release(_ k: Int) { free[k % depth].signal() }

    /// Wakes every waiting consumer (their ``chunk(_:)`` returns nil) and the producer, which then ends.
    public func requestStop() {
        stopRequested.store(true, ordering: .sequentiallyConsistent)
        for semaphore in filled { semaphore.signal() }
        for semaphore in free { semaphore.signal() }
    }

    /// Stops the producer and waits for its thread to end (idempotent; call it on every path, after the
    /// consumers are done with their chunks).
    public func stop() {
        guard !stopped else { return }
        stopped = true
        requestStop()
        finished.wait()
    }

    private func produce() {
        defer { finished.signal() }
        var k = 0
        var carried: UnsafeRawBufferPointer?
        while true {
            let slot = k % depth
            free[slot].wait()
            if stopRequested.load(ordering: .sequentiallyConsistent) { return }
            let buffer = buffers[slot]
            let result = Result { try fill(buffer, carrying: carried) }
            if case .failure = result { readBytes.store(source.bytesDelivered, ordering: .relaxed) }  // how far it got
            chunks[slot] = result.map(\.chunk)
            carried = try? result.get().rest
            filled[slot].signal()
            guard case .success(let cut) = result, !cut.chunk.isLast else { return }
            k += 1
        }
    }

    /// Fills `buffer` with the partial record `carried` (from the slot before) and the bytes after it, up to
    /// a record boundary: the chunk, and the partial record after it.
    private func fill(
        _ buffer: UnsafeMutableRawPointer, carrying carried: UnsafeRawBufferPointer?
    ) throws -> (chunk: Chunk, rest: UnsafeRawBufferPointer) {
        var count = 0
        if let carried, carried.count > 0 {
            buffer.copyMemory(from: carried.baseAddress!, byteCount: carried.count)
            count = carried.count
        }
        var isLast = false
        var end: Int
        while true {
            let read = try source.read(into: UnsafeMutableRawBufferPointer(start: buffer + count, count: blockSize))
            readBytes.store(source.bytesDelivered, ordering: .relaxed)
            if read == 0 {
                isLast = true
                end = count
                break
            }
            count += read
            if let boundary = CSVRecordAssembler.lastRecordEnd(UnsafeRawBufferPointer(start: buffer, count: count)) {
                end = boundary
                break
            }
            // No record ends here: a record longer than any may be is handed over whole, for the parser to refuse.
            if count > maxRecordBytes {
                end = count
                break
            }
        }
        let bytes = UnsafeRawBufferPointer(start: buffer, count: end)
        hasher?.update(bytes)
        let chunk = Chunk(
            bytes: bytes, isLast: isLast, digestThrough: hasher?.value, bytesDecompressed: source.bytesDelivered)
        return (chunk, UnsafeRawBufferPointer(start: buffer + end, count: count - end))
    }
}
