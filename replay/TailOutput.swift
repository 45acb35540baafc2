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

/// Prints records: the line as it is, or only `--fields` as JSON or tab-separated rows.
final class RecordPrinter {
    private let out = StandardOutput()
    private let selection: PanelFieldSelection?
    private let format: PanelFieldSelection.Format
    private let reader = PanelCSVWriter()
    private var scratch: [UInt8] = []
    /// True once the header of a CSV panel was printed before its first whole row.
    private var printedCSVHeader = false

    /// Prints whole lines when `selection` is nil and `format` is JSON; a row of every key for TSV.
    init(selection: PanelFieldSelection?, format: PanelFieldSelection.Format) {
        self.selection = selection ?? (format == .tsv ? .all : nil)
        self.format = format
    }

    /// Prints the header line of a TSV; false once standard output's reader has gone away.
    func header() -> Bool {
        guard format == .tsv, let selection else { return true }
        return selection.header.withUnsafeBytes { out.write($0) }
    }

    /// Prints one record line (already checked to be a record); false once the reader has gone away. Whole
    /// rows of a CSV panel (`run --format csv`) follow its header line, printed once before the first.
    func print(_ line: UnsafeRawBufferPointer) -> Bool {
        guard let selection else {
            if !printedCSVHeader, line.first != 0x7B {
                printedCSVHeader = true
                let header = PanelCSVWriter.header(withRevision: true).dropLast()
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
