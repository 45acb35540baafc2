import Foundation
import SystemPackage

/// The layout of a day file of ``DayBuckets``: one 28-byte slot per event, in file order, where an
/// ``Interaction`` takes 40 bytes in memory. The day files are written once into new page-cache pages, which on
/// this project's VMs costs up to ~1-2 ns a byte of kernel time when the machine has not used that memory lately
/// (measured: 254 MB more of day files made a `--format csv --emit final` run of KuaiRec's big matrix 0.14-0.25 s
/// slower) and several times less when it has; the slots cut those bytes, and the disk's, by 30% on every form of
/// output, for ~4 ns an event to encode (on the bucket writer's queue) and ~1 ns to decode, each time a reader reads it
/// (docs/DEVELOPING.md, "Performance").
///
/// A slot (host byte order, read and written as raw bytes): the watch ratio's bits (8 bytes, bit for bit), the
/// timestamp as milliseconds from the file's base (``base(ofFile:)``: Int32, ``missingTimestamp`` for a row
/// without one), user (Int32), video (Int32), play duration (UInt32), video duration (UInt32). An event that does not
/// fit (a timestamp 24.8 days or more from its day's start, a duration of 2^32 ms or more) is stored whole, 40
/// bytes, in the file's side file (``widePath(of:)``), and its slot is an escape (``escape`` in the timestamp's
/// place) holding its index there in the play duration's. Nothing is lost: decoding gives back every event as it
/// was encoded. Event `i` of a file is always slot `i`, so positions, counts and cuts stay `slotSize` multiples.
///
/// A side file only grows: escapes are written into it (at the index its whole entries end at, past a torn
/// entry) before their slots, so a slot never refers to an entry not written, and entries no slot refers to (a
/// write cut short by a crash, a day cut back to a checkpoint) are never read.
public enum DayFileRecords {
    /// Bytes of one event's slot in a day file.
    public static let slotSize = 28
    /// Bytes of one entry of a side file: an ``Interaction`` as laid out in memory.
    public static let wideSize = MemoryLayout<Interaction>.stride
    /// The timestamp offset of an event without a timestamp (``Interaction/missingTimestamp``).
    static let missingTimestamp = Int32.min
    /// The timestamp offset of an escape: the event is in the side file.
    static let escape = Int32.min + 1
    /// Milliseconds in a day.
    static let dayMs: Int64 = 86_400_000

    /// The base of the file at `path`: the first millisecond (UTC) of day `n` for a day file, `day-<n>.events`,
    /// and 0 for any other (a file of the same layout whose events have no day, as the diagnostics' spill).
    public static func base(ofFile path: String) -> Int64 {
        let name = path.split(separator: "/").last ?? ""
        guard name.hasPrefix("day-"), name.hasSuffix(".events"), let day = Int32(name.dropFirst(4).dropLast(7)) else {
            return 0
        }
        return Int64(day) * dayMs
    }

    /// The side file of the file at `path`: `.events` replaced by `.wide` (appended when it has no `.events`).
    public static func widePath(of path: String) -> String {
        path.hasSuffix(".events") ? String(path.dropLast(7)) + ".wide" : path + ".wide"
    }

    /// Encodes the `count` events at the start of `bytes` (as many ``Interaction``s) into slots, in place, front to
    /// back: slot `i` ends before event `i + 1` starts, and event `i` is read before slot `i` is written. Returns
    /// the events that escape, in order; their indices in the side file start at `firstWide()`, asked once, at
    /// the first escape. The bytes after `count * slotSize` are left as they were.
    static func encodeInPlace(
        _ bytes: UnsafeMutableRawBufferPointer, count: Int, base: Int64, firstWide: () throws -> Int
    ) rethrows -> [Interaction] {
        precondition(bytes.count >= count * wideSize, "the buffer holds `count` events")
        guard let p = bytes.baseAddress else { return [] }
        var wide: [Interaction] = []
        var nextWide = -1
        for i in 0..<count {
            let e = p.loadUnaligned(fromByteOffset: i * wideSize, as: Interaction.self)
            let slot = p + i * slotSize
            var offset = Int32(0)
            let fits: Bool
            if e.timestampMs == Interaction.missingTimestamp {
                offset = missingTimestamp
                fits = true
            } else {
                let delta = e.timestampMs &- base
                fits = delta > Int64(escape) && delta <= Int64(Int32.max)
                if fits { offset = Int32(truncatingIfNeeded: delta) }
            }
            if fits, e.playDurationMs >= 0, e.playDurationMs <= Int64(UInt32.max), e.videoDurationMs >= 0,
                e.videoDurationMs <= Int64(UInt32.max)
            {
                slot.storeBytes(of: e.watchRatio.bitPattern, toByteOffset: 0, as: UInt64.self)
                slot.storeBytes(of: offset, toByteOffset: 8, as: Int32.self)
                slot.storeBytes(of: e.userID, toByteOffset: 12, as: Int32.self)
                slot.storeBytes(of: e.videoID, toByteOffset: 16, as: Int32.self)
                slot.storeBytes(of: UInt32(truncatingIfNeeded: e.playDurationMs), toByteOffset: 20, as: UInt32.self)
                slot.storeBytes(of: UInt32(truncatingIfNeeded: e.videoDurationMs), toByteOffset: 24, as: UInt32.self)
            } else {
                if nextWide < 0 { nextWide = try firstWide() }
                precondition(nextWide <= Int(UInt32.max), "a side file holds fewer than 2^32 events")
                slot.storeBytes(of: 0, toByteOffset: 0, as: UInt64.self)
                slot.storeBytes(of: escape, toByteOffset: 8, as: Int32.self)
                slot.storeBytes(of: 0, toByteOffset: 12, as: Int64.self)
                slot.storeBytes(of: UInt32(nextWide), toByteOffset: 20, as: UInt32.self)
                slot.storeBytes(of: 0, toByteOffset: 24, as: UInt32.self)
                wide.append(e)
                nextWide += 1
            }
        }
        return wide
    }

    /// Decodes the `count` slots at the start of `bytes` (room for as many ``Interaction``s) into events, in place,
    /// back to front: event `i` covers only slots `i` and later, and slot `i` is read before event `i` is written.
    /// An escape's event is taken from `wide`, the side file of `path` read whole at the first escape (nil until
    /// then; a caller reading the file in pieces passes the same variable to each).
    /// - Throws: ``DamagedFileError`` when an escape refers past the side file's whole entries;
    ///   ``POSIXFileError`` when the side file cannot be read.
    static func decodeInPlace(
        _ bytes: UnsafeMutableRawBufferPointer, count: Int, base: Int64, path: String, wide: inout [Interaction]?
    ) throws {
        precondition(bytes.count >= count * wideSize, "the buffer has room for `count` events")
        guard let p = bytes.baseAddress else { return }
        var i = count - 1
        while i >= 0 {
            let slot = UnsafeRawPointer(p + i * slotSize)
            let offset = slot.loadUnaligned(fromByteOffset: 8, as: Int32.self)
            let event: Interaction
            if offset == escape {
                let index = Int(slot.loadUnaligned(fromByteOffset: 20, as: UInt32.self))
                if wide == nil { wide = try readWide(widePath(of: path)) }
                guard index < wide!.count else {
                    throw DamagedFileError(
                        path: widePath(of: path),
                        problem: "\(path) refers to its event \(index), and it holds \(wide!.count) whole events")
                }
                event = wide![index]
            } else {
                event = Interaction(
                    timestampMs: offset == missingTimestamp ? Interaction.missingTimestamp : base &+ Int64(offset),
                    userID: slot.loadUnaligned(fromByteOffset: 12, as: Int32.self),
                    videoID: slot.loadUnaligned(fromByteOffset: 16, as: Int32.self),
                    playDurationMs: Int64(slot.loadUnaligned(fromByteOffset: 20, as: UInt32.self)),
                    videoDurationMs: Int64(slot.loadUnaligned(fromByteOffset: 24, as: UInt32.self)),
                    watchRatio: Double(bitPattern: slot.loadUnaligned(fromByteOffset: 0, as: UInt64.self)))
            }
            (p + i * wideSize).storeBytes(of: event, as: Interaction.self)
            i -= 1
        }
    }

    /// Appends `events` (``Interaction``s as laid out in memory) to the day file at `path` (created if missing),
    /// encoding them in place first (the buffer's bytes are scratch afterwards); the escapes go to the side file
    /// first, at the index its whole entries end at.
    /// - Throws: ``POSIXFileError`` (open, stat, write).
    public static func append(_ events: UnsafeMutableRawBufferPointer, to path: String) throws {
        try append(events, to: path, base: base(ofFile: path), widePath: widePath(of: path))
    }

    /// ``append(_:to:)`` into a file that will replace another (`path` a partial file): slots from `base` and escapes
    /// into `widePath`, those of the file it replaces.
    static func append(_ events: UnsafeMutableRawBufferPointer, to path: String, base: Int64, widePath: String) throws {
        let count = events.count / wideSize
        guard count > 0 else { return }
        var wideFD: Int32 = -1
        var firstWide = 0  // the side file's whole entries when it was opened: where the escapes' entries go
        defer { if wideFD >= 0 { close(wideFD) } }
        let wide = try encodeInPlace(events, count: count, base: base) {
            wideFD = open(widePath, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
            guard wideFD >= 0 else { throw POSIXFileError(path: widePath, operation: "open", code: errno) }
            var st = stat()
            guard fstat(wideFD, &st) == 0 else { throw POSIXFileError(path: widePath, operation: "stat", code: errno) }
            firstWide = Int(st.st_size) / wideSize
            return firstWide
        }
        if !wide.isEmpty {
            let at = firstWide * wideSize
            try wide.withUnsafeBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = pwrite(wideFD, raw.baseAddress! + done, raw.count - done, off_t(at + done))
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { throw POSIXFileError(path: widePath, operation: "write", code: errno) }
                    done += n
                }
            }
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw POSIXFileError(path: path, operation: "open", code: errno) }
        defer { close(fd) }
        try FileDescriptor(rawValue: fd).writeAll(
            UnsafeRawBufferPointer(rebasing: events[0..<(count * slotSize)]), path: path)
    }

    /// fsyncs the side file of the day file at `path`, when it has one.
    /// - Throws: ``POSIXFileError`` (open, fsync).
    static func syncSideFile(of path: String) throws(POSIXFileError) {
        let widePath = widePath(of: path)
        let fd = open(widePath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return }
            throw POSIXFileError(path: widePath, operation: "open", code: errno)
        }
        defer { close(fd) }
        try FileDescriptor(rawValue: fd).sync(path: widePath)
    }

    /// The whole entries of the side file at `path` (none when there is no such file).
    /// - Throws: ``POSIXFileError`` when it exists and cannot be read.
    static func readWide(_ path: String) throws -> [Interaction] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return [] }
            throw POSIXFileError(path: path, operation: "open", code: errno)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw POSIXFileError(path: path, operation: "stat", code: errno) }
        let count = Int(st.st_size) / wideSize
        var events = [Interaction](repeating: DayBuckets.zeroEvent, count: count)
        let size = count * wideSize
        var done = 0
        try events.withUnsafeMutableBytes { raw in
            while done < size {
                let n = pread(fd, raw.baseAddress! + done, size - done, off_t(done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    if n == 0 { return }  // cut while read: the whole entries read are the file's
                    throw POSIXFileError(path: path, operation: "read", code: errno)
                }
                done += n
            }
        }
        events.removeLast(count - done / wideSize)
        return events
    }
}
