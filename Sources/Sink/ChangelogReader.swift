import Foundation
import ReplayStream
import SystemPackage

/// Reads a panel file written by ``PanelLinesSink`` line by line, optionally following it as a run
/// writes: a partly written last line is held back until its newline arrives, and when the writer
/// cuts the file back on resume the reader keeps its position (the rewritten bytes are the same
/// bytes), so no line is delivered twice and none is skipped. A regular file can also be read from its
/// end backwards (``readLinesBackward(from:blockSize:_:)``, for its last lines) and followed from there
/// (``startReading(at:)``).
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
    private var fd: FileDescriptor
    /// True for a pipe or terminal (standard input): read sequentially, never closed by the reader.
    private let isStream: Bool
    private var offset: Int64 = 0
    /// The longest line read (a panel record's line is about 2 KB): a longer one means the file is not a
    /// panel, and reading stops there instead of holding an ever-growing line in memory.
    public static let maxLineBytes = 1 << 20
    private var lines = LineSplitter(maxLineBytes: ChangelogReader.maxLineBytes)
    private var chunk = [UInt8](repeating: 0, count: 1 << 20)
    /// The last bytes read before `offset` (at most ``windowBytes``): still on disk there while the file grows
    /// (or is cut back and rewritten with the same bytes, as a resumed run does); different once another run
    /// rewrote it.
    private var window: [UInt8] = []
    /// The first bytes read (at most ``windowBytes``): a run started anew rewrites the file from its top.
    private var head: [UInt8] = []
    private static let windowBytes = 4096

    /// What happened to a followed file since the reader last read it.
    public enum Change: Equatable, Sendable {
        /// Nothing the reader can see: it grew, or was cut back to a length it has not reached again yet.
        case none
        /// The path names another file now (a new inode: replaced, or deleted and made again).
        case replaced
        /// The bytes the reader last read are not what the file holds there now (another run rewrote it).
        case rewritten
    }

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

    /// What happened to the file since the last read (always ``Change/none`` for standard input).
    public func change() -> Change {
        guard !isStream else { return .none }
        var onPath = stat(), open = stat()
        if stat(path, &onPath) == 0, fstat(fd.rawValue, &open) == 0,
            onPath.st_dev != open.st_dev || onPath.st_ino != open.st_ino
        {
            return .replaced
        }
        let size = fileSize
        return stillHolds(head, at: 0, size: size) && stillHolds(window, at: offset - Int64(window.count), size: size)
            ? .none : .rewritten
    }

    /// True when the part of `bytes` (read at `start`) that the file still reaches holds the same bytes.
    private func stillHolds(_ bytes: [UInt8], at start: Int64, size: Int64) -> Bool {
        let end = min(size, start + Int64(bytes.count))
        guard end > start else { return true }
        var now = [UInt8](repeating: 0, count: Int(end - start))
        let n = now.withUnsafeMutableBytes { (try? fd.read(fromAbsoluteOffset: start, into: $0)) ?? 0 }
        return n == now.count && now.elementsEqual(bytes.prefix(now.count))
    }

    /// Starts again from the top of the file the path names now (reopened when it was replaced).
    /// - Throws: ``POSIXFileError`` when the file cannot be opened again.
    public func restart() throws {
        precondition(!isStream, "standard input cannot start again")
        if change() == .replaced {
            let reopened: FileDescriptor
            do {
                reopened = try FileDescriptor.open(FilePath(path), .readOnly)
            } catch {
                throw POSIXFileError(path: path, operation: "open", (error as? Errno) ?? .ioError)
            }
            try? fd.close()
            fd = reopened
        }
        offset = 0
        window = []
        head = []
        lines = LineSplitter(maxLineBytes: ChangelogReader.maxLineBytes)
    }

    /// True for a regular file (which can be read from its end backwards); false for standard input, a pipe
    /// or a device.
    public var isRegularFile: Bool {
        guard !isStream else { return false }
        var st = stat()
        return fstat(fd.rawValue, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// Goes on from `offset` (the end of a complete line, as ``readLinesBackward(from:blockSize:_:)`` finds):
    /// the next ``readAvailable(_:)`` starts there, and ``change()`` compares the bytes before it and the
    /// file's first bytes as if the reader had read everything up to it.
    /// - Throws: ``POSIXFileError`` when those bytes cannot be read.
    public func startReading(at offset: Int64) throws {
        precondition(!isStream, "standard input is read from where it is")
        let size = Int64(ChangelogReader.windowBytes)
        head = try bytes(at: 0, count: Int(min(size, offset)))
        window = try bytes(at: max(0, offset - size), count: Int(min(size, offset)))
        self.offset = offset
        lines = LineSplitter(maxLineBytes: ChangelogReader.maxLineBytes)
    }

    /// What ``readLinesBackward(from:blockSize:_:)`` ended with.
    public enum BackwardEnd: Equatable, Sendable {
        /// `body` returned false.
        case stopped
        /// Every line was delivered, the first line of the file last.
        case reachedTop
        /// A line (or the bytes after the last newline) is longer than ``maxLineBytes``: the file is not a panel;
        /// read it forwards to say where.
        case lineTooLong
    }

    /// Calls `body` for the lines of the file's first `end` bytes, the last first, without reading the rest
    /// of the file: memory holds one block and one line. The bytes after the last newline come first, with
    /// `complete` false, when there are any (a line still being written); every other line with `complete`
    /// true (an empty one included). `body` returning false stops.
    /// - Throws: ``POSIXFileError`` when reading fails, and `body`'s errors.
    @discardableResult
    public func readLinesBackward(
        from end: Int64, blockSize: Int = 1 << 16, _ body: (_ line: UnsafeRawBufferPointer, _ complete: Bool) throws -> Bool
    ) throws -> BackwardEnd {
        precondition(!isStream && blockSize > 0, "a regular file is read backwards, a block at a time")
        // `buffer` holds the file's bytes from `bufferStart` to the end of the line being looked for.
        var buffer: [UInt8] = []
        var bufferStart = end
        var complete = false
        while true {
            if let newline = buffer.lastIndex(of: 0x0A) {
                if buffer.count - newline - 1 > ChangelogReader.maxLineBytes { return .lineTooLong }
                let keep = try buffer.withUnsafeBytes { all in
                    let line = UnsafeRawBufferPointer(rebasing: all[(newline + 1)...])
                    return complete || !line.isEmpty ? try body(line, complete) : true
                }
                if !keep { return .stopped }
                complete = true
                buffer.removeSubrange(newline...)
                continue
            }
            if buffer.count > ChangelogReader.maxLineBytes { return .lineTooLong }
            if bufferStart == 0 {
                if complete || !buffer.isEmpty {
                    if !(try buffer.withUnsafeBytes { try body($0, complete) }) { return .stopped }
                }
                return .reachedTop
            }
            let count = Int(min(Int64(blockSize), bufferStart))
            bufferStart -= Int64(count)
            buffer.insert(contentsOf: try bytes(at: bufferStart, count: count), at: 0)
        }
    }

    /// The number of lines that end before `offset` (its newlines): a line number for a reader that started
    /// there (``startReading(at:)``).
    /// - Throws: ``POSIXFileError`` when reading fails.
    public func lineCount(before offset: Int64) throws -> Int {
        var count = 0
        var position: Int64 = 0
        while position < offset {
            let block = try bytes(at: position, count: Int(min(Int64(chunk.count), offset - position)))
            if block.isEmpty { break }
            for byte in block where byte == 0x0A { count += 1 }
            position += Int64(block.count)
        }
        return count
    }

    /// The file's first complete line that is not blank (only spaces, tabs or a CR), without its newline, read
    /// without moving the reader (a panel's first line says its joined columns); nil when the file holds none
    /// within its first ``maxLineBytes`` bytes.
    /// - Throws: ``POSIXFileError`` when reading fails.
    public func firstLine() throws -> [UInt8]? {
        precondition(!isStream, "standard input is read once, from where it is")
        var pending: [UInt8] = []
        var position: Int64 = 0
        while pending.count <= ChangelogReader.maxLineBytes {
            let block = try bytes(at: position, count: 1 << 16)
            if block.isEmpty { return nil }
            position += Int64(block.count)
            pending.append(contentsOf: block)
            while let newline = pending.firstIndex(of: 0x0A) {
                let line = pending[..<newline]
                if !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return Array(line) }
                pending.removeSubrange(...newline)
            }
        }
        return nil
    }

    /// Up to `count` bytes at `start` (fewer at the end of the file).
    private func bytes(at start: Int64, count: Int) throws -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n: Int
            do {
                n = try result.withUnsafeMutableBytes { buffer in
                    try fd.read(fromAbsoluteOffset: start + Int64(done), into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
                }
            } catch {
                throw POSIXFileError(path: path, operation: "read", (error as? Errno) ?? .ioError)
            }
            if n == 0 { break }
            done += n
        }
        result.removeSubrange(done...)
        return result
    }

    /// Keeps the last ``windowBytes`` bytes read.
    private func remember(_ read: ArraySlice<UInt8>) {
        if head.count < ChangelogReader.windowBytes { head.append(contentsOf: read.prefix(ChangelogReader.windowBytes - head.count)) }
        if read.count >= ChangelogReader.windowBytes {
            window = Array(read.suffix(ChangelogReader.windowBytes))
        } else {
            window.append(contentsOf: read)
            if window.count > ChangelogReader.windowBytes { window.removeFirst(window.count - ChangelogReader.windowBytes) }
        }
    }

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
            if !isStream { remember(chunk[0..<n]) }
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
}
