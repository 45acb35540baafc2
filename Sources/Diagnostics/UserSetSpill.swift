import Foundation
import ReplayStream
import SystemPackage

/// The per-user sets of the interaction diagnostics (the videos a user's rows saw, as a bit set over video slots,
/// and their event dates), written to a file when the user's first stretch of rows ends, so that the ingest holds
/// one user's sets and not every user's: KuaiRec's matrices come grouped by user, and every user's sets held
/// would be ~2 KB a user of the ingest's memory (~14 MB on the big matrix, ~55 MB with four times its users).
/// Read back once, in the order written, when the first pass ends.
///
/// A record is three `Int32`s (the user's slot, the videos' count `n` or, negated, the bit set's word count
/// `w`, and the dates' count `d`), then `n` video slots as `Int32`s or `w` words as `UInt64`s, whichever is
/// shorter, then `d` dates (`CalendarDay` raw values), all in the machine's byte order. The file is the
/// collector's own scratch, beside the day buckets, removed once read; hand-written because no library
/// streams records of this shape.
///
/// It keeps no file open between writes (each write of the buffer opens, appends and closes the file), so it owns
/// nothing that must be released. Used by the collector's thread alone.
final class UserSetSpill {
    let url: URL
    private var buffer: [UInt8] = []
    /// Whether the file was created by this spill (a later write appends to it).
    private var created = false
    /// Bytes buffered before they are written.
    static let flushBytes = 1 << 20

    init(url: URL) { self.url = url }

    /// Buffers one user's sets (``flushIfFull()`` or ``finishWriting()`` writes them).
    func append(slot: Int, videoBits: [UInt64], dates: Set<Int32>) {
        let videos = videoBits.reduce(0) { $0 + $1.nonzeroBitCount }
        let asSlots = videos * 4 < videoBits.count * 8
        appendInt32(Int32(slot))
        appendInt32(asSlots ? Int32(videos) : -Int32(videoBits.count))
        appendInt32(Int32(dates.count))
        if asSlots {
            for (w, word) in videoBits.enumerated() where word != 0 {
                var bits = word
                while bits != 0 {
                    appendInt32(Int32(w * 64 + bits.trailingZeroBitCount))
                    bits &= bits - 1
                }
            }
        } else {
            videoBits.withUnsafeBytes { buffer.append(contentsOf: $0) }
        }
        for d in dates { appendInt32(d) }
    }

    private func appendInt32(_ value: Int32) {
        withUnsafeBytes(of: value) { buffer.append(contentsOf: $0) }
    }

    /// Writes the buffer once it holds ``flushBytes``.
    /// - Throws: ``POSIXFileError`` when the file cannot be created or written.
    func flushIfFull() throws {
        if buffer.count >= Self.flushBytes { try flush() }
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(
                FilePath(url.path), .writeOnly, options: created ? [.append] : [.create, .truncate],
                permissions: [.ownerReadWrite, .groupRead, .otherRead])
        } catch {
            throw POSIXFileError(path: url.path, operation: created ? "open" : "create", (error as? Errno) ?? .ioError)
        }
        defer { try? file.close() }
        created = true
        try buffer.withUnsafeBytes { try file.writeAll($0, path: url.path) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes what is buffered.
    /// - Throws: ``POSIXFileError`` when the file cannot be created or written.
    func finishWriting() throws {
        try flush()
        buffer = []
    }

    /// Calls `body` with each record, in the order written: the user's slot, its videos as a bit set over video
    /// slots (`bits`, reused between calls) and its dates. Read a block at a time. Call ``finishWriting()`` first.
    /// - Throws: ``POSIXFileError`` when the file cannot be read, ``DamagedFileError`` when it ends inside a record.
    func forEachRecord(_ body: (_ slot: Int, _ bits: [UInt64], _ dates: [Int32]) throws -> Void) throws {
        let file: FileDescriptor
        do { file = try FileDescriptor.open(FilePath(url.path), .readOnly) } catch Errno.noSuchFileOrDirectory {
            return  // nothing was spilled
        } catch {
            throw POSIXFileError(path: url.path, operation: "open", (error as? Errno) ?? .ioError)
        }
        defer { try? file.close() }
        var pending: [UInt8] = []
        var start = 0
        var bits: [UInt64] = []
        var dates: [Int32] = []
        var block = [UInt8](repeating: 0, count: Self.flushBytes)
        /// `count` more bytes from `start` of `pending`, reading blocks as needed; false at the file's end.
        func available(_ count: Int) throws -> Bool {
            while pending.count - start < count {
                let n: Int
                do { n = try block.withUnsafeMutableBytes { try file.read(into: $0, retryOnInterrupt: true) } } catch {
                    throw POSIXFileError(path: url.path, operation: "read", (error as? Errno) ?? .ioError)
                }
                guard n > 0 else { return false }
                pending.removeSubrange(0..<start)
                start = 0
                pending.append(contentsOf: block[0..<n])
            }
            return true
        }
        func int32(at offset: Int) -> Int32 {
            pending.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Int32.self) }
        }
        while try available(12) {
            let slot = Int(int32(at: start)), videos = Int(int32(at: start + 4)), dateCount = Int(int32(at: start + 8))
            let bodyBytes = (videos >= 0 ? videos * 4 : -videos * 8) + dateCount * 4
            guard dateCount >= 0, try available(12 + bodyBytes) else {
                throw DamagedFileError(path: url.path, problem: "it ends inside a record")
            }
            var at = start + 12
            bits.removeAll(keepingCapacity: true)
            if videos >= 0 {
                for _ in 0..<videos {
                    let v = Int(int32(at: at))
                    at += 4
                    if bits.count <= v >> 6 { bits.append(contentsOf: repeatElement(0, count: (v >> 6) + 1 - bits.count)) }
                    bits[v >> 6] |= 1 << UInt64(v & 63)
                }
            } else {
                for _ in 0..<(-videos) {
                    bits.append(pending.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt64.self) })
                    at += 8
                }
            }
            dates.removeAll(keepingCapacity: true)
            for _ in 0..<dateCount {
                dates.append(int32(at: at))
                at += 4
            }
            start = at
            try body(slot, bits, dates)
        }
        guard pending.count == start else { throw DamagedFileError(path: url.path, problem: "it ends inside a record") }
    }

    /// Removes the file.
    func remove() {
        created = false
        try? FileManager.default.removeItem(at: url)
    }
}
