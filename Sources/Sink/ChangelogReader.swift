import Foundation
import ReplayStream
import SystemPackage

/// Reads a panel file written by ``JSONLinesSink`` line by line, optionally following it as a run
/// writes: a partly written last line is held back until its newline arrives, and when the writer
/// cuts the file back on resume the reader keeps its position (the rewritten bytes are the same
/// bytes), so no line is delivered twice and none is skipped.
public final class ChangelogReader {
    /// The identity of a record line: its key and revision.
    public struct LineInfo: Equatable, Sendable {
        public var userID: Int64
        public var eventDate: CalendarDay
        public var revision: Int
        public var isFinal: Bool

        /// The identity of the record of `userID` on `eventDate`, revision `revision`.
        public init(userID: Int64, eventDate: CalendarDay, revision: Int, isFinal: Bool) {
            self.userID = userID
            self.eventDate = eventDate
            self.revision = revision
            self.isFinal = isFinal
        }
    }

    private let path: String
    private let fd: FileDescriptor
    /// True for a pipe or terminal (standard input): read sequentially, never closed by the reader.
    private let isStream: Bool
    private var offset: Int64 = 0
    /// The longest line read (a panel record's line is about 2 KB): a longer one means the file is not a
    /// panel, and reading stops there instead of holding an ever-growing line in memory.
    public static let maxLineBytes = 1 << 20
    private var lines = LineSplitter(maxLineBytes: ChangelogReader.maxLineBytes)
    private var chunk = [UInt8](repeating: 0, count: 1 << 20)

    /// Opens `path` for reading from its start.
    /// - Throws: ``POSIXFileError`` when it cannot be opened.
    public init(path: String) throws {
        self.path = path
        isStream = false
        do {
            fd = try FileDescriptor.open(FilePath(path), .readOnly)
        } catch {
            throw POSIXFileError(path: path, operation: "open", (error as? Errno) ?? .ioError)
        }
    }

    /// Reads standard input sequentially (a pipe need not be seekable); `name` is used in errors.
    /// Standard input is left open when the reader goes away.
    public init(standardInputNamed name: String = "-") {
        path = name
        isStream = true
        fd = .standardInput
    }

    deinit { if !isStream { try? fd.close() } }

    /// Reads what is there now (from standard input: up to its end) and calls `body` for every
    /// complete line (without its newline).
    /// Returns the number of lines delivered; `body` returning false stops early.
    /// - Throws: ``POSIXFileError`` when reading fails, ``InputError`` for a line longer than
    ///   ``maxLineBytes``, and `body`'s errors.
    @discardableResult
    public func readAvailable(_ body: (UnsafeRawBufferPointer) throws -> Bool) throws -> Int {
        var delivered = 0
        while true {
            let n: Int
            do {
                n = try chunk.withUnsafeMutableBytes { buffer in
                    isStream ? try fd.read(into: buffer) : try fd.read(fromAbsoluteOffset: offset, into: buffer)
                }
            } catch {
                throw POSIXFileError(path: path, operation: "read", (error as? Errno) ?? .ioError)
            }
            if n == 0 { return delivered }
            offset += Int64(n)
            let keepGoing: Bool
            do {
                keepGoing = try chunk.withUnsafeBytes { all in
                    try lines.feed(UnsafeRawBufferPointer(rebasing: all[0..<n])) { line, _ in
                        delivered += 1
                        return try body(line)
                    }
                }
            } catch let error as LineTooLongError {
                throw InputError(
                    input: path,
                    message: "line \(error.line) is longer than \(error.limit >> 20) MiB (a panel record's line is about 2 KB): it is not a panel file")
            }
            if !keepGoing { return delivered }
        }
    }

    /// Bytes after the last newline read so far: a line still being written (or a file whose last
    /// line has no newline). They are delivered once their newline arrives.
    public var heldBackBytes: Int { lines.heldBackBytes }

    /// The file's current size (it may be below the reader's position right after a resume cut it back).
    public var fileSize: Int64 {
        var st = stat()
        return fstat(fd.rawValue, &st) == 0 ? Int64(st.st_size) : 0
    }

    /// The key, revision and final flag of a record line (a flat JSON object holding `user_id` and
    /// `revision` as integers, `event_date` as `YYYY-MM-DD` and `final` as true or false, among other
    /// members); nil for a line that is not one.
    public static func info(of line: UnsafeRawBufferPointer) -> LineInfo? {
        var object = FlatJSONObject(line)
        var info = LineInfo(userID: 0, eventDate: CalendarDay(rawValue: 0), revision: 0, isFinal: false)
        var found = 0
        do {
            while let m = try object.next() {
                let key = UnsafeRawBufferPointer(rebasing: line[m.keyStart..<m.keyEnd])
                let value = UnsafeRawBufferPointer(rebasing: line[m.valueStart..<m.valueEnd])
                if key.elementsEqual(userKey) {
                    guard m.kind == .number, let user = Int64(String(decoding: value, as: UTF8.self)) else { return nil }
                    info.userID = user
                    found |= 1
                } else if key.elementsEqual(dateKey) {
                    guard m.kind == .string, let day = CalendarDay(iso: value) else { return nil }
                    info.eventDate = day
                    found |= 2
                } else if key.elementsEqual(revisionKey) {
                    guard m.kind == .number, let revision = Int(String(decoding: value, as: UTF8.self)) else {
                        return nil
                    }
                    info.revision = revision
                    found |= 4
                } else if key.elementsEqual(finalKey) {
                    guard m.kind == .true || m.kind == .false else { return nil }
                    info.isFinal = m.kind == .true
                    found |= 8
                }
            }
        } catch {
            return nil
        }
        return found == 15 ? info : nil
    }

    private static let userKey = Array("user_id".utf8)
    private static let dateKey = Array("event_date".utf8)
    private static let revisionKey = Array("revision".utf8)
    private static let finalKey = Array("final".utf8)
}
