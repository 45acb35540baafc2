import Foundation
import Synchronization

/// One data row of the ingest pass as the parse thread read it.
struct ParsedRow {
    /// The row as the notebook reads it; for an accepted row also its event and panel day.
    var notebook: NotebookRow
    /// The panel keeps the row (its event and day are `notebook`'s).
    var accepted: Bool
    /// Accepted, and its `date` label is not its timestamp's day.
    var dateDisagreesWithTimestamp: Bool
}

/// A rejected row of a ``ParsedBlock``: its line, why, and where its text is in the block's `rejectedText`.
struct ParsedReject {
    var line: Int64
    var reason: RejectReason
    var textStart: Int
    var textCount: Int
}

/// What the parse thread made of one block of CSV bytes, handed to the fold in file order. Reused: the
/// arrays keep their capacity from block to block.
final class ParsedBlock {
    /// The data rows read from the block (a record carried over from the block before included), in file order.
    var rows: [ParsedRow] = []
    /// The rejected rows, in file order.
    var rejects: [ParsedReject] = []
    /// The rejected rows' text, one after another.
    var rejectedText: [UInt8] = []
    /// The header's columns, once read (every block after the header carries them).
    var columns: InteractionColumns?
    /// Data rows read and CSV bytes decompressed as of the end of this block.
    var rowsRead = 0
    var bytesDecompressed: Int64 = 0
    /// Set on the last block: how the pass ended.
    var end: End?

    /// How the parse ended, carried by its last block.
    enum End {
        /// The input was read (to its end, or to `--rows`): the CSV bytes' hash (nil: not asked for,
        /// ``IngestOptions/hashesContent``).
        case finished(ContentDigest?)
        /// Reading or parsing failed (the rows before the failure are in the block).
        case failed(any Error)
    }

    /// Empties the block for reuse.
    func reset() {
        rows.removeAll(keepingCapacity: true)
        rejects.removeAll(keepingCapacity: true)
        rejectedText.removeAll(keepingCapacity: true)
        end = nil
    }
}

/// The ingest pass's parse thread: takes the CSV's blocks from a ``BlockPrefetcher`` (the inflate thread), hashes
/// them, splits their records and fields, decodes the rows and reads what the diagnostics count of each
/// (``NotebookRow``), into a small ring of reused ``ParsedBlock``s that the caller's thread folds in file
/// order (counts, day buckets, the rejects file, the diagnostics' sums). Three threads on the pass: inflating,
/// parsing and folding overlap.
///
/// Hand-off as in ``BlockPrefetcher``: two semaphores (`free` gives a block to the parse thread, `filled` to the
/// consumer), no allocation per block.
///
/// `@unchecked Sendable` (the parse thread holds a reference): each ``ParsedBlock`` is owned by one side at a
/// time, handed over by the semaphores; `parser`, `assembler`, `hasher`, `csvBytes` and the prefetcher's
/// consumer side are used by the parse thread only, until the consumer has seen the last block or the thread
/// has ended (``stop()`` waits for it); the consumer-side indices by the consumer only; `stopRequested` is atomic.
final class IngestParseStage: @unchecked Sendable {
    private let prefetcher: BlockPrefetcher
    private let options: IngestOptions
    private let location: String
    private let blocks: [ParsedBlock]
    private let filled = DispatchSemaphore(value: 0)
    private let free = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let stopRequested = Atomic<Bool>(false)

    // The parse thread's state.
    private var parser: IngestRowParser
    private var assembler = CSVRecordAssembler()
    private let hasher = XXH64()
    private var csvBytes: Int64 = 0
    /// The inflate thread delivered the input's end.
    private var readToEnd = false

    // The consumer's state.
    private var consumerIndex = 0
    private var holdingBlock = false
    private var stopped = false

    /// Starts parsing `source` on a thread of its own (its inflate on another); `readsNotebookRows`: whether
    /// rejected rows are read as the notebook reads them (someone observes them).
    init(source: MatrixSource, options: IngestOptions, readsNotebookRows: Bool, depth: Int = 3) {
        prefetcher = BlockPrefetcher(source: source)
        self.options = options
        location = source.location
        blocks = (0..<depth).map { _ in ParsedBlock() }
        parser = IngestRowParser(options: options, readsNotebookRows: readsNotebookRows)
        for _ in 0..<depth { free.signal() }
        let thread = Thread { [self] in self.parseBlocks() }
        thread.name = "replay.parse"
        thread.start()
    }

    deinit { assert(stopped, "IngestParseStage released without stop(): its thread may still be parsing") }

    /// The next parsed block, in file order; the last one has an ``ParsedBlock/end``.
    ///
    /// - Warning: The block is the caller's only until the next call; do not call again after the last block.
    func nextBlock() -> ParsedBlock {
        if holdingBlock {
            consumerIndex = (consumerIndex + 1) % blocks.count
            free.signal()
        }
        filled.wait()
        holdingBlock = true
        return blocks[consumerIndex]
    }

    /// Stops the parse thread and the inflate thread and waits for both to end (idempotent; call it on every
    /// path). A parse thread waiting for its next block of CSV gets it first (the inflate thread is then busy,
    /// not blocked), so this waits at most for one block.
    func stop() {
        guard !stopped else { return }
        stopped = true
        stopRequested.store(true, ordering: .sequentiallyConsistent)
        for _ in blocks { free.signal() }
        finished.wait()
        prefetcher.stop()
    }

    private func parseBlocks() {
        defer { finished.signal() }
        var index = 0
        while true {
            free.wait()
            if stopRequested.load(ordering: .sequentiallyConsistent) { return }
            let block = blocks[index]
            block.reset()
            do {
                if try !parseNextInput(into: block) {
                    block.end = .finished(
                        options.hashesContent
                            ? ContentDigest(bytes: hasher.count, xxh64: hasher.value, readToEnd: readToEnd) : nil)
                }
            } catch {
                block.end = .failed(error)
            }
            block.columns = parser.columns
            block.rowsRead = parser.rowsRead
            block.bytesDecompressed = prefetcher.bytesDecompressed
            let last = block.end != nil
            filled.signal()
            if last { return }
            index = (index + 1) % blocks.count
        }
    }

    /// Parses the next block of CSV into `block`; false once the input is read (its end, or `--rows`).
    private func parseNextInput(into block: ParsedBlock) throws -> Bool {
        let next: UnsafeRawBufferPointer?
        do {
            next = try prefetcher.nextBlock()
        } catch var error as ArchiveReadError {
            error.progress =
                "it failed after \(prefetcher.bytesDecompressed) bytes of the CSV had been decompressed (\(parser.rowsRead) data rows parsed); nothing was recorded: a rerun starts the ingest again"
            throw error
        }
        var rows = block.rows, rejects = block.rejects, text = block.rejectedText
        block.rows = []
        block.rejects = []
        block.rejectedText = []
        defer {
            block.rows = rows
            block.rejects = rejects
            block.rejectedText = text
        }
        guard let input = next else {
            readToEnd = true
            if !parser.limitReached {
                try withSource { try assembler.finish { try parser.handle($0, line: $1, &rows, &rejects, &text) } }
            }
            return false
        }
        if options.hashesContent { hasher.update(input) }
        csvBytes += Int64(input.count)
        if csvBytes > options.maxBytes {
            throw IngestLimitError(
                input: location, limit: .expandedSize(maxBytes: options.maxBytes, rowsRead: parser.rowsRead))
        }
        let goOn = try withSource { try assembler.feed(input) { try parser.handle($0, line: $1, &rows, &rejects, &text) } }
        return goOn
    }

    /// Runs `body`, naming the input in a ``CSVFormatError`` it throws.
    private func withSource<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch var error as CSVFormatError {
            error.source = location
            throw error
        }
    }
}

/// The parse thread's reading of each CSV record: the header, then each data row split, decoded and read as
/// the notebook reads it.
private struct IngestRowParser {
    let options: IngestOptions
    let readsNotebookRows: Bool
    let limit: Int
    var splitter = CSVFieldSplitter()
    var decoder: InteractionDecoder?
    /// The `time` field's last date read (it repeats from row to row).
    var timeCache = NaiveTimeText.DateCache()
    var columns: InteractionColumns?
    /// The header is KuaiRec's own: rows are first tried through ``InteractionDecoder/decodePlainRow(_:)``.
    var plainLayout = false
    var rowsRead = 0
    /// True once `--rows` data rows were read (the rest of the input is not read).
    var limitReached = false

    init(options: IngestOptions, readsNotebookRows: Bool) {
        self.options = options
        self.readsNotebookRows = readsNotebookRows
        limit = options.rowLimit ?? Int.max
    }

    /// Takes one CSV record (the header first); false once the row limit is reached.
    @inline(__always)
    mutating func handle(
        _ record: UnsafeRawBufferPointer, line: Int64, _ rows: inout [ParsedRow], _ rejects: inout [ParsedReject],
        _ rejectedText: inout [UInt8]
    ) throws -> Bool {
        guard let c = columns else {
            // The header; blank lines before it are skipped, as pandas does.
            if record.isEmpty { return true }
            let found = try Ingest.readHeader(record, line: line, splitter: &splitter)
            columns = found
            decoder = InteractionDecoder(columns: found, timeZone: options.timeZone)
            plainLayout = found.isKuaiRecLayout
            return true
        }
        if record.isEmpty { return true }  // blank line: pandas skips it and so do we
        if rowsRead >= limit {
            limitReached = true
            return false
        }
        rowsRead += 1
        if plainLayout, let plain = decoder!.decodePlainRow(record) {
            rows.append(
                ParsedRow(
                    notebook: NotebookRow(
                        accepted: plain.event, day: plain.day, timeText: plain.timeText, timeCache: &timeCache),
                    accepted: true,
                    dateDisagreesWithTimestamp: plain.dateDisagreesWithTimestamp))
            return true
        }
        let ok = splitter.split(record)
        let outcome = decoder!.decode(record, fields: splitter, fieldsOK: ok)
        switch outcome {
        case .accepted(_, _, let disagrees):
            rows.append(
                ParsedRow(
                    notebook: NotebookRow(record, fields: splitter, columns: c, outcome: outcome, timeCache: &timeCache),
                    accepted: true,
                    dateDisagreesWithTimestamp: disagrees))
        case .rejected(let reason):
            let notebook =
                readsNotebookRows
                ? NotebookRow(record, fields: splitter, columns: c, outcome: outcome, timeCache: &timeCache) : .leftOut
            rows.append(ParsedRow(notebook: notebook, accepted: false, dateDisagreesWithTimestamp: false))
            rejects.append(ParsedReject(line: line, reason: reason, textStart: rejectedText.count, textCount: record.count))
            rejectedText.append(contentsOf: record)
        }
        return true
    }
}
