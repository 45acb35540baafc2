import Foundation
import ReplayStream

/// The compacted view of a panel file: for every key `(user_id, event_date)` the last revision, kept as
/// its CSV row, written as the notebook's panel (rows ordered by `user_id`, then `event_date`).
///
/// Lines come from a ``ChangelogReader``; ``PanelCSVWriter`` checks each, gives its key and revision and
/// copies its values (the joined columns too, learned from the first line: ``PanelCSVWriter/joinedColumns(inFirstLine:)``) (the rule ``PanelRecordLines`` reads `replay tail`'s lines with). A line replaces the key's row
/// when its revision is not lower than the kept one's (a repeated line, as stdout gives on resume, is
/// the same row). Memory: one CSV row per key, never every revision nor the JSON text: about 0.65 KB
/// per key with the dictionary (measured: 290 MB peak for 453,600 keys, a 3.3 GB file, 180 MB of CSV).
public final class CompactedPanel {
    /// What reading a panel file found.
    public struct ReadSummary: Sendable, Equatable {
        /// Record lines read (every revision).
        public var lines = 0
        /// Empty lines and the header of a CSV panel, skipped.
        public var blankLines = 0
        /// Lines replaced by a later revision of their key (or older than the kept one).
        public var superseded = 0
        /// Bytes after the last newline, ignored: a line a run is still writing.
        public var ignoredTailBytes = 0
    }

    private struct Key: Hashable, Comparable {
        var user: Int64
        var day: Int32
        static func < (a: Key, b: Key) -> Bool { (a.user, a.day) < (b.user, b.day) }
    }

    private struct Entry {
        var revision: Int
        var isFinal: Bool
        var row: [UInt8]
    }

    private var entries: [Key: Entry] = [:]
    /// The reader of the lines, made when the first line shows the joined columns.
    private var rowWriter: PanelCSVWriter?
    private var scratch: [UInt8] = []

    /// An empty panel.
    public init() {}

    /// The columns joined to the panel's in the lines read (learned from the first line; none before it).
    public var joinedColumns: [String] { rowWriter?.joinedColumns ?? [] }

    /// Keys held.
    public var keyCount: Int { entries.count }

    /// Keys whose kept revision is final.
    public var finalKeyCount: Int { entries.values.reduce(0) { $0 + ($1.isFinal ? 1 : 0) } }

    /// Opens a panel file for ``read(_:source:)``; `-` is standard input.
    /// - Throws: ``PanelExportError`` (`.input`) when the file is missing, unreadable or a folder.
    public static func openReader(path: String) throws(PanelExportError) -> ChangelogReader {
        if path == "-" { return ChangelogReader(standardInputNamed: "standard input") }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw PanelExportError(.inputIsFolder, "\(path): it is a folder")
        }
        do {
            return try ChangelogReader(path: path)
        } catch let error as POSIXFileError {
            throw PanelExportError.unreadable(path, error)
        } catch {
            throw PanelExportError(.input, "\(path): \(error)")
        }
    }

    /// Reads every complete line of `reader` (to the end of the file or of standard input).
    /// An incomplete last line is ignored and counted in ``ReadSummary/ignoredTailBytes``.
    /// `source` names the file in errors.
    /// - Throws: ``PanelExportError``: `.notARecord` (with the line number) for a line that is not a
    ///   panel record, `.input` when reading fails.
    @discardableResult
    public func read(_ reader: ChangelogReader, source: String) throws(PanelExportError) -> ReadSummary {
        var summary = ReadSummary()
        var lineNumber = 0
        let keysBefore = entries.count
        do {
            try reader.readAvailable { line in
                lineNumber += 1
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) {
                    summary.blankLines += 1
                    return true
                }
                if self.rowWriter == nil {
                    self.rowWriter = PanelCSVWriter(joinedColumns: PanelCSVWriter.joinedColumns(inFirstLine: line))
                }
                if PanelCSVWriter.isCSVHeader(line) {
                    summary.blankLines += 1
                    return true
                }
                summary.lines += 1
                try self.add(line, lineNumber: lineNumber, source: source)
                return true
            }
        } catch let error as PanelExportError {
            throw error
        } catch let error as POSIXFileError {
            throw PanelExportError.unreadable(source, error)
        } catch let error as InputError {
            throw PanelExportError(.input, "\(error)")
        } catch {
            throw PanelExportError(.input, "\(source): \(error)")
        }
        summary.superseded = summary.lines - (entries.count - keysBefore)
        summary.ignoredTailBytes = reader.heldBackBytes
        return summary
    }

    /// Adds one record line; returns false when the key already holds a later revision (the line is dropped).
    /// The line is read once, by ``PanelCSVWriter/appendRow(of:to:)``, which also gives its key and revision.
    /// The first line added or read sets the joined columns every line must hold.
    /// - Throws: ``PanelExportError`` (`.notARecord`) naming `source` and `lineNumber`.
    @discardableResult
    public func add(_ line: UnsafeRawBufferPointer, lineNumber: Int, source: String) throws(PanelExportError) -> Bool {
        scratch.removeAll(keepingCapacity: true)
        let writer = rowWriter ?? PanelCSVWriter(joinedColumns: PanelCSVWriter.joinedColumns(inFirstLine: line))
        rowWriter = writer
        let info: ChangelogReader.LineInfo
        do {
            info = try writer.appendRow(of: line, to: &scratch)
        } catch {
            throw PanelExportError.notARecord(source, line: lineNumber, error.reason)
        }
        let key = Key(user: info.userID, day: info.eventDate.rawValue)
        if let kept = entries[key], kept.revision > info.revision { return false }
        let row = [UInt8](unsafeUninitializedCapacity: scratch.count) { buffer, count in
            _ = buffer.initialize(from: scratch)
            count = scratch.count
        }
        entries[key] = Entry(revision: info.revision, isFinal: info.isFinal, row: row)
        return true
    }

    /// Writes the header and one row per key (only keys whose kept revision is final with `finalOnly`),
    /// ordered by `user_id` then `event_date`: the panel's columns, the joined columns (``joinedColumns``), and
    /// with `withRevision` the columns `revision,final`.
    /// Returns the rows written.
    /// - Throws: what `output` throws (``POSIXFileError``).
    @discardableResult
    public func writeCSV(to output: ByteOutput, withRevision: Bool, finalOnly: Bool) throws -> Int {
        let rows = entries.filter { !finalOnly || $0.value.isFinal }.sorted { $0.key < $1.key }
        try output.append(rowWriter?.header(withRevision: withRevision) ?? PanelCSVWriter.header(withRevision: withRevision))
        for (_, entry) in rows {
            try output.append { out in
                out.append(contentsOf: entry.row)
                if withRevision {
                    out.append(0x2C)
                    JSONBytes.appendInt(Int64(entry.revision), to: &out)
                    out.append(contentsOf: entry.isFinal ? CompactedPanel.trueField : CompactedPanel.falseField)
                }
                out.append(0x0A)
            }
        }
        return rows.count
    }

    private static let trueField = Array(",true".utf8)
    private static let falseField = Array(",false".utf8)

    /// Writes the CSV (see ``writeCSV(to:withRevision:finalOnly:)``) to `path`, or to standard output for `-`.
    ///
    /// A file is written whole or not at all (``AtomicFile``: `PATH.partial`, fsynced, renamed over `path`,
    /// the folder fsynced); on failure the `.partial` file is removed and `path` is left as it was.
    /// Returns the rows written.
    /// - Throws: ``PanelExportError``: `.diskFull`, `.outputClosed` (standard output's reader went away),
    ///   or `.output`.
    @discardableResult
    public func writeCSV(toPath path: String, withRevision: Bool, finalOnly: Bool) throws(PanelExportError) -> Int {
        if path == "-" {
            do {
                let output = try ByteOutput(path: "-", resumeAt: nil)
                defer { try? output.close() }
                let rows = try writeCSV(to: output, withRevision: withRevision, finalOnly: finalOnly)
                try output.close()
                return rows
            } catch {
                throw PanelExportError.writeFailed("standard output", error)
            }
        }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw PanelExportError(
                .outputIsFolder, "\(path): it is a folder")
        }
        do {
            return try AtomicFile.replace(path) { partial in
                let output = try ByteOutput(path: partial, resumeAt: nil)
                defer { try? output.close() }
                let rows = try writeCSV(to: output, withRevision: withRevision, finalOnly: finalOnly)
                try output.close()  // AtomicFile fsyncs the file before renaming it
                return rows
            }
        } catch {
            throw PanelExportError.writeFailed(path, error)
        }
    }
}

/// Why `replay export` failed: `WHERE: WHAT — WHAT TO DO`, with a kind that picks the exit code.
public struct PanelExportError: Error, CustomStringConvertible, Sendable {
    /// What failed.
    public enum Kind: Sendable {
        /// The panel file is missing or unreadable.
        case input
        /// The panel file given is a folder.
        case inputIsFolder
        /// The CSV's path is a folder.
        case outputIsFolder
        /// A line is not a panel record.
        case notARecord
        /// The CSV could not be written (other than a full disk).
        case output
        /// The disk (or a quota, or the file size limit) is full.
        case diskFull
        /// Standard output was closed by its reader (`| head`): not a failure.
        case outputClosed
    }

    /// What failed.
    public var kind: Kind
    /// The message for the user.
    public var message: String
    public var description: String { message }

    /// An error of `kind` saying `message`.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    static func unreadable(_ path: String, _ error: POSIXFileError) -> PanelExportError {
        switch error.code {
        case ENOENT:
            return PanelExportError(.input, "\(path): no such file or folder")
        case EACCES, EPERM:
            return PanelExportError(
                .input, "\(path): permission denied — make the file readable (chmod a+r) or run as its owner")
        default:
            return PanelExportError(.input, "\(error)")
        }
    }

    static func notARecord(_ path: String, line: Int, _ reason: String) -> PanelExportError {
        PanelExportError(
            .notARecord,
            "\(path): line \(line): not a panel record: \(reason)")
    }

    static func writeFailed(_ path: String, _ error: Error) -> PanelExportError {
        guard let posix = error as? POSIXFileError else { return PanelExportError(.output, "\(path): \(error)") }
        if posix.code == EPIPE { return PanelExportError(.outputClosed, "\(path): closed by its reader") }
        let reason = String(cString: strerror(posix.code))
        if posix.isDiskFull {
            return PanelExportError(
                .diskFull,
                "\(path): \(posix.operation) failed: \(reason) — free some space and rerun; nothing was written")
        }
        return PanelExportError(.output, "\(path): \(posix.operation) failed: \(reason)")
    }
}

/// Reads the record lines of a panel file one by one, by the rule `export` reads them with
/// (``PanelCSVWriter/appendRow(of:to:)``), for `tail`: a line that is not a panel record is an error when
/// it comes before any record (the file is not a panel) and a note on stderr after one (a damaged line in a
/// panel), so both commands say the same thing about the same line.
public final class PanelRecordLines {
    private let source: String
    /// The reader of the lines, made when the first line shows the joined columns (nil before it).
    public private(set) var writer: PanelCSVWriter?
    private var lineNumber = 0
    private var records = 0
    /// Counts the lines before the first one given to ``info(of:)`` (nil: none), when a message needs it.
    private var linesBefore: (() throws -> Int)?
    /// Lines skipped because they are not records (each was reported through `note`).
    public private(set) var skipped = 0
    /// Where notes about skipped lines go (standard error by default).
    public var note: (String) -> Void = { FileHandle.standardError.write(Data("replay: \($0)\n".utf8)) }

    /// Lines of `source` (the file's name in messages).
    public init(source: String) { self.source = source }

    /// The key, revision and final flag of the next line; nil for a blank line, the header of a CSV panel, or a
    /// skipped line. The first line that is not blank sets the joined columns (unless ``learnColumns(from:)`` did).
    /// - Throws: ``PanelExportError`` (`.notARecord`) when no record came before this line.
    public func info(of line: UnsafeRawBufferPointer) throws(PanelExportError) -> ChangelogReader.LineInfo? {
        lineNumber += 1
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return nil }
        let writer = self.writer ?? learnColumns(from: line)
        if PanelCSVWriter.isCSVHeader(line) { return nil }
        do {
            let info = try writer.check(line)
            records += 1
            return info
        } catch {
            let problem = PanelExportError.notARecord(source, line: numberOfThisLine(), error.reason)
            guard records > 0 else { throw problem }
            skipped += 1
            note("\(problem); skipped")
            return nil
        }
    }

    /// The line number of the line last given to ``info(of:)``.
    private func numberOfThisLine() -> Int {
        guard let count = linesBefore else { return lineNumber }
        let before = (try? count()) ?? 0
        linesBefore = { before }
        return before + lineNumber
    }

    /// The next line comes after lines read elsewhere (a file read from its end backwards): `linesBefore`
    /// counts them when a message needs a line number (at most once), and `recordsBefore` says whether a
    /// record was among them (a line that is not a record is then a damaged line, not a file that is no panel).
    public func continueAfter(recordsBefore: Bool, linesBefore: @escaping () throws -> Int) {
        lineNumber = 0
        records = recordsBefore ? 1 : 0
        self.linesBefore = linesBefore
    }

    /// The file is read again from its top (another run rewrote it): lines are numbered from 1 again, and its
    /// first line sets the joined columns again.
    public func startAgain() {
        lineNumber = 0
        records = 0
        linesBefore = nil
        writer = nil
    }

    /// Takes the joined columns from `firstLine`, the file's first line that is not blank
    /// (``PanelCSVWriter/joinedColumns(inFirstLine:)``), and returns the reader of its lines.
    @discardableResult
    public func learnColumns(from firstLine: UnsafeRawBufferPointer) -> PanelCSVWriter {
        let learned = PanelCSVWriter(joinedColumns: PanelCSVWriter.joinedColumns(inFirstLine: firstLine))
        writer = learned
        return learned
    }
}
