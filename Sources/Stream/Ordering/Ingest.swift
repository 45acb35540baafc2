import Foundation

/// Where rejected rows go. Implemented by the sink module (a JSON lines file).
public protocol RejectWriter: AnyObject {
    /// Records one rejected row: its line number, why, and its raw text.
    func reject(line: Int64, reason: RejectReason, raw: UnsafeRawBufferPointer) throws
}

/// What the ingest pass learned about the log; kept in the state folder so a resumed run needs no second pass.
public struct IngestSummary: Sendable, Equatable, Codable {
    /// Data rows read (after the header, blank lines not counted).
    public var rowsRead = 0
    /// Rows in the panel.
    public var rowsAccepted = 0
    /// Rows rejected, by reason. With `--dedupe` the dropped exact duplicates are counted here as
    /// `duplicate` (they are not in the rejects file: each is identical to a row that is kept).
    public var rejected: [String: Int] = [:]
    /// Accepted rows whose `date` label differs from their timestamp's calendar day in the time zone.
    public var dateLabelDisagreements = 0
    /// The panel's first and last day (nil when no row was accepted).
    public var firstDay: CalendarDay?
    public var lastDay: CalendarDay?
    /// Every user with at least one accepted row, ascending: the panel's users.
    public var users: [Int32] = []
    /// Active user-days of the whole log: the notebook's batch thresholds come from here.
    public var distribution = ThresholdDistribution()
    /// Where the CSV was found.
    public var inputLocation = ""
    /// Compressed input bytes consumed.
    public var bytesRead: Int64 = 0
    /// The CSV bytes the pass read and their hash: what a later run checks before it reuses this ingest of a
    /// bare file. Nil for a zip (its central directory identifies it: ``IngestOptions/hashesContent``) and in a
    /// state made before replay recorded it (such an ingest of a bare file is not reused by `--fresh`).
    public var content: ContentDigest?
    /// The rejects file the pass wrote (`-` for standard output) and its size then; nil in a state made
    /// before replay recorded it. Set by the run, which owns the rejects file.
    public var rejects: RecordedRejects?

    public init() {}

    /// Rows rejected, all reasons together.
    public var rowsRejected: Int { rejected.values.reduce(0, +) }

    /// Exact duplicates dropped by `--dedupe` (0 without it).
    public var duplicatesDropped: Int { rejected[RejectReason.duplicate.rawValue] ?? 0 }
}

extension CalendarDay: Codable {
    public init(from decoder: Decoder) throws { rawValue = try decoder.singleValueContainer().decode(Int32.self) }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// The rejects file an ingest pass wrote: its path as the run named it and its size when the pass completed.
public struct RecordedRejects: Sendable, Equatable, Codable {
    public var path: String
    public var bytes: Int64
    public init(path: String, bytes: Int64) {
        self.path = path
        self.bytes = bytes
    }
}

/// Options of the ingest pass.
public struct IngestOptions: Sendable {
    /// Keep only the first N data rows in file order (the notebook's `nrows`).
    public var rowLimit: Int?
    /// The zone whose calendar days rows without a `date` fall on.
    public var timeZone: TimeZone
    /// The most decompressed CSV bytes to read (a zip bomb guard): more is an ``IngestLimitError``.
    public var maxBytes: Int64
    /// Check every few blocks, and at the end, that the input file has not changed.
    public var watchInput: Bool
    /// The most days the accepted rows may span: a longer panel is refused (stray dates would make it huge).
    public var maxPanelDays: Int
    /// Hash the CSV's bytes into the summary's ``IngestSummary/content``, which is what identifies an input
    /// that has no zip directory to identify it (a bare file). False: `content` is nil (a zip's central
    /// directory identifies it, and the member's CRC-32 is checked as it is read).
    public var hashesContent: Bool
    /// The CSV bytes read at a time into a chunk for the parse workers (``ChunkPrefetcher``'s block size);
    /// tests make it small to cut an input into many chunks.
    var chunkBytes = 1 << 20

    /// The default `maxBytes`: 64 GiB (KuaiRec's big matrix is 1.1 GB).
    public static let defaultMaxBytes: Int64 = 64 << 30
    /// The default `maxPanelDays`: ten years (KuaiRec spans 63 days).
    public static let defaultMaxPanelDays = 3660

    public init(
        rowLimit: Int? = nil, timeZone: TimeZone, maxBytes: Int64 = IngestOptions.defaultMaxBytes,
        watchInput: Bool = true, maxPanelDays: Int = IngestOptions.defaultMaxPanelDays, hashesContent: Bool = true
    ) {
        self.rowLimit = rowLimit
        self.timeZone = timeZone
        self.maxBytes = maxBytes
        self.watchInput = watchInput
        self.maxPanelDays = maxPanelDays
        self.hashesContent = hashesContent
    }
}

/// The ingest pass: reads the interaction CSV once, writes accepted events into day buckets
/// (the ordering step) and rejected rows to the rejects writer, and counts each user-day so that
/// batch thresholds are known before the first day closes.
public enum Ingest {
    /// Runs the pass over `source`. Returns with the bucket files' fsync running
    /// (``DayBuckets/flushAndStartSync()``): call `buckets.waitForSync()` before recording the ingest complete.
    /// - Parameter shouldStop: polled between blocks; returning true abandons the pass (throws ``IngestInterrupted``).
    /// - Throws: ``CSVFormatError`` (bad header, over-long record), ``ArchiveReadError`` (damaged data, with how
    ///   far the pass got), ``InputError`` (the file changed), ``IngestLimitError`` (more than `maxBytes`, the
    ///   panel spans too many days), and the bucket and rejects writers' errors.
    public static func run(
        source: MatrixSource, options: IngestOptions, buckets: DayBuckets, rejects: RejectWriter,
        shouldStop: () -> Bool = { false }, progress: (Int64, Int) -> Void = { _, _ in },
        observer: IngestObserver? = nil
    ) throws -> IngestSummary {
        let watch = options.watchInput ? try InputFileWatch(path: source.filePath) : nil
        if let stated = source.memberSize, stated > options.maxBytes {
            throw IngestLimitError(input: source.location, limit: .statedSize(stated: stated, maxBytes: options.maxBytes))
        }
        let stage = IngestParseStage(source: source, options: options, readsNotebookRows: observer != nil)
        defer { stage.stop() }
        var fold = IngestFold(options: options, buckets: buckets, rejects: rejects, observer: observer)
        var blocks = 0
        while true {
            let block = stage.nextBlock()
            try fold.fold(block)
            switch block.end {
            case .failed(let error)?:
                throw error
            case .finished(let content)?:
                guard block.columns != nil else {
                    throw CSVFormatError(line: 1, message: "the file is empty (no header line)", source: source.location)
                }
                try watch?.check()
                try buckets.flushAndStartSync()
                var summary = try fold.finish(source: source, rowsRead: block.rowsRead)
                stage.stop()
                summary.bytesRead = source.bytesConsumed
                summary.content = content
                return summary
            case nil:
                progress(block.bytesDecompressed, block.rowsRead)
                if shouldStop() { throw IngestInterrupted() }
                blocks += 1
                if blocks % 64 == 0 { try watch?.check() }
            }
        }
    }
}

/// The ingest pass's fold, on the caller's thread: each parsed row, in file order, into the diagnostics'
/// observer, the day buckets, the rejects file and the counts the summary keeps.
private struct IngestFold {
    let options: IngestOptions
    let buckets: DayBuckets
    let rejects: RejectWriter
    let observer: IngestObserver?
    var observerBegun = false
    var summary = IngestSummary()
    var users = Set<Int32>()
    var lastUser: Int32 = -1
    var userDays = UserDayTally()
    var firstDay = Int32.max
    var lastDay = Int32.min
    var rejected: [RejectReason: Int] = [:]
    /// A run's accepted events of one day, handed to the buckets together (``DayBuckets/append(contentsOf:day:)``);
    /// ``Ingest/foldRun`` slots, kept from block to block.
    var staging: [Interaction] = []

    init(options: IngestOptions, buckets: DayBuckets, rejects: RejectWriter, observer: IngestObserver?) {
        self.options = options
        self.buckets = buckets
        self.rejects = rejects
        self.observer = observer
    }

    /// Folds one parsed block's rows: the observer sees every row, the buckets the accepted ones, the rejects
    /// file the others. The observer is told the columns with the first block that has them (the header's).
    mutating func fold(_ block: ParsedBlock) throws {
        if let observer, !observerBegun, let columns = block.columns {
            try observer.begin(columns: columns)
            observerBegun = true
        }
        // The rows a run at a time, observed and then filed: a run's rows are still in the L1 cache when filed,
        // where a block's (~1 MB) would miss the caches on its second pass.
        // A day's stretch of accepted rows within a run goes to its bucket in one append.
        let rows = block.rows.buffer
        var disagreements = block.dateDisagreements.makeIterator()
        var nextDisagreement = disagreements.next() ?? Int.max
        var staging: [Interaction] = []
        swap(&staging, &self.staging)
        defer { swap(&staging, &self.staging) }
        if staging.count < Ingest.foldRun {
            staging = [Interaction](repeating: DayBuckets.zeroEvent, count: Ingest.foldRun)
        }
        try staging.withUnsafeMutableBufferPointer { staged in
            var start = 0
            while start < rows.count {
                let run = start..<Swift.min(start + Ingest.foldRun, rows.count)
                try observer?.observe(rows, run: run)
                var count = 0
                var stagedDay = CalendarDay(rawValue: .min)
                for i in run {
                    guard let day = rows[i].day else { continue }
                    if day != stagedDay {
                        try buckets.append(contentsOf: UnsafeBufferPointer(rebasing: staged[..<count]), day: stagedDay)
                        count = 0
                        stagedDay = day
                    }
                    staged[count] = rows[i].event
                    count += 1
                    let disagrees = i == nextDisagreement
                    if disagrees { nextDisagreement = disagreements.next() ?? Int.max }
                    accept(rows[i].event, day: day, dateDisagreesWithTimestamp: disagrees)
                }
                try buckets.append(contentsOf: UnsafeBufferPointer(rebasing: staged[..<count]), day: stagedDay)
                start = run.upperBound
            }
        }
        try block.rejectedText.withUnsafeBytes { text in
            for reject in block.rejects {
                rejected[reject.reason, default: 0] += 1
                try rejects.reject(
                    line: reject.line, reason: reject.reason,
                    raw: UnsafeRawBufferPointer(rebasing: text[reject.textStart..<(reject.textStart + reject.textCount)]))
            }
        }
    }

    /// An accepted row counted for the summary and the batch thresholds (``fold(_:)`` files its event).
    @inline(__always)
    private mutating func accept(_ event: Interaction, day: CalendarDay, dateDisagreesWithTimestamp: Bool) {
        summary.rowsAccepted += 1
        if dateDisagreesWithTimestamp { summary.dateLabelDisagreements += 1 }
        if event.userID != lastUser {
            users.insert(event.userID)
            lastUser = event.userID
        }
        userDays.add(user: event.userID, day: day, highWatch: event.watchRatio >= PanelRules.highWatchThreshold)
        if day.rawValue < firstDay { firstDay = day.rawValue }
        if day.rawValue > lastDay { lastDay = day.rawValue }
    }

    /// The pass's summary, once every row was folded.
    /// - Throws: ``IngestLimitError`` when the panel would span more than `maxPanelDays`.
    mutating func finish(source: MatrixSource, rowsRead: Int) throws -> IngestSummary {
        summary.inputLocation = source.location
        summary.rowsRead = rowsRead
        userDays.flush()
        summary.users = users.sorted()
        if firstDay <= lastDay {
            summary.firstDay = CalendarDay(rawValue: firstDay)
            summary.lastDay = CalendarDay(rawValue: lastDay)
            let span = Int(lastDay) - Int(firstDay) + 1
            if span > options.maxPanelDays {
                throw IngestLimitError(
                    input: source.location,
                    limit: .panelSpan(
                        days: span, first: summary.firstDay!, last: summary.lastDay!, users: users.count,
                        maxDays: options.maxPanelDays))
            }
        }
        userDays.forEachUserDay { summary.distribution.add(interactions: $0, highWatchCount: $1) }
        summary.rejected = Dictionary(uniqueKeysWithValues: rejected.map { ($0.key.rawValue, $0.value) })
        return summary
    }
}

/// Rows and high-watch rows per user-day, for the batch thresholds. Rows arrive grouped by user and time, so
/// the running user-day is counted apart and kept as a run when the key changes; the runs are sorted and a
/// user-day's runs merged once, at the end (a run per change costs an append where a dictionary of the
/// user-days would hash and probe, and grow, on every change).
private struct UserDayTally {
    /// One stretch of rows of a user-day: `key` is the user (high 32 bits) and the day (low 32 bits).
    struct Run {
        var key: UInt64
        var count: Int32
        var highWatch: Int32
    }
    private var runs: [Run] = []
    private var current = Run(key: .max, count: 0, highWatch: 0)

    @inline(__always)
    mutating func add(user: Int32, day: CalendarDay, highWatch: Bool) {
        let key = UInt64(UInt32(bitPattern: user)) << 32 | UInt64(UInt32(bitPattern: day.rawValue))
        if key != current.key {
            flush()
            current = Run(key: key, count: 0, highWatch: 0)
        }
        current.count += 1
        if highWatch { current.highWatch += 1 }
    }

    /// Keeps the running user-day.
    mutating func flush() {
        guard current.key != .max else { return }
        runs.append(current)
        current.key = .max
    }

    /// Calls `body` once per user-day with its rows and high-watch rows (every run of the day added up), in
    /// ascending user and day. Call ``flush()`` first.
    mutating func forEachUserDay(_ body: (_ count: Int, _ highWatch: Int) -> Void) {
        runs.sort { $0.key < $1.key }
        var i = runs.startIndex
        while i < runs.endIndex {
            var merged = runs[i]
            i += 1
            while i < runs.endIndex, runs[i].key == merged.key {
                merged.count += runs[i].count
                merged.highWatch += runs[i].highWatch
                i += 1
            }
            body(Int(merged.count), Int(merged.highWatch))
        }
    }
}

extension Ingest {
    /// How many rows ahead the observer is told a row's video (``IngestObserver/observe(_:videoAhead:)``): far
    /// enough for a cache miss (~100 ns) to be served while the rows between are observed (~40 ns each). The last
    /// rows of a block are told the video of the block's last row.
    public static let observerLookahead = 8
    /// Rows the fold hands the observer at a time, then files (``IngestObserver/observe(_:run:)``): 32 KiB of
    /// rows, which stay in the L1 cache between the two.
    static let foldRun = 512

    /// `--dedupe`: removes exact duplicates from the ingested buckets (``DayBuckets/removeExactDuplicates(_:)``),
    /// counts them in `summary` as the reject reason `duplicate` (not in the panel), and recounts the user-days,
    /// so that batch thresholds see the deduplicated panel. Then makes the buckets durable.
    ///
    /// Run after everything that reads the buckets as ingested (the interaction diagnostics).
    public static func dropExactDuplicates(in buckets: DayBuckets, summary: inout IngestSummary) throws {
        try buckets.flush()
        var distribution = ThresholdDistribution()
        var perUser: [Int32: (count: Int, highWatch: Int)] = [:]
        let dropped = try buckets.removeExactDuplicates { _, events in
            perUser.removeAll(keepingCapacity: true)
            for e in events {
                let old = perUser[e.userID] ?? (0, 0)
                perUser[e.userID] = (old.count + 1, old.highWatch + (e.watchRatio >= PanelRules.highWatchThreshold ? 1 : 0))
            }
            for value in perUser.values { distribution.add(interactions: value.count, highWatchCount: value.highWatch) }
        }
        try buckets.flushAndSync()
        guard dropped > 0 else { return }
        summary.rejected[RejectReason.duplicate.rawValue, default: 0] += dropped
        summary.rowsAccepted -= dropped
        summary.distribution = distribution
    }

    /// Reads a CSV's header line (a byte-order mark allowed) into the required columns' positions.
    /// - Throws: ``CSVFormatError`` when the line is not text or lacks a required column.
    static func readHeader(
        _ rawRecord: UnsafeRawBufferPointer, line: Int64, splitter: inout CSVFieldSplitter
    ) throws -> InteractionColumns {
        let record = withoutByteOrderMark(rawRecord)
        try checkHeaderIsText(record, line: line)
        _ = splitter.split(record)
        var names: [String] = []
        for i in 0..<splitter.fieldCount {
            names.append(splitter.withField(i, in: record) { String(decoding: $0, as: UTF8.self) })
        }
        return try InteractionColumns(header: names)
    }

    /// The offset of the first byte that starts no valid UTF-8 sequence (checked by lead byte and
    /// continuation bytes; 0 when every sequence is well formed, which `String(validating:)` may still refuse
    /// for an overlong form or a surrogate).
    static func firstInvalidUTF8Offset(_ bytes: UnsafeRawBufferPointer) -> Int {
        var i = 0
        while i < bytes.count {
            let lead = bytes[i]
            let length = lead < 0x80 ? 1 : lead >= 0xC2 && lead < 0xE0 ? 2 : lead >= 0xE0 && lead < 0xF0 ? 3 : lead >= 0xF0 && lead < 0xF5 ? 4 : 0
            guard length > 0, i + length <= bytes.count, (1..<length).allSatisfy({ bytes[i + $0] & 0xC0 == 0x80 }) else { return i }
            i += length
        }
        return 0
    }

    /// The record without a leading UTF-8 byte-order mark.
    static func withoutByteOrderMark(_ record: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        if record.count >= 3, record[0] == 0xEF, record[1] == 0xBB, record[2] == 0xBF {
            return UnsafeRawBufferPointer(rebasing: record.dropFirst(3))
        }
        return record
    }

    /// Refuses a first line that is not UTF-8 text: a binary file libarchive read as a raw stream, a file
    /// whose lines end with CR alone, text in UTF-16 or in an 8-bit encoding.
    static func checkHeaderIsText(_ record: UnsafeRawBufferPointer, line: Int64) throws {
        if let crOnly = CSVFormatError.carriageReturnLineEnds(in: record, line: line) { throw crOnly }
        let valid = String(validating: record, as: UTF8.self) != nil
        let control = record.contains { $0 < 0x20 && $0 != 0x09 && $0 != 0x0D }
        if record.count >= 2, (record[0], record[1]) == (0xFF, 0xFE) || (record[0], record[1]) == (0xFE, 0xFF) {
            throw CSVFormatError(
                line: line,
                message: "the file is UTF-16 text (it starts with the byte-order mark \(String(format: "%02x %02x", record[0], record[1]))); replay reads UTF-8 — convert it (iconv -f UTF-16 -t UTF-8 < IN > OUT) and pass the converted file")
        }
        if !valid && !control && record.contains(0x2C) {  // a header line in another encoding (it has commas)
            let offset = firstInvalidUTF8Offset(record)
            throw CSVFormatError(
                line: line,
                message: "the header is not UTF-8 text: byte \(String(format: "%02x", record[offset])) at byte \(offset + 1) is not valid UTF-8 (the file is in another encoding, such as Latin-1 or Windows-1252); replay reads UTF-8 — convert it (iconv -f LATIN1 -t UTF-8 < IN > OUT) and pass the converted file")
        }
        if !valid || control {
            let hex = record.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw CSVFormatError(
                line: line,
                message: "the file is neither an archive replay reads (zip, tar, 7z, gzip, xz, zstd, bzip2, ...) nor a text CSV (it starts with bytes \(hex)); pass the KuaiRec download, KuaiRec.zip or the matrix CSV")
        }
    }
}

/// The input goes beyond one of the ingest's limits: it expands to more bytes than allowed (a zip bomb
/// guard), or its accepted rows span more days than a panel may. Nothing was recorded.
public struct IngestLimitError: Error, CustomStringConvertible, Sendable {
    /// Which limit, with the numbers.
    public enum Limit: Sendable, Equatable {
        /// The member's header says it expands to `stated` bytes, more than `maxBytes`.
        case statedSize(stated: Int64, maxBytes: Int64)
        /// More than `maxBytes` were decompressed, after `rowsRead` data rows.
        case expandedSize(maxBytes: Int64, rowsRead: Int)
        /// The accepted rows span `days` days (`first` ... `last`, over `users` users), more than `maxDays`.
        case panelSpan(days: Int, first: CalendarDay, last: CalendarDay, users: Int, maxDays: Int)
    }

    /// The input (or nested member path).
    public var input: String
    /// Which limit was passed.
    public var limit: Limit

    public init(input: String, limit: Limit) {
        self.input = input
        self.limit = limit
    }

    /// The facts, without advice (the command line adds which option changes the limit).
    public var description: String {
        switch limit {
        case .statedSize(let stated, let maxBytes):
            return "\(input): the member says it expands to \(stated) bytes, more than the limit of \(maxBytes)"
        case .expandedSize(let maxBytes, let rowsRead):
            return "\(input): the CSV expands beyond the limit of \(maxBytes) bytes (\(rowsRead) data rows read)"
        case .panelSpan(let days, let first, let last, _, let maxDays):
            return "\(input): the accepted rows span \(days) days (\(first) .. \(last)), more than \(maxDays)"
        }
    }
}

/// The ingest pass stopped because a stop was requested (SIGINT, SIGTERM).
public struct IngestInterrupted: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "the ingest pass was interrupted; rerun the same command to start it again" }
}
