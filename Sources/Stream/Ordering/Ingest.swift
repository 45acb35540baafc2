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
    /// Rows rejected, by reason.
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

    public init() {}

    /// Rows rejected, all reasons together.
    public var rowsRejected: Int { rejected.values.reduce(0, +) }
}

extension CalendarDay: Codable {
    public init(from decoder: Decoder) throws { rawValue = try decoder.singleValueContainer().decode(Int32.self) }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// Options of the ingest pass.
public struct IngestOptions: Sendable {
    /// Keep only the first N data rows in file order (the notebook's `nrows`).
    public var rowLimit: Int?
    /// The zone whose calendar days rows without a `date` fall on.
    public var timeZone: TimeZone

    public init(rowLimit: Int? = nil, timeZone: TimeZone) {
        self.rowLimit = rowLimit
        self.timeZone = timeZone
    }
}

/// The ingest pass: reads the interaction CSV once, writes accepted events into day buckets
/// (the ordering step) and rejected rows to the rejects writer, and counts each user-day so that
/// batch thresholds are known before the first day closes.
public enum Ingest {
    /// Runs the pass over `source`.
    /// - Parameter shouldStop: polled between blocks; returning true abandons the pass (throws ``IngestInterrupted``).
    public static func run(
        source: MatrixSource, options: IngestOptions, buckets: DayBuckets, rejects: RejectWriter,
        shouldStop: () -> Bool = { false }, progress: (Int64, Int) -> Void = { _, _ in },
        observer: IngestObserver? = nil
    ) throws -> IngestSummary {
        var summary = IngestSummary()
        summary.inputLocation = source.location
        let prefetcher = BlockPrefetcher(source: source)
        defer { prefetcher.stop() }
        var assembler = CSVRecordAssembler()
        var splitter = CSVFieldSplitter()
        var decoder: InteractionDecoder?
        var columns: InteractionColumns?
        var users = Set<Int32>()
        var lastUser: Int32 = -1
        // The running user-day (rows arrive grouped by user and time): flushed into the map on change.
        var dayCounts: [UInt64: (count: Int32, highWatch: Int32)] = [:]
        var currentKey: UInt64 = .max
        var currentCount: Int32 = 0
        var currentHighWatch: Int32 = 0
        var firstDay = Int32.max
        var lastDay = Int32.min
        var rejected: [RejectReason: Int] = [:]
        var limitReached = false
        let limit = options.rowLimit ?? Int.max

        func flushCurrent() {
            guard currentKey != .max else { return }
            let old = dayCounts[currentKey] ?? (0, 0)
            dayCounts[currentKey] = (old.count + currentCount, old.highWatch + currentHighWatch)
        }

        let handleRecord: (UnsafeRawBufferPointer, Int64) throws -> Bool = { record, line in
            guard let cols = columns else {
                // The header.
                _ = splitter.split(record)
                var names: [String] = []
                for i in 0..<splitter.fieldCount {
                    names.append(splitter.withField(i, in: record) { String(decoding: $0, as: UTF8.self) })
                }
                let found = try InteractionColumns(header: names)
                columns = found
                decoder = InteractionDecoder(columns: found, timeZone: options.timeZone)
                try observer?.begin(columns: found)
                return true
            }
            _ = cols
            if record.isEmpty { return true }  // blank line: pandas skips it and so do we
            if summary.rowsRead >= limit {
                limitReached = true
                return false
            }
            summary.rowsRead += 1
            let ok = splitter.split(record)
            let outcome = decoder!.decode(record, fields: splitter, fieldsOK: ok)
            try observer?.observe(row: record, fields: splitter, outcome: outcome)
            switch outcome {
            case .accepted(let event, let day, let disagrees):
                summary.rowsAccepted += 1
                if disagrees { summary.dateLabelDisagreements += 1 }
                try buckets.append(event, day: day)
                if event.userID != lastUser {
                    users.insert(event.userID)
                    lastUser = event.userID
                }
                let key = UInt64(UInt32(bitPattern: event.userID)) << 32 | UInt64(UInt32(bitPattern: day.rawValue))
                if key != currentKey {
                    flushCurrent()
                    currentKey = key
                    currentCount = 0
                    currentHighWatch = 0
                }
                currentCount += 1
                if event.watchRatio >= PanelRules.highWatchThreshold { currentHighWatch += 1 }
                if day.rawValue < firstDay { firstDay = day.rawValue }
                if day.rawValue > lastDay { lastDay = day.rawValue }
            case .rejected(let reason):
                rejected[reason, default: 0] += 1
                try rejects.reject(line: line, reason: reason, raw: record)
            }
            return true
        }

        reading: while let block = try prefetcher.nextBlock() {
            do {
                if try !assembler.feed(block, handleRecord) { break reading }
            } catch var error as CSVFormatError {
                error.source = source.location
                throw error
            }
            progress(prefetcher.bytesConsumed, summary.rowsRead)
            if shouldStop() { throw IngestInterrupted() }
        }
        if !limitReached {
            do {
                try assembler.finish(handleRecord)
            } catch var error as CSVFormatError {
                error.source = source.location
                throw error
            }
        }
        if columns == nil {
            throw CSVFormatError(line: 1, message: "the file is empty (no header line)", source: source.location)
        }
        flushCurrent()
        try buckets.flushAndSync()

        summary.users = users.sorted()
        if firstDay <= lastDay {
            summary.firstDay = CalendarDay(rawValue: firstDay)
            summary.lastDay = CalendarDay(rawValue: lastDay)
        }
        for value in dayCounts.values {
            summary.distribution.add(interactions: Int(value.count), highWatchCount: Int(value.highWatch))
        }
        summary.rejected = Dictionary(uniqueKeysWithValues: rejected.map { ($0.key.rawValue, $0.value) })
        prefetcher.stop()
        summary.bytesRead = source.bytesConsumed
        return summary
    }
}

/// The ingest pass stopped because a stop was requested (SIGINT, SIGTERM).
public struct IngestInterrupted: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "the ingest pass was interrupted; rerun the same command to start it again" }
}
