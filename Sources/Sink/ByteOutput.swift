import Foundation
import ReplayStream
import SystemPackage

/// An append-only output file (or stdout) with a large write buffer, that can be cut back to a
/// committed length on resume and made durable at a checkpoint.
///
/// Hand-written over POSIX `write`/`fsync`/`ftruncate` because the exactly-once contract needs
/// precise control of what has reached the disk and where the file ends.
public final class ByteOutput {
    private let fd: Int32
    private let ownsDescriptor: Bool
    /// The path, or `-` for stdout.
    public let path: String
    private var buffer: [UInt8] = []
    private let bufferLimit: Int
    /// Bytes written (buffered included) since the start of the file.
    public private(set) var length: Int64

    /// Opens `path` for a run. A fresh run (`resumeAt == nil`) starts the file anew; a resumed run
    /// cuts it back to `resumeAt` bytes (the committed length) and continues there.
    /// `-` means standard output (at-least-once on resume: nothing can be cut back).
    /// - Throws: ``POSIXFileError`` when the file cannot be opened, cut back or positioned;
    ///   ``DamagedFileError`` when it is shorter than `resumeAt`.
    public init(path: String, resumeAt: Int64?, bufferLimit: Int = 1 << 20) throws {
        self.path = path
        self.bufferLimit = bufferLimit
        buffer.reserveCapacity(bufferLimit + 4096)
        if path == "-" {
            fd = STDOUT_FILENO
            ownsDescriptor = false
            length = resumeAt ?? 0
            return
        }
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let flags = O_WRONLY | O_CREAT | (resumeAt == nil ? O_TRUNC : 0)
        let opened = open(path, flags, 0o644)
        guard opened >= 0 else { throw POSIXFileError(path: path, operation: "open", code: errno) }
        fd = opened
        ownsDescriptor = true
        if let resumeAt {
            var st = stat()
            fstat(fd, &st)
            if Int64(st.st_size) < resumeAt {
                close(fd)
                throw DamagedFileError(
                    path: path,
                    problem: "the file is shorter than the checkpoint says (\(st.st_size) < \(resumeAt) bytes): it was changed by someone else")
            }
            guard ftruncate(fd, off_t(resumeAt)) == 0 else {
                let e = errno
                close(fd)
                throw POSIXFileError(path: path, operation: "truncate to the checkpoint", code: e)
            }
        }
        guard lseek(fd, off_t(resumeAt ?? 0), SEEK_SET) >= 0 else {
            let e = errno
            close(fd)
            throw POSIXFileError(path: path, operation: "seek", code: e)
        }
        length = resumeAt ?? 0
    }

    deinit {
        try? drain()
        if ownsDescriptor { close(fd) }
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

    // The write system calls run on a writer queue, so that copying hundreds of MB into the page
    // cache overlaps with rendering the next records. At most two buffers are in flight.
    private let writer = DispatchQueue(label: "replay.output")
    private let inFlight = DispatchSemaphore(value: 2)
    private let pending = DispatchGroup()
    private let errorLock = NSLock()
    private var writeError: Error?
    private var spareBuffers: [[UInt8]] = []

    private func checkWriteError() throws {
        errorLock.lock()
        defer { errorLock.unlock() }
        if let writeError { throw writeError }
    }

    /// Hands the buffer to the writer queue (asynchronously).
    public func flush() throws {
        try checkWriteError()
        guard !buffer.isEmpty else { return }
        inFlight.wait()
        let chunk = buffer
        errorLock.lock()
        buffer = spareBuffers.popLast() ?? []
        errorLock.unlock()
        buffer.removeAll(keepingCapacity: true)
        buffer.reserveCapacity(bufferLimit + 4096)
        pending.enter()
        writer.async { [self] in
            do {
                try writeAll(chunk)
            } catch {
                errorLock.lock()
                writeError = writeError ?? error
                errorLock.unlock()
            }
            errorLock.lock()
            if spareBuffers.count < 2 { spareBuffers.append(chunk) }
            errorLock.unlock()
            pending.leave()
            inFlight.signal()
        }
    }

    /// Flushes and waits until every byte appended so far has been handed to the operating system.
    public func drain() throws {
        try flush()
        pending.wait()
        try checkWriteError()
    }

    private func writeAll(_ chunk: [UInt8]) throws {
        try chunk.withUnsafeBytes { try FileDescriptor(rawValue: fd).writeAll($0, path: path) }
    }

    /// Fsyncs what has been flushed; safe to call from another thread than the writer's.
    public func fsyncFlushed() throws {
        if ownsDescriptor, fsync(fd) != 0 {
            throw POSIXFileError(path: path, operation: "fsync", code: errno)
        }
    }

    /// Flushes and fsyncs; returns the durable length.
    public func sync() throws -> Int64 {
        try drain()
        if ownsDescriptor, fsync(fd) != 0 {
            throw POSIXFileError(path: path, operation: "fsync", code: errno)
        }
        return length
    }
}

/// Appends JSON text to a byte buffer: numbers, escaped strings. Hand-written for speed and a
/// fixed key order; the tests decode every line with Foundation's JSON parser as the oracle.
public enum JSONBytes {
    /// Appends a decimal integer.
    @inline(__always)
    public static func appendInt(_ value: Int64, to out: inout [UInt8]) {
        if value == 0 {
            out.append(0x30)
            return
        }
        var v = value.magnitude
        if value < 0 { out.append(0x2D) }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &digits) { d in
            while v > 0 {
                d[n] = UInt8(v % 10) + 0x30
                v /= 10
                n += 1
            }
            while n > 0 {
                n -= 1
                out.append(d[n])
            }
        }
    }

    /// Appends a double in its shortest round-trip form, or `null` for NaN and infinities.
    @inline(__always)
    public static func appendDouble(_ value: Double, to out: inout [UInt8]) {
        guard value.isFinite else {
            out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
            return
        }
        out.append(contentsOf: value.description.utf8)
    }

    /// Appends a number that is integer-valued in the panel (a count held as float64 by pandas), or `null` for NaN.
    @inline(__always)
    public static func appendCount(_ value: Double, to out: inout [UInt8]) {
        guard value.isFinite else {
            out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
            return
        }
        if value == value.rounded(), abs(value) < 9e15 {
            appendInt(Int64(value), to: &out)
        } else {
            appendDouble(value, to: &out)
        }
    }

    /// Appends a JSON string literal, escaping quotes, backslashes and control characters, and
    /// replacing bytes that are not valid UTF-8 with U+FFFD.
    public static func appendString(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(0x22)
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
