import Foundation
import Synchronization

/// A rejected row of a ``ParsedBlock``: its line, its index in the block's `rows`, why, and where its text is
/// in the block's `rejectedText`.
struct ParsedReject {
    var line: Int64
    var row: Int
    var reason: RejectReason
    var textStart: Int
    var textCount: Int
}

/// The data rows of a ``ParsedBlock``, in a buffer that keeps its capacity from chunk to chunk.
///
/// Hand-written instead of an `Array`: `Array.append` calls `swift_isUniquelyReferenced_nonNull_native` for each
/// row, and with that call between building the 60-byte row and storing it, the row is spilled to the stack and
/// copied into the array by 16-byte loads that stall on store forwarding (~40% of `ParseWorker.parse`'s own
/// samples, measured). Here a row is stored where it is built.
///
/// Invariant of the unsafe pointer: the memory (``capacity`` rows, the first ``count`` initialized) belongs to one
/// value at a time: the block's, moved into the worker's local variable for a chunk (the block's left empty) and
/// back, never used through two copies at once; the block frees it (``deallocate()``) as it goes. `NotebookRow` is
/// a plain value (no references), so rows need no deinitialization.
struct NotebookRows {
    private var base: UnsafeMutablePointer<NotebookRow>?
    /// The rows held.
    private(set) var count = 0
    private var capacity = 0

    /// No rows, no memory.
    init() {}

    /// The rows held, valid until the next change.
    var buffer: UnsafeBufferPointer<NotebookRow> { UnsafeBufferPointer(start: base, count: count) }

    /// Appends `row` (the memory doubles when full).
    @inline(__always)
    mutating func append(_ row: NotebookRow) {
        if count == capacity { grow() }
        (base.unsafelyUnwrapped + count).initialize(to: row)
        count += 1
    }

    /// Appends ``NotebookRow/init(accepted:day:timeText:timeCache:)``'s row, stored in place.
    @inline(__always)
    mutating func appendAccepted(
        _ event: Interaction, day: CalendarDay, timeText: UnsafeRawBufferPointer, timeCache: inout NaiveTimeText.DateCache
    ) {
        if count == capacity { grow() }
        NotebookRow.store(
            accepted: event, day: day, timeText: timeText, timeCache: &timeCache, at: base.unsafelyUnwrapped + count)
        count += 1
    }

    private mutating func grow() {
        let larger = Swift.max(4096, capacity * 2)
        let memory = UnsafeMutablePointer<NotebookRow>.allocate(capacity: larger)
        if let base {
            memory.moveInitialize(from: base, count: count)
            base.deallocate()
        }
        base = memory
        capacity = larger
    }

    /// Keeps the first `n` rows (`n` at most ``count``).
    mutating func keepFirst(_ n: Int) {
        precondition(n >= 0 && n <= count, "NotebookRows: \(n) rows kept of \(count)")
        count = n
    }

    /// Empties it, keeping its memory.
    mutating func removeAll() { count = 0 }

    /// Frees the memory (its owner's last use).
    mutating func deallocate() {
        base?.deallocate()
        base = nil
        count = 0
        capacity = 0
    }
}

/// What a parse worker made of one chunk of CSV bytes (whole records, ``ChunkPrefetcher``), handed to the fold
/// in file order. Reused: the arrays keep their capacity from chunk to chunk. The worker counts lines and rows
/// from the chunk's start; the stage's consumer side (``IngestParseStage/nextBlock()``) makes them the file's.
final class ParsedBlock {
    /// The data rows read from the chunk, in file order, as the notebook reads them; the panel keeps those with a
    /// ``NotebookRow/day`` (its event and day are the row's).
    var rows = NotebookRows()
    /// The indices in `rows` of the accepted rows whose `date` label is not their timestamp's day, ascending.
    var dateDisagreements: [Int] = []
    /// The rejected rows, in file order.
    var rejects: [ParsedReject] = []
    /// The rejected rows' text, one after another.
    var rejectedText: [UInt8] = []
    /// The header's columns, once read (every chunk after the header's carries them).
    var columns: InteractionColumns?
    /// Data rows read as of the end of this block (the file's count, once the consumer side has seen it).
    var rowsRead = 0
    /// Decompressed CSV bytes as of the end of this block.
    var bytesDecompressed: Int64 = 0
    /// Set on the last block: how the pass ended.
    var end: End?

    // What the worker tells the consumer side.
    /// Lines the chunk holds (a last line without its line end counted).
    var lines: Int64 = 0
    /// The chunk's bytes.
    var chunkBytes = 0
    /// The chunk is the CSV's last.
    var isLast = false
    /// XXH64 of the CSV through the chunk's end (nil: not hashed).
    var digestThrough: UInt64?

    /// How the parse ended, carried by its last block.
    enum End {
        /// The input was read (to its end, or to `--rows`): the CSV bytes' hash (nil: not asked for,
        /// ``IngestOptions/hashesContent``).
        case finished(ContentDigest?)
        /// Reading or parsing failed (the rows before the failure are in the block).
        case failed(any Error)
    }

    deinit { rows.deallocate() }

    /// Empties the block for reuse.
    func reset() {
        rows.removeAll()
        dateDisagreements.removeAll(keepingCapacity: true)
        rejects.removeAll(keepingCapacity: true)
        rejectedText.removeAll(keepingCapacity: true)
        end = nil
        lines = 0
        chunkBytes = 0
        isLast = false
        digestThrough = nil
    }
}

/// The ingest pass's parse stage: two parse workers, each on a thread of its own, read alternate chunks of the
/// CSV (``ChunkPrefetcher``, on the inflate thread, cuts them at record boundaries): each splits its chunk's
/// records and fields, decodes the rows and reads what the diagnostics count of each (``NotebookRow``) into a
/// small ring of reused ``ParsedBlock``s. The caller's thread takes the blocks in file order (``nextBlock()``)
/// and folds them (counts, day buckets, the rejects file, the diagnostics' sums). On two cores the parse is the
/// pass's largest stage; with two workers whichever core is free parses, where one parse thread left a core idle
/// whenever the inflate and the fold both waited for it.
///
/// `@unchecked Sendable` (the workers' threads hold a reference): each worker's state is its own (see
/// ``ParseWorker``); the consumer-side counters are the caller's thread's only.
final class IngestParseStage: @unchecked Sendable {
    private let prefetcher: ChunkPrefetcher
    private let options: IngestOptions
    private let location: String
    private let workers: [ParseWorker]
    private let header: HeaderBaton

    // The consumer's state (the caller's thread only).
    private var nextChunk = 0
    private var holdingBlock = false
    private var stopped = false
    private var rowsRead = 0
    private var linesRead: Int64 = 0
    private var csvBytes: Int64 = 0
    private let rowLimit: Int

    /// Starts parsing `source` on two threads of their own (its inflate on another); `readsNotebookRows`:
    /// whether rejected rows are read as the notebook reads them (someone observes them).
    init(source: MatrixSource, options: IngestOptions, readsNotebookRows: Bool, workers count: Int = 2, depth: Int = 2) {
        let prefetcher = ChunkPrefetcher(
            source: source, hashes: options.hashesContent, blockSize: options.chunkBytes, consumers: count,
            depth: 3 * count)
        self.prefetcher = prefetcher
        self.options = options
        location = source.location
        rowLimit = options.rowLimit ?? Int.max
        let header = HeaderBaton(workers: count)
        self.header = header
        workers = (0..<count).map { index in
            ParseWorker(
                index: index, of: count, prefetcher: prefetcher, header: header, location: source.location,
                parser: IngestRowParser(options: options, readsNotebookRows: readsNotebookRows), depth: depth)
        }
    }

    deinit { assert(stopped, "IngestParseStage released without stop(): its threads may still be parsing") }

    /// The next parsed block, in file order, its lines, rows and errors counted from the file's start; the last
    /// one has an ``ParsedBlock/end``: the input's end, the row limit (the rows past it are left out), or a failure.
    ///
    /// - Warning: The block is the caller's only until the next call; do not call again after the last block.
    func nextBlock() -> ParsedBlock {
        if holdingBlock { workers[(nextChunk - 1) % workers.count].giveBack() }
        let block = workers[nextChunk % workers.count].take()
        nextChunk += 1
        holdingBlock = true
        inFileTerms(block)
        return block
    }

    /// Makes a worker's block the file's: its lines after the chunks before, the row limit, the size limit, the
    /// digest through it, how far a failure got.
    private func inFileTerms(_ block: ParsedBlock) {
        csvBytes += Int64(block.chunkBytes)
        if csvBytes > options.maxBytes {
            block.reset()
            block.end = .failed(
                IngestLimitError(input: location, limit: .expandedSize(maxBytes: options.maxBytes, rowsRead: rowsRead)))
            block.rowsRead = rowsRead
            return
        }
        for i in block.rejects.indices { block.rejects[i].line += linesRead }
        switch block.end {
        case .failed(var error as CSVFormatError)?:
            error.line += linesRead
            block.end = .failed(error)
        case .failed(var error as ArchiveReadError)?:
            error.progress =
                "it failed after \(prefetcher.bytesDecompressed) bytes of the CSV had been decompressed (\(rowsRead) data rows parsed); nothing was recorded: a rerun starts the ingest again"
            block.end = .failed(error)
        default: break
        }
        var limitReached = false
        if block.rows.count > rowLimit - rowsRead {
            // A row past the limit: the pass ends before it (the rest of the input is not read, and what the
            // worker found wrong after that row is not the pass's).
            let keep = rowLimit - rowsRead
            block.rows.keepFirst(keep)
            block.dateDisagreements.removeAll { $0 >= keep }
            if let firstOut = block.rejects.firstIndex(where: { $0.row >= keep }) {
                block.rejectedText.removeSubrange(block.rejects[firstOut].textStart...)
                block.rejects.removeSubrange(firstOut...)
            }
            limitReached = true
        }
        rowsRead += block.rows.count
        linesRead += block.lines
        block.rowsRead = rowsRead
        if limitReached || (block.end == nil && block.isLast) {
            let digest = block.digestThrough.map {
                ContentDigest(bytes: csvBytes, xxh64: $0, readToEnd: block.isLast && !limitReached)
            }
            block.end = .finished(digest)
        }
    }

    /// Stops the workers and the inflate thread and waits for them to end (idempotent; call it on every path).
    func stop() {
        guard !stopped else { return }
        stopped = true
        for worker in workers { worker.requestStop() }
        header.wakeAll()
        prefetcher.requestStop()
        for worker in workers { worker.waitUntilEnded() }
        prefetcher.stop()
    }
}

/// The header's columns, passed from the chunk that read them to the workers of later chunks. A worker whose
/// parser has no columns yet waits, before parsing chunk `k`, until they are known or every chunk before `k` was
/// read without them (then the header is this chunk's to find: blank lines may come first).
///
/// `@unchecked Sendable`: its state is in a `TracedMutex`; the semaphores wake waiting workers to look again.
private final class HeaderBaton: @unchecked Sendable {
    private struct State {
        var columns: InteractionColumns?
        /// Chunks `0..<searched` were read without a header.
        var searched = 0
        var stopped = false
    }
    private let state = TracedMutex(State())
    private let wake: [DispatchSemaphore]

    init(workers: Int) { wake = (0..<workers).map { _ in DispatchSemaphore(value: 0) } }

    /// The columns for chunk `k` (read by worker `worker`): nil when chunk `k` must find them, or when stopped.
    func columns(forChunk k: Int, worker: Int) -> (columns: InteractionColumns?, stopped: Bool) {
        while true {
            let now = state.withLock { ($0.columns, $0.searched, $0.stopped) }
            if now.2 { return (nil, true) }
            if let found = now.0 { return (found, false) }
            if now.1 == k { return (nil, false) }
            wake[worker].wait()
        }
    }

    /// Chunk `k` was read: with the header's columns, or without them.
    func chunkRead(_ k: Int, columns: InteractionColumns?) {
        state.withLock {
            if let columns, $0.columns == nil { $0.columns = columns }
            if columns == nil, $0.searched == k { $0.searched = k + 1 }
        }
        for semaphore in wake { semaphore.signal() }
    }

    /// Wakes every waiting worker for good.
    func wakeAll() {
        state.withLock { $0.stopped = true }
        for semaphore in wake { semaphore.signal() }
    }
}

/// One parse worker: on a thread of its own, chunks `index`, `index + workers`, ... of the prefetcher, each into
/// the next of its ring of ``ParsedBlock``s, handed to the stage's consumer by two semaphores (`free` gives a
/// block to the worker, `filled` to the consumer), no allocation per block.
///
/// `@unchecked Sendable` (its thread holds a reference): each block is owned by one side at a time, handed over
/// by the semaphores; `parser` is used by the worker's thread only; the consumer-side indices by the
/// consumer only; `stopRequested` is atomic.
private final class ParseWorker: @unchecked Sendable {
    private let index: Int
    private let workers: Int
    private let prefetcher: ChunkPrefetcher
    private let header: HeaderBaton
    private let location: String
    private let blocks: [ParsedBlock]
    private let filled = DispatchSemaphore(value: 0)
    private let free = DispatchSemaphore(value: 0)
    private let ended = DispatchSemaphore(value: 0)
    private let stopRequested = Atomic<Bool>(false)
    private var parser: IngestRowParser

    // The consumer's state.
    private var consumerIndex = 0
    private var holdingBlock = false

    init(
        index: Int, of workers: Int, prefetcher: ChunkPrefetcher, header: HeaderBaton, location: String,
        parser: IngestRowParser, depth: Int
    ) {
        self.index = index
        self.workers = workers
        self.prefetcher = prefetcher
        self.header = header
        self.location = location
        self.parser = parser
        blocks = (0..<depth).map { _ in ParsedBlock() }
        for _ in 0..<depth { free.signal() }
        let thread = Thread { [self] in self.parseChunks() }
        thread.name = "replay.parse"
        thread.start()
    }

    /// The worker's next block (consumer side).
    func take() -> ParsedBlock {
        filled.wait()
        holdingBlock = true
        return blocks[consumerIndex]
    }

    /// Gives the block last taken back (consumer side).
    func giveBack() {
        guard holdingBlock else { return }
        holdingBlock = false
        consumerIndex = (consumerIndex + 1) % blocks.count
        free.signal()
    }

    func requestStop() {
        stopRequested.store(true, ordering: .sequentiallyConsistent)
        for _ in blocks { free.signal() }
    }

    func waitUntilEnded() { ended.wait() }

    private func parseChunks() {
        defer { ended.signal() }
        var k = index
        var slot = 0
        while true {
            free.wait()
            if stopRequested.load(ordering: .sequentiallyConsistent) { return }
            let block = blocks[slot]
            block.reset()
            guard parse(chunk: k, into: block) else { return }
            let last = block.end != nil || block.isLast
            filled.signal()
            if last { return }
            k += workers
            slot = (slot + 1) % blocks.count
        }
    }

    /// Parses chunk `k` into `block`; false when the pass was stopped meanwhile (the block is then not handed over).
    private func parse(chunk k: Int, into block: ParsedBlock) -> Bool {
        let chunk: ChunkPrefetcher.Chunk
        do {
            guard let taken = try prefetcher.chunk(k) else { return false }
            chunk = taken
        } catch {
            block.end = .failed(error)
            return true
        }
        defer { prefetcher.release(k) }
        let searching = parser.columns == nil
        if searching {
            let known = header.columns(forChunk: k, worker: index)
            if known.stopped { return false }
            if let columns = known.columns { parser.adopt(columns) }
        }
        var rows = block.rows, rejects = block.rejects, text = block.rejectedText, disagreements = block.dateDisagreements
        block.rows = NotebookRows()
        block.rejects = []
        block.rejectedText = []
        block.dateDisagreements = []
        var assembler = CSVRecordAssembler()
        do {
            _ = try assembler.feed(chunk.bytes) { try parser.handle($0, line: $1, &rows, &disagreements, &rejects, &text) }
            if chunk.isLast {
                try assembler.finish { try parser.handle($0, line: $1, &rows, &disagreements, &rejects, &text) }
            }
        } catch var error as CSVFormatError {
            error.source = location
            block.end = .failed(error)
        } catch {
            block.end = .failed(error)
        }
        block.rows = rows
        block.dateDisagreements = disagreements
        block.rejects = rejects
        block.rejectedText = text
        if searching { header.chunkRead(k, columns: parser.columns) }
        block.columns = parser.columns
        block.lines = assembler.linesConsumed
        block.chunkBytes = chunk.bytes.count
        block.isLast = chunk.isLast
        block.digestThrough = chunk.digestThrough
        block.bytesDecompressed = chunk.bytesDecompressed
        return true
    }
}

/// A parse worker's reading of each CSV record of its chunks: the header (in the chunk that has it), then each
/// data row split, decoded and read as the notebook reads it. The row limit is applied by the stage's consumer
/// side, which counts rows in file order.
private struct IngestRowParser {
    let options: IngestOptions
    let readsNotebookRows: Bool
    var splitter = CSVFieldSplitter()
    var decoder: InteractionDecoder?
    /// The `time` field's last date read (it repeats from row to row).
    var timeCache = NaiveTimeText.DateCache()
    var columns: InteractionColumns?
    /// The header is KuaiRec's own: rows are first tried through ``InteractionDecoder/decodePlainRow(_:)``.
    var plainLayout = false

    init(options: IngestOptions, readsNotebookRows: Bool) {
        self.options = options
        self.readsNotebookRows = readsNotebookRows
    }

    /// Takes the header another chunk read.
    mutating func adopt(_ found: InteractionColumns) {
        columns = found
        decoder = InteractionDecoder(columns: found, timeZone: options.timeZone)
        plainLayout = found.isKuaiRecLayout
    }

    /// Takes one CSV record (the header first, when not known yet; `line` counted from the chunk's start).
    @inline(__always)
    mutating func handle(
        _ record: UnsafeRawBufferPointer, line: Int64, _ rows: inout NotebookRows, _ dateDisagreements: inout [Int],
        _ rejects: inout [ParsedReject], _ rejectedText: inout [UInt8]
    ) throws -> Bool {
        guard let c = columns else {
            // The header; blank lines before it are skipped, as pandas does.
            if record.isEmpty { return true }
            adopt(try Ingest.readHeader(record, line: line, splitter: &splitter))
            return true
        }
        if record.isEmpty { return true }  // blank line: pandas skips it and so do we
        if plainLayout, let plain = decoder!.decodePlainRow(record) {
            if plain.dateDisagreesWithTimestamp { dateDisagreements.append(rows.count) }
            rows.appendAccepted(plain.event, day: plain.day, timeText: plain.timeText, timeCache: &timeCache)
            return true
        }
        let ok = splitter.split(record)
        let outcome = decoder!.decode(record, fields: splitter, fieldsOK: ok)
        switch outcome {
        case .accepted(_, _, let disagrees):
            if disagrees { dateDisagreements.append(rows.count) }
            rows.append(NotebookRow(record, fields: splitter, columns: c, outcome: outcome, timeCache: &timeCache))
        case .rejected(let reason):
            let notebook =
                readsNotebookRows
                ? NotebookRow(record, fields: splitter, columns: c, outcome: outcome, timeCache: &timeCache) : .leftOut
            rows.append(notebook)
            rejects.append(
                ParsedReject(
                    line: line, row: rows.count - 1, reason: reason, textStart: rejectedText.count, textCount: record.count))
            rejectedText.append(contentsOf: record)
        }
        return true
    }
}
