import Foundation
import ReplayStream

/// Reads a panel file written by ``JSONLinesSink`` line by line, optionally following it as a run
/// writes: a partly written last line is held back until its newline arrives, and when the writer
/// cuts the file back on resume the reader keeps its position (the rewritten bytes are the same
/// bytes), so no line is delivered twice and none is skipped.
public final class ChangelogReader {
    /// The identity of a record line: its key and revision.
    public struct LineInfo: Equatable, Sendable {
        public var userID: Int64
        public var eventDate: String
        public var revision: Int
        public var isFinal: Bool
    }

    private let path: String
    private var fd: Int32 = -1
    /// True for a pipe or terminal (standard input): read sequentially, never closed by the reader.
    private let isStream: Bool
    private var offset: Int64 = 0
    private var partial: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 1 << 20)

    /// Opens `path` for reading from its start.
    public init(path: String) throws {
        self.path = path
        isStream = false
        fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw POSIXFileError(path: path, operation: "open", code: errno) }
    }

    /// Reads standard input sequentially (a pipe need not be seekable); `name` is used in errors.
    /// Standard input is left open when the reader goes away.
    public init(standardInputNamed name: String = "-") {
        path = name
        isStream = true
        fd = STDIN_FILENO
    }

    deinit { if fd >= 0 && !isStream { close(fd) } }

    /// Reads what is there now (from standard input: up to its end) and calls `body` for every
    /// complete line (without its newline).
    /// Returns the number of lines delivered; `body` returning false stops early.
    @discardableResult
    public func readAvailable(_ body: (UnsafeRawBufferPointer) throws -> Bool) throws -> Int {
        var delivered = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { buffer in
                if isStream { return read(fd, buffer.baseAddress!, buffer.count) }
                return pread(fd, buffer.baseAddress!, buffer.count, off_t(offset))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw POSIXFileError(path: path, operation: "read", code: errno)
            }
            if n == 0 { return delivered }
            offset += Int64(n)
            var start = 0
            var stop = false
            try chunk.withUnsafeBytes { raw in
                let base = raw.baseAddress!
                while start < n, let nl = memchr(base + start, 0x0A, n - start) {
                    let end = base.distance(to: UnsafeRawPointer(nl))
                    let keepGoing: Bool
                    if partial.isEmpty {
                        keepGoing = try body(UnsafeRawBufferPointer(start: base + start, count: end - start))
                    } else {
                        partial.append(contentsOf: UnsafeRawBufferPointer(start: base + start, count: end - start))
                        keepGoing = try partial.withUnsafeBytes { try body($0) }
                        partial.removeAll(keepingCapacity: true)
                    }
                    delivered += 1
                    start = end + 1
                    if !keepGoing {
                        stop = true
                        return
                    }
                }
                if start < n { partial.append(contentsOf: UnsafeRawBufferPointer(start: base + start, count: n - start)) }
            }
            if stop { return delivered }
        }
    }

    /// Bytes after the last newline read so far: a line still being written (or a file whose last
    /// line has no newline). They are delivered once their newline arrives.
    public var heldBackBytes: Int { partial.count }

    /// The file's current size (it may be below the reader's position right after a resume cut it back).
    public var fileSize: Int64 {
        var st = stat()
        return fstat(fd, &st) == 0 ? Int64(st.st_size) : 0
    }

    /// Extracts key, revision and final flag from a line in the sink's fixed layout, falling back to
    /// a JSON parser for anything else. nil for a line that is not a record.
    public static func info(of line: UnsafeRawBufferPointer) -> LineInfo? {
        if let fast = fastInfo(line) { return fast }
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
            let user = (object["user_id"] as? NSNumber)?.int64Value, let date = object["event_date"] as? String,
            let revision = (object["revision"] as? NSNumber)?.intValue, let final = object["final"] as? Bool
        else { return nil }
        return LineInfo(userID: user, eventDate: date, revision: revision, isFinal: final)
    }

    private static let userPrefix = Array("{\"user_id\":".utf8)
    private static let datePrefix = Array(",\"event_date\":\"".utf8)
    private static let finalTrue = Array(",\"final\":true}".utf8)
    private static let finalFalse = Array(",\"final\":false}".utf8)
    private static let revisionKey = Array(",\"revision\":".utf8)

    private static func fastInfo(_ line: UnsafeRawBufferPointer) -> LineInfo? {
        let n = line.count
        guard n > 40, line.starts(with: userPrefix) else { return nil }
        var i = userPrefix.count
        var user: Int64 = 0
        var digits = 0
        while i < n, line[i] >= 0x30, line[i] <= 0x39 {
            user = user * 10 + Int64(line[i] - 0x30)
            i += 1
            digits += 1
        }
        guard digits > 0, i + datePrefix.count + 11 <= n,
            UnsafeRawBufferPointer(rebasing: line[i..<(i + datePrefix.count)]).elementsEqual(datePrefix)
        else { return nil }
        i += datePrefix.count
        let date = String(decoding: UnsafeRawBufferPointer(rebasing: line[i..<(i + 10)]), as: UTF8.self)
        let isFinal: Bool
        var end: Int
        if line.suffix(finalTrue.count).elementsEqual(finalTrue) {
            isFinal = true
            end = n - finalTrue.count
        } else if line.suffix(finalFalse.count).elementsEqual(finalFalse) {
            isFinal = false
            end = n - finalFalse.count
        } else {
            return nil
        }
        var revision = 0
        var scale = 1
        while end > 0, line[end - 1] >= 0x30, line[end - 1] <= 0x39 {
            revision += Int(line[end - 1] - 0x30) * scale
            scale *= 10
            end -= 1
        }
        guard scale > 1, end >= revisionKey.count,
            UnsafeRawBufferPointer(rebasing: line[(end - revisionKey.count)..<end]).elementsEqual(revisionKey)
        else { return nil }
        return LineInfo(userID: user, eventDate: date, revision: revision, isFinal: isFinal)
    }
}
