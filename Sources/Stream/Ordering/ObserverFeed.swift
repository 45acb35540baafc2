import Foundation
import Synchronization

/// Runs the ingest observer on a thread of its own, one block behind the parse thread, in file order.
///
/// The parse thread copies each block and lists its rows (where each record lies, its outcome); the observer
/// thread splits each record again and calls ``IngestObserver/observe(row:fields:outcome:)`` in the same order
/// the parse thread would have. Hand-written like ``BlockPrefetcher``: a small ring of reused batches handed
/// over by two semaphores, with no allocation per block once the batches have grown.
///
/// The owner calls ``finish()`` after the last row, or ``stop()`` on every other path.
///
/// `@unchecked Sendable` (the observer thread holds a reference): each batch is owned by one side at a time,
/// handed over by the semaphores (`filled` gives a batch to the observer thread, `free` back to the parse
/// thread); `observer` is used by the observer thread alone from the first hand-over until `finished` is
/// signalled (the parse thread calls `begin(columns:)` before any batch is handed over, and the owner reads
/// the observer's results only after ``finish()`` or ``stop()`` returned); errors cross in `failure`.
final class ObserverFeed: @unchecked Sendable {
    /// One block's rows: the block's bytes, records assembled across blocks appended after them, and each
    /// row's place in `bytes` and outcome.
    private final class Batch {
        var bytes: [UInt8] = []
        var rows: [(start: Int, count: Int, outcome: InteractionDecoder.Outcome)] = []
        /// The last batch: the observer thread ends after it.
        var isEnd = false
    }

    private let observer: IngestObserver
    private let batches: [Batch]
    private let filled = DispatchSemaphore(value: 0)
    private let free = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let failure = FirstFailure()

    // The parse thread's side.
    private var producerIndex = 0
    private var blockBase: UnsafeRawPointer?
    private var blockCount = 0
    /// Where the current block's copy starts in the batch's bytes.
    private var blockOffset = 0
    private var ended = false

    /// Starts the observer thread. Call `observer.begin(columns:)` before the first ``add(_:outcome:)``.
    init(observer: IngestObserver, depth: Int = 4) {
        self.observer = observer
        batches = (0..<depth).map { _ in Batch() }
        for _ in 1..<depth { free.signal() }
        let thread = Thread { [self] in self.consume() }
        thread.name = "replay.observe"
        thread.start()
    }

    /// Copies `block` into the batch, so that ``add(_:outcome:)`` lists its records by place.
    func beginBlock(_ block: UnsafeRawBufferPointer) {
        let batch = batches[producerIndex]
        blockOffset = batch.bytes.count
        batch.bytes.append(contentsOf: block)
        blockBase = block.baseAddress
        blockCount = block.count
    }

    /// Lists one row for the observer: where its record lies in the block, or a copy of a record that does not.
    @inline(__always)
    func add(_ record: UnsafeRawBufferPointer, outcome: InteractionDecoder.Outcome) {
        let batch = batches[producerIndex]
        if let base = blockBase, let start = record.baseAddress, start >= base,
            base.distance(to: start) + record.count <= blockCount
        {
            batch.rows.append((blockOffset + base.distance(to: start), record.count, outcome))
        } else {
            batch.rows.append((batch.bytes.count, record.count, outcome))
            batch.bytes.append(contentsOf: record)
        }
    }

    /// Hands the batch to the observer thread and takes the next free one.
    /// - Throws: the first error the observer threw (its later rows are not observed).
    func endBlock() throws {
        filled.signal()
        producerIndex = (producerIndex + 1) % batches.count
        free.wait()
        let next = batches[producerIndex]
        next.bytes.removeAll(keepingCapacity: true)
        next.rows.removeAll(keepingCapacity: true)
        blockBase = nil
        try failure.check()
    }

    /// Hands over the last batch and waits until every row was observed.
    /// - Throws: the first error the observer threw.
    func finish() throws {
        stop()
        try failure.check()
    }

    /// Ends the observer thread after the rows already listed (the current batch included) and waits for it.
    func stop() {
        guard !ended else { return }
        ended = true
        batches[producerIndex].isEnd = true
        filled.signal()
        finished.wait()
    }

    /// The observer thread: observes every batch's rows in order until the last batch.
    private func consume() {
        var index = 0
        var splitter = CSVFieldSplitter()
        while true {
            filled.wait()
            let batch = batches[index]
            if !failure.hasFailed {
                do {
                    try batch.bytes.withUnsafeBytes { bytes in
                        for row in batch.rows {
                            let record = UnsafeRawBufferPointer(rebasing: bytes[row.start..<(row.start + row.count)])
                            _ = splitter.split(record)
                            try observer.observe(row: record, fields: splitter, outcome: row.outcome)
                        }
                    }
                } catch {
                    failure.record(error)
                }
            }
            if batch.isEnd {
                finished.signal()
                return
            }
            index = (index + 1) % batches.count
            free.signal()
        }
    }
}
