import ArgumentParser
import Foundation
import ReplayRun
import ReplaySink
import ReplayStream

extension Replay.TailCommand {
    /// The reader of FILE and where printing begins. Following a file that does not exist yet waits for it
    /// (saying so once on stderr), then prints it from its top: every record in it is new. Nil when a stop
    /// signal came while waiting.
    /// - Throws: ``PanelExportError`` when the file cannot be opened.
    func openFile() throws -> (reader: ChangelogReader, start: LineCount.Start)? {
        var st = stat()
        if follow && file != "-" && stat(file, &st) != 0 {
            printError("replay: \(file) does not exist yet; waiting for it")
            while stat(file, &st) != 0 {
                if stopSignalReceived { return nil }
                Thread.sleep(forTimeInterval: pollInterval.span.seconds)
            }
            return (try CompactedPanel.openReader(path: file), .from(1))
        }
        return (try CompactedPanel.openReader(path: file), start)
    }

    /// Prints the file's records through the filters from `start`, then follows the file when asked.
    func printRecords(
        of reader: ChangelogReader, _ records: PanelRecordLines, from start: LineCount.Start, to printer: RecordPrinter
    ) throws {
        let filter = RecordFilter(users: Set(user), dates: Set(date), finalOnly: finalOnly || (latest && follow))
        if latest && !follow { return try printCompacted(of: reader, records, filter, from: start, to: printer) }
        guard let heldBack = try printFirst(of: reader, records, filter, from: start, to: printer) else { return }
        if follow { return try followFile(reader, records, filter, printer) }
        noteIncompleteLastLine(heldBack)
    }

    /// `--latest` without `--follow`: the latest revision of every key, ordered by event_date then user_id
    /// (the order a stream closes days in; `export` orders by user_id then event_date, the notebook's), from
    /// `start`. Memory: one line per key.
    private func printCompacted(
        of reader: ChangelogReader, _ records: PanelRecordLines, _ filter: RecordFilter, from start: LineCount.Start,
        to printer: RecordPrinter
    ) throws {
        var latestLines: [RecordKey: [UInt8]] = [:]
        _ = try readRecords(reader, records, filter) { line, info in
            latestLines[RecordKey(day: info.eventDate, user: info.userID)] = Array(line)
            return true
        }
        noteIncompleteLastLine(reader.heldBackBytes)
        let ordered = latestLines.sorted { ($0.key.day, $0.key.user) < ($1.key.day, $1.key.user) }
        let chosen: ArraySlice<(key: RecordKey, value: [UInt8])>
        switch start {
        case .last(let n): chosen = ordered.suffix(n)
        case .from(let n): chosen = ordered.dropFirst(n - 1)
        }
        for (_, line) in chosen {
            guard try line.withUnsafeBytes({ try printer.print($0) }) else { return }
        }
    }

    /// Prints the records the file holds now from `start`; returns the bytes after its last newline (a line
    /// being written, held back), or nil when standard output's reader went away. The reader then goes on after
    /// the last complete line.
    ///
    /// The last N of a regular file are read from its end backwards (a 3 GB panel costs its last lines, not the
    /// whole file); standard input, or a file with a line that is not a record near its end, is read from the
    /// top keeping the last N in a ring. Memory: N lines either way.
    private func printFirst(
        of reader: ChangelogReader, _ records: PanelRecordLines, _ filter: RecordFilter, from start: LineCount.Start,
        to printer: RecordPrinter
    ) throws -> Int? {
        switch start {
        case .from(let first):
            var count = 0
            let open = try readRecords(reader, records, filter) { line, _ in
                count += 1
                return try count < first || printer.print(line)
            }.open
            return open && printer.flush() ? reader.heldBackBytes : nil
        case .last(let n):
            if reader.isRegularFile, let found = try lastRecordsFromTheEnd(n, of: reader, records, filter) {
                for line in found.lines {
                    guard try line.withUnsafeBytes({ try printer.print($0) }) else { return nil }
                }
                return printer.flush() ? found.heldBack : nil
            }
            var ring = LastLines(capacity: n)
            _ = try readRecords(reader, records, filter) { line, _ in
                ring.append(line)
                return true
            }
            for line in ring.inOrder {
                guard try line.withUnsafeBytes({ try printer.print($0) }) else { return nil }
            }
            return printer.flush() ? reader.heldBackBytes : nil
        }
    }

    /// The last `n` records through `filter` of the file as it is now, read from its end backwards, oldest
    /// first, and the bytes after its last newline; the reader goes on after its last complete line. Nil when
    /// a line read is not a record or is too long: the file is then read from its top, which says at which line.
    private func lastRecordsFromTheEnd(
        _ n: Int, of reader: ChangelogReader, _ records: PanelRecordLines, _ filter: RecordFilter
    ) throws -> (lines: [[UInt8]], heldBack: Int)? {
        // The columns come from the file's first line; a file whose top holds no line within 1 MiB (no panel
        // there) takes them from its last one.
        var checker = records.writer
        let learnedHere = checker == nil
        let size = reader.fileSize
        var picked: [[UInt8]] = []
        var heldBack = 0, linesRead = 0, sawRecord = false, notARecord = false
        let end = try reader.readLinesBackward(from: size) { line, complete in
            guard complete else {
                heldBack = line.count
                return true
            }
            linesRead += 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return true }
            let lines = checker ?? records.learnColumns(from: line)
            checker = lines
            guard let info = try? lines.check(line) else {
                notARecord = true
                return false
            }
            sawRecord = true
            if picked.count < n, filter.accepts(info) { picked.append(Array(line)) }
            return picked.count < n || !sawRecord
        }
        if notARecord || end == .lineTooLong {
            if learnedHere { records.startAgain() }  // read from the top, its first line tells the columns
            return nil
        }
        let resume = size - Int64(heldBack)
        try reader.startReading(at: resume)
        let counted = linesRead
        records.continueAfter(recordsBefore: sawRecord) {
            end == .reachedTop ? counted : try reader.lineCount(before: resume)
        }
        return (picked.reversed(), heldBack)
    }

    /// Reads what the file holds now, calling `body` with every record through `filter` (a line that is not
    /// a record: an error before any record, else a note). Returns the lines read and false when `body`
    /// stopped (standard output's reader went away).
    private func readRecords(
        _ reader: ChangelogReader, _ records: PanelRecordLines, _ filter: RecordFilter,
        _ body: (UnsafeRawBufferPointer, ChangelogReader.LineInfo) throws -> Bool
    ) throws -> (lines: Int, open: Bool) {
        var open = true
        let lines = try reader.readAvailable { line in
            guard let info = try records.info(of: line), filter.accepts(info) else { return true }
            open = try body(line, info)
            return open
        }
        return (lines, open)
    }

    /// Prints every record the run writes from here on, until a stop signal, the reader going away, or the
    /// end of the run that writes the file (``RunWatch``): then what is left in the file is printed and tail
    /// ends.
    private func followFile(
        _ reader: ChangelogReader, _ records: PanelRecordLines, _ filter: RecordFilter, _ printer: RecordPrinter
    ) throws {
        let watch =
            keepFollowing || file == "-"
            ? nil
            : RunWatch(
                state: state ?? RunFiles.defaultStateFolder, named: state != nil, file: file,
                every: max(pollInterval.span.seconds, 0.1))
        while !stopSignalReceived {
            if try startAgainIfRewritten(reader) { records.startAgain() }
            let read = try readRecords(reader, records, filter) { line, _ in try printer.print(line) }
            guard read.open, printer.flush() else { return }  // closed pipe: a clean stop
            if read.lines == 0, let watch, watch.runHasFinished() {
                // The run's last checkpoint was committed after its last bytes were written: read them, and end.
                guard try readRecords(reader, records, filter, { line, _ in try printer.print(line) }).open, printer.flush()
                else { return }
                return noteIncompleteLastLine(reader.heldBackBytes)
            }
            Thread.sleep(forTimeInterval: pollInterval.span.seconds)
        }
    }

    /// When another run replaced or rewrote the followed file (a `--fresh` rerun, a new file), says so and
    /// starts again from its top (returns true), or, with `--no-restart`, ends with exit 4: lines of two runs
    /// are never spliced.
    func startAgainIfRewritten(_ reader: ChangelogReader) throws -> Bool {
        let change = reader.change()
        guard change != .none else { return false }
        let what = change == .replaced ? "was replaced by another file" : "was rewritten by another run (the bytes already printed changed)"
        if noRestart {
            printError("replay: \(file) \(what); stopping (--no-restart)")
            throw ExitCode(ExitStatus.state.rawValue)
        }
        printError("replay: \(file) \(what): starting again from its top")
        try reader.restart()
        return true
    }

    /// Says that the file's last `bytes` bytes are a line without its newline (ignored), if there are any.
    private func noteIncompleteLastLine(_ bytes: Int) {
        if bytes > 0 { printError("replay: \(UserMessage.incompleteLastLine(of: file, bytes: bytes))") }
    }
}

/// Reads the state folder of the run writing a followed file, at most once per `every` seconds, to know when
/// that run has finished (``OutputRunStatus``). A folder that is missing, unreadable or of another output
/// means "not finished": tail follows on. A folder named by `--state` that records another output is said once.
final class RunWatch {
    private let state: String
    private let named: Bool
    private let file: String
    private let every: Double
    private var lastLook: Date?
    private var saidOtherOutput = false

    init(state: String, named: Bool, file: String, every: Double) {
        self.state = state
        self.named = named
        self.file = file
        self.every = every
    }

    /// True once the state folder says the file's run has finished.
    func runHasFinished() -> Bool {
        let now = Date()
        if let lastLook, now.timeIntervalSince(lastLook) < every { return false }
        lastLook = now
        switch OutputRunStatus.of(stateDirectory: state, output: file) {
        case .finished:
            return true
        case .otherOutput(let other) where named && !saidOtherOutput:
            saidOtherOutput = true
            printError("replay: state \(state) is the state of a run writing \(other), not \(file); following \(file) until stopped (Ctrl-C)")
            return false
        case .otherOutput, .running, .noRun:
            return false
        }
    }
}

/// A record's key: the day and the user.
private struct RecordKey: Hashable {
    var day: CalendarDay
    var user: Int64
}
