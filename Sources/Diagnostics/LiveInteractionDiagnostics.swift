import Foundation
import ReplayStream
import SystemPackage

/// A live feed's interaction diagnostics as a checkpoint stores them (under ``DiagnosticsPayloads/interaction``):
/// the rows kept so far are in the feed's row log (``LiveInteractionDiagnostics/logName``), of which the first
/// ``loggedRows`` are durable, and what the tables count row by row besides the rows' values.
public struct LiveInteractionDiagnosticsState: Codable, Sendable {
    /// Rows in the log (the rows the tables cover, in arrival order) as of the checkpoint.
    public internal(set) var loggedRows = 0
    /// The rows counted and left out, the time columns' missing values, the event dates and the time range.
    var tally = InteractionRowTally()

    /// Rows the tables cover.
    public var rows: Int { tally.rows }
}

/// The interaction-level tables of a live feed, "so far": an ``IngestObserver`` shown every row the feed takes,
/// in arrival order, with the outcome the feed gave it (rejected and late-rejected rows as the ingest pass shows
/// a reject; a late row revised in as accepted). Which rows count is the ingest collector's rule
/// (``InteractionDiagnosticsCollector``).
///
/// The tables need every kept row's values (exact percentiles, two-pass standard deviations, histograms over
/// the final range), so each kept row is appended to a log in the state folder (48 bytes a row: its values, its
/// day and its event date), made durable before every checkpoint; the checkpoint's payload holds the log's
/// length and the counts that need the row's text (missing values, the event-time range). The tables are
/// computed from the log when a report asks (``diagnostics(of:logDirectory:sideTables:)``), by the ingest
/// collector's own code, with the rows in the order the archive run's passes read them: an archive replay of
/// the same rows, in the same file order, gives the same numbers. Memory: the log's write buffer (64 KiB).
public final class LiveInteractionDiagnostics: LiveRowObserver {
    /// The row log's file name in the state folder's events folder.
    public static let logName = "live-diagnostics.rows"

    /// The row log in `directory` (a state folder's events folder).
    public static func logURL(in directory: URL) -> URL { directory.appendingPathComponent(logName) }

    /// One kept row as logged: its values, the panel's day for it (`Int32.min`: rejected from the panel) and its
    /// `event_date` (`Int32.min`: none).
    struct LoggedRow {
        var event: Interaction
        var day: Int32
        var eventDate: Int32
    }

    private let path: String
    private let file: FileDescriptor
    private var buffer: [UInt8] = []
    private var columns: InteractionColumns?
    private var state: LiveInteractionDiagnosticsState
    private var closed = false

    /// Opens the row log in `directory` as of `checkpoint` (cut back to the rows it counted; a new log without one).
    /// - Throws: ``DamagedFileError`` when the log holds fewer rows than the checkpoint counted, ``POSIXFileError``
    ///   when it cannot be opened or cut, and the payload's decoding errors.
    public init(directory: URL, restoringFrom checkpoint: PanelCheckpoint?) throws {
        state =
            try DiagnosticsPayloads.decode(
                LiveInteractionDiagnosticsState.self, from: checkpoint?.payloads[DiagnosticsPayloads.interaction])
            ?? LiveInteractionDiagnosticsState()
        path = Self.logURL(in: directory).path
        do {
            file = try FileDescriptor.open(
                path, .readWrite, options: [.create], permissions: [.ownerReadWrite, .groupRead, .otherRead])
        } catch {
            throw POSIXFileError(path: path, operation: "open", (error as? Errno) ?? .ioError)
        }
        do {
            let size = try file.seek(offset: 0, from: .end)
            let wanted = Int64(state.loggedRows * MemoryLayout<LoggedRow>.stride)
            guard size >= wanted else {
                throw DamagedFileError(path: path, problem: "it holds \(size) bytes; the last checkpoint counted \(wanted)")
            }
            if size > wanted { try file.resize(to: wanted) }
            _ = try file.seek(offset: wanted, from: .start)
        } catch let error as Errno {
            try? file.close()
            throw POSIXFileError(path: path, operation: "resize", error)
        } catch {
            try? file.close()
            throw error
        }
    }

    /// Closes the log (its rows after the last checkpoint are not needed: a resumed feed reads them again).
    public func close() {
        guard !closed else { return }
        closed = true
        try? file.close()
    }

    deinit { assert(closed, "LiveInteractionDiagnostics was not closed") }

    public func begin(columns: InteractionColumns) throws { self.columns = columns }

    public func observe(_ row: NotebookRow) throws {
        guard columns != nil else { return }
        guard row.isKept else {
            state.tally.leftOut += 1
            return
        }
        state.tally.add(row)
        var logged = LoggedRow(event: row.event, day: row.day?.rawValue ?? .min, eventDate: row.eventDate?.rawValue ?? .min)
        withUnsafeBytes(of: &logged) { buffer.append(contentsOf: $0) }
        state.loggedRows += 1
        if buffer.count >= 1 << 16 { try flush() }
    }

    public var payloadName: String { DiagnosticsPayloads.interaction }

    /// Writes the buffered rows and makes the log durable, then encodes the state that counts them.
    public func checkpointPayload() throws -> [UInt8] {
        try flush()
        try file.sync(path: path)
        return try DiagnosticsPayloads.encode(state)
    }

    private func flush() throws {
        try buffer.withUnsafeBytes { try file.writeAll($0, path: path) }
        buffer.removeAll(keepingCapacity: true)
    }
}

extension LiveInteractionDiagnostics {
    /// The interaction tables over the rows `state` counts, read from the log in `logDirectory`: the ingest
    /// collector is given the rows' values in arrival order, then finishes with a second pass that reads them as
    /// the archive run's second pass reads its day buckets (by day, in arrival order within a day, then the rows
    /// rejected from the panel). `sideTables` are an archive's metadata tables, for the join tables; nil (a live
    /// feed has none) leaves those tables with a note saying so.
    ///
    /// Memory: the ingest collector's (its percentile bins, a bit set of videos per user), the log mapped, and
    /// 4 bytes a row for the second pass's order.
    /// - Throws: ``DamagedFileError`` when the log holds fewer rows than `state` counts; reading errors.
    public static func diagnostics(
        of state: LiveInteractionDiagnosticsState, logDirectory: URL, sideTables: MetadataTables? = nil
    ) throws -> InteractionDiagnostics {
        let url = logURL(in: logDirectory)
        let stride = MemoryLayout<LoggedRow>.stride
        let count = state.loggedRows
        let data = count == 0 ? Data() : try Data(contentsOf: url, options: .alwaysMapped)
        guard data.count >= count * stride else {
            throw DamagedFileError(path: url.path, problem: "it holds \(data.count) bytes; the checkpoint counted \(count * stride)")
        }
        let collector = InteractionDiagnosticsCollector(restoring: state.tally)
        return try data.withUnsafeBytes { raw in
            func row(_ i: Int) -> LoggedRow { raw.loadUnaligned(fromByteOffset: i * stride, as: LoggedRow.self) }
            for i in 0..<count {
                let r = row(i)
                collector.tally(r.event, eventDate: r.eventDate == .min ? nil : CalendarDay(rawValue: r.eventDate))
            }
            let order = secondPassOrder(count: count) { row($0).day }
            return try collector.finish(metadata: { sideTables }) { body in
                // The rows gathered in their order, a run at a time.
                var run: [Interaction] = []
                run.reserveCapacity(4096)
                for i in order {
                    run.append(row(Int(i)).event)
                    if run.count == 4096 {
                        run.withUnsafeBufferPointer(body)
                        run.removeAll(keepingCapacity: true)
                    }
                }
                run.withUnsafeBufferPointer(body)
            }
        }
    }

    /// The rows' indexes by day (rows of a day in arrival order), then those without one (`Int32.min`), in
    /// arrival order: a stable counting sort over the days.
    static func secondPassOrder(count: Int, day: (Int) -> Int32) -> [UInt32] {
        var perDay: [Int32: Int] = [:]
        for i in 0..<count { perDay[day(i), default: 0] += 1 }
        var next: [Int32: Int] = [:]
        var start = 0
        // Int32.min (no day) sorts last.
        for d in perDay.keys.sorted(by: { ($0 == .min ? 1 : 0, $0) < ($1 == .min ? 1 : 0, $1) }) {
            next[d] = start
            start += perDay[d]!
        }
        var order = [UInt32](repeating: 0, count: count)
        for i in 0..<count {
            let d = day(i)
            order[next[d]!] = UInt32(i)
            next[d]! += 1
        }
        return order
    }
}
