import Foundation
import ReplayStream
import Synchronization
import SystemPackage

/// An append-only output file (or stdout) with a large write buffer, that can be cut back to a
/// committed length on resume and made durable at a checkpoint.
///
/// Hand-written over POSIX `write`/`fsync`/`ftruncate` because the exactly-once contract needs
/// precise control of what has reached the disk and where the file ends.
///
/// The write system calls run on a writer queue, so that copying hundreds of MB into the page cache
/// overlaps with rendering the next records; at most two buffers are in flight. Memory: the buffer being
/// filled (the buffer limit, 256 KiB by default, and one line), two in flight and two spares: ~1.3 MB. An output
/// opened with `directWriteBytes` hands its buffers to a ``DirectAppender`` on that queue instead (two buffers of
/// that size more), which writes them around the page cache.
///
/// Every write ends on a line boundary: a full buffer is handed over through its last newline (the partial
/// line after it waits for the next one), so a reader of the file while it is written sees a partial last
/// line only where the operating system split a write. ``drain()`` and ``close()`` hand over everything
/// appended. The owner calls
/// ``close()`` on every path (errors included): it waits for the writes in flight and closes the file.
/// Releasing an output that was not closed is a programming error, caught by an assertion in debug builds.
public final class ByteOutput {
    /// The path, or `-` for stdout.
    public let path: String
    private let channel: WriteChannel
    private var buffer: [UInt8] = []
    private let bufferLimit: Int
    private var closed = false
    /// Bytes written (buffered included) since the start of the file.
    public private(set) var length: Int64
    /// The buffer's capacity beyond the buffer limit: room for the line that crosses the limit, so that a line
    /// written in place (``PanelLinesSink`` asks for its line's bound) does not make the buffer grow.
    static let lineRoom = 16 << 10

    /// Opens `path` for a run. A fresh run (`resumeAt == nil`) starts the file anew; a resumed run
    /// cuts it back to `resumeAt` bytes (the committed length) and continues there, once the file is checked
    /// against `expected` (the checkpoint's fingerprint: same file, same committed bytes at the end).
    /// A regular file is locked while it is open (`flock`): a second run writing it is refused.
    /// `-` means standard output; a device or a FIFO is written in place, like standard output (nothing is cut
    /// back or positioned, so a resume is at-least-once there, and nothing is fsynced).
    /// - Throws: ``POSIXFileError`` when the file cannot be opened, cut back or positioned;
    ///   ``OutputOwnershipError`` when another run holds it, or it is not the file (or the bytes) `expected`
    ///   names; ``DamagedFileError`` when it is shorter than `resumeAt`.
    ///
    /// `directWriteBytes` (nil: through the page cache): a regular file's bytes are written around the page cache
    /// (``DirectAppender``: whole blocks with `O_DIRECT`, gathered that many bytes at a time), where the filesystem
    /// allows it; for a run's panel output, written once and not read back by the run. Its lines then reach the file
    /// `directWriteBytes` at a time and at each ``drain()``, still each write ending on a line end.
    public init(
        path: String, resumeAt: Int64?, expected: OutputFingerprint? = nil, bufferLimit: Int = 256 << 10,
        directWriteBytes: Int? = nil
    ) throws {
        self.path = path
        self.bufferLimit = bufferLimit
        buffer.reserveCapacity(bufferLimit + ByteOutput.lineRoom)
        length = resumeAt ?? 0
        if path == "-" {
            channel = WriteChannel(fd: STDOUT_FILENO, ownsDescriptor: false, isRegularFile: false, path: path, appender: nil)
            return
        }
        let dir = AtomicFile.folder(containing: path)
        if dir != "." { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        // Not O_TRUNC: the file is locked (and checked) before it is cut. A regular file (or a new one) is opened
        // for reading too, to take the fingerprint of its committed bytes; a device or a FIFO for writing only.
        var existing = stat()
        let special = stat(path, &existing) == 0 && (existing.st_mode & S_IFMT) != S_IFREG
        let fd = open(path, (special ? O_WRONLY : O_RDWR) | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw POSIXFileError(path: path, operation: "open", code: errno) }
        var st = stat()
        let isRegular = fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
        var appender: DirectAppender?
        if isRegular {
            do {
                guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                    if errno == EWOULDBLOCK { throw OutputOwnershipError(path: path, kind: .inUse) }
                    throw POSIXFileError(path: path, operation: "lock", code: errno)
                }
                if let resumeAt, let expected { try ByteOutput.check(fd, path: path, committed: resumeAt, against: expected) }
                try ByteOutput.position(fd, path: path, resumeAt: resumeAt)
                if let directWriteBytes {
                    appender = try DirectAppender.open(
                        fd: fd, start: resumeAt ?? 0, path: path, coalescedBytes: directWriteBytes)
                }
            } catch {
                Foundation.close(fd)
                throw error
            }
        }
        channel = WriteChannel(
            fd: fd, ownsDescriptor: true, isRegularFile: isRegular, path: path, appender: appender, start: resumeAt ?? 0)
    }

    /// Checks that the open file is the one `expected` names and still ends its first `committed` bytes with the
    /// same block.
    private static func check(_ fd: Int32, path: String, committed: Int64, against expected: OutputFingerprint) throws {
        guard FileIdentity.of(fd: fd) == expected.file else { throw OutputOwnershipError(path: path, kind: .replaced) }
        var st = stat()
        fstat(fd, &st)
        let changed = OutputOwnershipError(path: path, kind: .committedBytesChanged(committed: committed, size: Int64(st.st_size)))
        guard Int64(st.st_size) >= committed, try OutputFingerprint.of(fd: fd, length: committed, path: path) == expected
        else { throw changed }
    }

    /// Cuts a resumed file back to `resumeAt` and seeks there (a fresh file is emptied).
    private static func position(_ fd: Int32, path: String, resumeAt: Int64?) throws {
        if resumeAt == nil, ftruncate(fd, 0) != 0 {
            throw POSIXFileError(path: path, operation: "truncate", code: errno)
        }
        if let resumeAt {
            var st = stat()
            fstat(fd, &st)
            if Int64(st.st_size) < resumeAt {
                throw DamagedFileError(
                    path: path,
                    problem: "the file is shorter than the checkpoint says (\(st.st_size) < \(resumeAt) bytes): it was changed by someone else")
            }
            guard ftruncate(fd, off_t(resumeAt)) == 0 else {
                throw POSIXFileError(path: path, operation: "truncate to the checkpoint", code: errno)
            }
        }
        guard lseek(fd, off_t(resumeAt ?? 0), SEEK_SET) >= 0 else {
            throw POSIXFileError(path: path, operation: "seek", code: errno)
        }
    }

    deinit {
        assert(closed, "ByteOutput(\(path)) released without close(): \(buffer.count) bytes were never written")
    }

    /// Appends bytes (buffered).
    @inline(__always)
    public func append(_ bytes: [UInt8]) throws {
        buffer.append(contentsOf: bytes)
        length += Int64(bytes.count)
        if buffer.count >= bufferLimit { try flush() }
    }

    /// Appends through a closure that writes into the buffer directly.
    @inline(__always)
    public func append(_ body: (inout [UInt8]) -> Void) throws {
        let before = buffer.count
        body(&buffer)
        length += Int64(buffer.count - before)
        if buffer.count >= bufferLimit { try flush() }
    }

    /// Hands the buffer to the writer queue (asynchronously) through its last newline; the bytes after it
    /// (a line not yet ended) stay buffered. A buffer without a newline stays whole.
    public func flush() throws {
        try handOver(wholeLinesOnly: true)
    }

    /// Hands the buffer to the writer queue: through its last newline when `wholeLinesOnly`, else all of it.
    private func handOver(wholeLinesOnly: Bool) throws {
        precondition(!closed, "ByteOutput(\(path)) written after close()")
        try channel.failure.check()
        guard !buffer.isEmpty else { return }
        var end = buffer.count
        if wholeLinesOnly && buffer[end - 1] != 0x0A {
            guard let newline = buffer.lastIndex(of: 0x0A) else { return }
            end = newline + 1
        }
        // The buffer itself is handed over (moved: nothing here keeps a reference, so the writer can give it
        // back for reuse), cut at `end`; the partial line after it starts the next buffer.
        var chunk: [UInt8] = []
        swap(&chunk, &buffer)
        let rest = end == chunk.count ? [] : Array(chunk[end...])
        chunk.removeSubrange(end...)
        chunkHandedOver?(chunk)
        if let recent = channel.durability.recent { chunk.withUnsafeBytes { recent.append($0) } }
        channel.send(&chunk)
        buffer = consume chunk
        buffer.append(contentsOf: rest)
        buffer.reserveCapacity(bufferLimit + ByteOutput.lineRoom)
    }

    /// Sees each chunk handed to the writer queue (tests check where writes end).
    var chunkHandedOver: (([UInt8]) -> Void)?

    /// Hands over everything appended and waits until it has been handed to the operating system.
    public func drain() throws {
        try handOver(wholeLinesOnly: false)
        channel.writeGathered()
        channel.waitForWrites()
        try channel.failure.check()
    }

    /// The file written, when it is a regular file of its own (not standard output, a device or a FIFO).
    public var fileIdentity: FileIdentity? { channel.durability.syncs ? FileIdentity.of(fd: channel.durability.fd) : nil }

    /// What makes this output's flushed bytes durable, for the checkpoint thread.
    public var durability: FileDurability { channel.durability }

    /// Flushes and fsyncs; returns the durable length.
    public func sync() throws -> Int64 {
        try drain()
        try channel.durability.sync()
        return length
    }

    /// Writes what is buffered, waits for the writes in flight and closes the file (idempotent). The file is
    /// closed even when a write fails; the first write error is thrown.
    public func close() throws {
        guard !closed else { return }
        defer {
            closed = true
            channel.closeDescriptor()
        }
        try drain()
    }
}

/// Makes the flushed bytes of an output file durable (`fsync`); a value the checkpoint thread may hold.
///
/// The owner of the file closes it only after the checkpoints that hold this have committed (the
/// checkpoint committer is drained before the output is closed), so the descriptor stays the file's.
public struct FileDurability: OutputDurability {
    let fd: Int32
    /// Only a regular file of the output's own is fsynced (standard output, devices and FIFOs have nothing
    /// to make durable; `fsync` fails on some of them).
    let syncs: Bool
    let path: String
    /// The last bytes handed to the file's writes (nil when it is not fsynced): a fingerprint hashes them, not a
    /// read of the file (``RecentBytes``).
    let recent: RecentBytes?

    public func sync() throws {
        if syncs, fsync(fd) != 0 {
            throw POSIXFileError(path: path, operation: "fsync", code: errno)
        }
    }

    /// The fingerprint of the file's first `length` bytes, every one of them handed over: hashed from
    /// ``recent`` when it holds the last of them, else read back from the file (after a resume, until a block
    /// more is written).
    public func fingerprint(ofFirst length: Int64) throws -> OutputFingerprint? {
        guard syncs else { return nil }
        if let tail = recent?.tail(ofFileOf: length), let file = FileIdentity.of(fd: fd) {
            return tail.withUnsafeBytes { OutputFingerprint.of(file: file, tail: $0) }
        }
        return try OutputFingerprint.of(fd: fd, length: length, path: path)
    }
}

/// The descriptor and the writer queue of a ``ByteOutput``: what the queue's blocks share with the
/// appending thread. Every stored property is a constant or lock-protected, so it is `Sendable` as checked.
private final class WriteChannel: Sendable {
    let durability: FileDurability
    /// The writes, two in flight at most, their buffers reused (at most two spares; see ``BufferWriteQueue`` for
    /// why a buffer is never written while the appending thread fills it again).
    private let writer = BufferWriteQueue<UInt8>(label: "replay.output")
    /// The first write that failed.
    var failure: FirstFailure { writer.failure }
    private let descriptorClosed = Atomic<Bool>(false)

    private let ownsDescriptor: Bool
    /// Writes the file around the page cache, on the writer queue only; nil for a buffered file or a stream.
    let appender: DirectAppender?

    /// `start`: the file's length when the channel's writes begin.
    init(fd: Int32, ownsDescriptor: Bool, isRegularFile: Bool, path: String, appender: DirectAppender?, start: Int64 = 0) {
        let syncs = ownsDescriptor && isRegularFile
        durability = FileDurability(fd: fd, syncs: syncs, path: path, recent: syncs ? RecentBytes(start: start) : nil)
        self.ownsDescriptor = ownsDescriptor
        self.appender = appender
    }

    // Only when an owner failed to close its output (an assertion in debug builds): the descriptor is
    // released, nothing is written.
    deinit {
        if ownsDescriptor, !descriptorClosed.load(ordering: .relaxed) { Foundation.close(durability.fd) }
    }

    /// Queues `chunk` for writing (waiting while two are in flight) and puts an empty buffer to fill next in its place.
    func send(_ chunk: inout [UInt8]) {
        if let appender {
            return writer.send(&chunk) { bytes in try appender.append(UnsafeRawBufferPointer(bytes)) }
        }
        writer.send(&chunk) { [durability] bytes in
            try FileDescriptor(rawValue: durability.fd).writeAll(UnsafeRawBufferPointer(bytes), path: durability.path)
        }
    }

    /// Queues the write of what the appender gathered (nothing without one).
    func writeGathered() {
        guard let appender else { return }
        writer.perform { try appender.flush() }
    }

    /// Blocks until every queued chunk has been written (or has failed).
    func waitForWrites() { writer.waitForWrites() }

    /// Closes the descriptor after the writes in flight (once; standard output stays open).
    func closeDescriptor() {
        writer.waitForWrites()
        appender?.close()
        guard ownsDescriptor, !descriptorClosed.exchange(true, ordering: .relaxed) else { return }
        Foundation.close(durability.fd)
    }
}

/// Appends JSON text to a byte buffer: numbers, escaped strings. Hand-written for speed and a
/// fixed key order; the tests decode every line with Foundation's JSON parser as the oracle.
public enum JSONBytes {
    /// Appends a decimal integer.
    @inline(__always)
    public static func appendInt(_ value: Int64, to out: inout [UInt8]) {
        appendNumber(to: &out) { $0.appendInt(value) }
    }

    /// The text of an unknown value in JSON.
    public static let null: [UInt8] = [0x6E, 0x75, 0x6C, 0x6C]

    /// Appends a double in its shortest round-trip form, or `null` (JSON's; CSV passes an empty one) for NaN
    /// and infinities.
    @inline(__always)
    public static func appendDouble(_ value: Double, to out: inout [UInt8], null: [UInt8] = JSONBytes.null) {
        guard value.isFinite else { return out.append(contentsOf: null) }
        appendNumber(to: &out) { $0.appendDouble(value, null: UnsafeRawBufferPointer(start: nil, count: 0)) }
    }

    /// Appends a number that is integer-valued in the panel (a count held as float64 by pandas), or `null`
    /// (JSON's; CSV passes an empty one) for NaN.
    @inline(__always)
    public static func appendCount(_ value: Double, to out: inout [UInt8], null: [UInt8] = JSONBytes.null) {
        guard value.isFinite else { return out.append(contentsOf: null) }
        appendNumber(to: &out) { $0.appendCount(value, null: UnsafeRawBufferPointer(start: nil, count: 0)) }
    }

    /// Renders one number with ``LineCursor`` (the one implementation of the panel's number text) into stack
    /// memory and appends it.
    @inline(__always)
    private static func appendNumber(to out: inout [UInt8], _ body: (inout LineCursor) -> Void) {
        withUnsafeTemporaryAllocation(byteCount: LineCursor.maxNumberBytes, alignment: 8) { memory in
            var cursor = LineCursor(memory)
            body(&cursor)
            out.append(contentsOf: cursor.written)
        }
    }

    /// Appends a JSON string literal, escaping quotes, backslashes and control characters, and
    /// replacing bytes that are not valid UTF-8 with U+FFFD.
    public static func appendString(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(0x22)
        // Printable ASCII without `"` or `\` (a rejected CSV row, mostly) is its own JSON text: copied at once,
        // without the `String` and the per-byte appends below (they cost a tenth of the ingest fold's time).
        if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }) {
            out.append(contentsOf: bytes)
            out.append(0x22)
            return
        }
        let text = String(decoding: bytes, as: UTF8.self)  // invalid sequences become U+FFFD
        for b in text.utf8 {
            switch b {
            case 0x22: out.append(contentsOf: [0x5C, 0x22])
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: out.append(contentsOf: [0x5C, 0x72])
            case 0x09: out.append(contentsOf: [0x5C, 0x74])
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
            default: out.append(b)
            }
        }
        out.append(0x22)
    }

    /// Appends a JSON string literal for a Swift string.
    public static func appendString(_ string: String, to out: inout [UInt8]) {
        var s = string
        s.withUTF8 { appendString(UnsafeRawBufferPointer($0), to: &out) }
    }
}

