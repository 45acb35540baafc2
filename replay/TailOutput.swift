import ArgumentParser
import Foundation
import ReplaySink
import ReplayStream
import SystemPackage

/// `tail -n N` (the last N records) or `-n +N` (the records from the Nth on, counted from 1).
struct LineCount: ExpressibleByArgument, CustomStringConvertible {
    /// Where printing starts.
    enum Start: Equatable {
        /// The last N records.
        case last(Int)
        /// From the Nth record on (1: every record).
        case from(Int)
    }

    let start: Start

    init?(argument: String) {
        let plus = argument.hasPrefix("+")
        let digits = plus ? argument.dropFirst() : Substring(argument)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(digits) else { return nil }
        start = plus ? .from(max(n, 1)) : .last(n)  // +0 is +1, as for tail
    }

    var description: String {
        switch start {
        case .last(let n): return "\(n)"
        case .from(let n): return "+\(n)"
        }
    }
}

/// Which records `tail` prints: `--user`, `--date`, `--final-only`.
struct RecordFilter {
    let users: Set<Int64>
    let dates: Set<CalendarDay>
    let finalOnly: Bool

    func accepts(_ info: ChangelogReader.LineInfo) -> Bool {
        (users.isEmpty || users.contains(info.userID)) && (dates.isEmpty || dates.contains(info.eventDate))
            && (!finalOnly || info.isFinal)
    }
}

/// The last `capacity` lines appended (`tail -n N` over standard input, or a file read from its top): memory
/// holds those lines, whatever the input's length.
struct LastLines {
    let capacity: Int
    private var lines: [[UInt8]] = []
    /// The slot the next line replaces once the ring is full (the oldest line).
    private var next = 0

    init(capacity: Int) { self.capacity = capacity }

    mutating func append(_ line: UnsafeRawBufferPointer) {
        guard capacity > 0 else { return }
        if lines.count < capacity {
            lines.append(Array(line))
            return
        }
        lines[next].removeAll(keepingCapacity: true)
        lines[next].append(contentsOf: line)
        next = (next + 1) % capacity
    }

    /// The lines kept, oldest first.
    var inOrder: [[UInt8]] { Array(lines[next...] + lines[..<next]) }
}

/// Prints records: the line as it is, or only `--fields` as JSON or tab-separated rows. The columns joined to
/// the panel are those of the lines `records` reads (learned from the file's first line, again when the file
/// is read anew from its top): the selection is made for them when they are known.
final class RecordPrinter {
    private let out = StandardOutput()
    private let records: PanelRecordLines
    private let format: PanelFieldSelection.Format
    /// The selection for the given joined columns (nil: whole lines); throws for a `--fields` name the file lacks.
    private let makeSelection: ([String]) throws -> PanelFieldSelection?
    private var selection: PanelFieldSelection?
    /// The reader the selection was made for (nil: none yet).
    private var reader: PanelCSVWriter?
    private var scratch: [UInt8] = []
    /// The joined columns of the TSV header printed (nil: none printed yet).
    private var headerColumns: [String]?
    /// True once the header of a CSV panel was printed before its first whole row.
    private var printedCSVHeader = false

    /// Prints whole lines when `makeSelection` gives nil and `format` is JSON; a row of every key for TSV.
    init(
        records: PanelRecordLines, format: PanelFieldSelection.Format,
        makeSelection: @escaping ([String]) throws -> PanelFieldSelection?
    ) {
        self.records = records
        self.format = format
        self.makeSelection = makeSelection
    }

    /// Takes the columns of the lines read now when they are known (and changed), printing the TSV header for
    /// them; false once standard output's reader has gone away.
    /// - Throws: `ValidationError` for a `--fields` column the file does not have.
    func adoptColumns() throws -> Bool {
        guard let writer = records.writer, writer !== reader else { return true }
        let columns = writer.joinedColumns
        selection = try makeSelection(columns) ?? (format == .tsv ? .all(joinedColumns: columns) : nil)
        reader = writer
        guard format == .tsv, let selection, headerColumns != columns else { return true }
        headerColumns = columns
        return selection.header.withUnsafeBytes { out.write($0) }
    }

    /// At the end: the TSV header if no line told the columns (an empty file); false when the reader has gone away.
    @discardableResult
    func finish() -> Bool {
        // A --fields column that is no panel column names nothing here: no header then.
        if format == .tsv, headerColumns == nil, reader == nil {
            let chosen: PanelFieldSelection?
            do { chosen = try makeSelection([]) ?? .all } catch { chosen = nil }
            headerColumns = []
            guard chosen?.header.withUnsafeBytes({ out.write($0) }) ?? true else { return false }
        }
        return out.flush()
    }

    /// Prints one record line (already checked to be a record by `records`); false once the reader has gone
    /// away. Whole rows of a CSV panel (`run --format csv`) follow its header line, printed once before the first.
    /// - Throws: `ValidationError` for a `--fields` column the file does not have.
    func print(_ line: UnsafeRawBufferPointer) throws -> Bool {
        guard try adoptColumns() else { return false }
        guard let selection, let reader else {
            if !printedCSVHeader, line.first != 0x7B {
                printedCSVHeader = true
                let header = (reader ?? PanelCSVWriter()).header(withRevision: true).dropLast()
                guard Array(header).withUnsafeBytes({ out.write($0) }) else { return false }
            }
            return out.write(line)
        }
        scratch.removeAll(keepingCapacity: true)
        guard (try? selection.append(line, as: format, reader: reader, to: &scratch)) != nil else { return true }
        return scratch.withUnsafeBytes { out.write($0) }
    }

    /// Writes what is buffered; false when the reader has gone away.
    @discardableResult
    func flush() -> Bool { out.flush() }
}

/// Buffered standard output that reports a closed pipe instead of dying of SIGPIPE.
final class StandardOutput {
    private var buffer: [UInt8] = []
    private var closed = false

    /// Appends a line (adds the newline); false once the reader has gone away.
    func write(_ line: UnsafeRawBufferPointer) -> Bool {
        if closed { return false }
        buffer.append(contentsOf: line)
        buffer.append(0x0A)
        if buffer.count >= 1 << 16 { return flush() }
        return true
    }

    /// Writes the buffer; false when the pipe is closed (EPIPE).
    @discardableResult
    func flush() -> Bool {
        if closed { return false }
        do {
            try buffer.withUnsafeBytes { try FileDescriptor.standardOutput.writeAll($0, path: "standard output") }
        } catch {
            closed = true
            return false
        }
        buffer.removeAll(keepingCapacity: true)
        return true
    }
}
