import Foundation
import SystemPackage

/// A zip file's central directory, which names every member with its CRC-32 and sizes.
///
/// Read by hand from the end of the file (the end record, the zip64 locator and record, the directory's
/// entries) because libarchive does not expose a member's CRC-32, compressed size or data offset, which the
/// ISA-L fast path (``DeflateMemberReader``) needs to read and check a member by itself.
public enum ZipDirectory {
    /// The identity of the zip at `path` by its content at no cost: `zip directory N bytes, XXH64 H` over its
    /// central directory and end records (every member's name, CRC-32, sizes, offsets), read from the end of
    /// the file. A nested `KuaiRec.zip` is covered by its own CRC-32 and sizes in the outer directory.
    /// Nil when the file is not a zip (no end-of-central-directory record ending exactly at the file's end).
    public static func fingerprint(path: String) -> String? {
        guard let fd = try? FileDescriptor.open(path, .readOnly) else { return nil }
        defer { try? fd.close() }
        guard let size = try? fd.seek(offset: 0, from: .end) else { return nil }
        let zip = ZipBytes(fd: fd, start: 0, length: size)
        guard let directory = zip.directoryRange() else { return nil }
        let hasher = XXH64()
        var offset = directory.start
        while offset < size {
            guard let block = zip.read(Int(min(1 << 20, size - offset)), at: offset) else { return nil }
            hasher.update(block)
            offset += Int64(block.count)
        }
        return "zip directory \(hasher.count) bytes, XXH64 \(ContentDigest.hex(hasher.value))"
    }

    /// The members listed by the central directory of the zip occupying `length` bytes of `fd` from `start`
    /// (a whole file, or a zip stored inside another one); nil when those bytes are not a complete zip or its
    /// directory is damaged.
    public static func members(fd: FileDescriptor, start: Int64, length: Int64) -> [ZipMember]? {
        let zip = ZipBytes(fd: fd, start: start, length: length)
        guard let range = zip.directoryRange(), range.entries >= 0,
            let bytes = zip.read(Int(range.end - range.start), at: range.start)
        else { return nil }
        var members: [ZipMember] = []
        var at = 0
        for _ in 0..<range.entries {
            guard let member = parseEntry(bytes, at: &at) else { return nil }
            members.append(member)
        }
        return members
    }

    /// The offset of a member's data from the start of the zip: after its local header, name and extra field.
    /// Nil when no local header is there.
    public static func dataOffset(of member: ZipMember, fd: FileDescriptor, start: Int64, length: Int64) -> Int64? {
        let zip = ZipBytes(fd: fd, start: start, length: length)
        guard let header = zip.read(30, at: member.localHeaderOffset), le(header, 0, 4) == 0x0403_4b50 else { return nil }
        let offset = member.localHeaderOffset + 30 + Int64(le(header, 26, 2)) + Int64(le(header, 28, 2))
        return offset + member.compressedSize <= length ? offset : nil
    }

    /// Parses the central directory entry (`PK\1\2`) at `at`, moving `at` past it.
    private static func parseEntry(_ b: [UInt8], at: inout Int) -> ZipMember? {
        guard at + 46 <= b.count, le(b, at, 4) == 0x0201_4b50 else { return nil }
        let nameLength = Int(le(b, at + 28, 2)), extraLength = Int(le(b, at + 30, 2)), commentLength = Int(le(b, at + 32, 2))
        let nameStart = at + 46, extraStart = nameStart + nameLength, next = extraStart + extraLength + commentLength
        guard next <= b.count else { return nil }
        var member = ZipMember(
            path: String(decoding: b[nameStart..<extraStart], as: UTF8.self), method: Int(le(b, at + 10, 2)),
            flags: Int(le(b, at + 8, 2)), crc32: UInt32(le(b, at + 16, 4)), compressedSize: Int64(le(b, at + 20, 4)),
            uncompressedSize: Int64(le(b, at + 24, 4)), localHeaderOffset: Int64(le(b, at + 42, 4)))
        // Zip64: a field stored as 0xFFFFFFFF is in the extra field 0x0001, in the order uncompressed size,
        // compressed size, local header offset (only the ones that overflowed).
        var extra = extraStart
        while extra + 4 <= extraStart + extraLength {
            let id = le(b, extra, 2), size = Int(le(b, extra + 2, 2))
            if id == 1 {
                var field = extra + 4
                func take(_ value: inout Int64) {
                    guard value == 0xFFFF_FFFF, field + 8 <= extra + 4 + size else { return }
                    value = Int64(bitPattern: le(b, field, 8))
                    field += 8
                }
                take(&member.uncompressedSize)
                take(&member.compressedSize)
                take(&member.localHeaderOffset)
            }
            extra += 4 + size
        }
        at = next
        return member
    }
}

/// Reads little-endian `width` bytes of `b` at `at`.
private func le(_ b: [UInt8], _ at: Int, _ width: Int) -> UInt64 {
    (0..<width).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) }
}

/// `length` bytes of a file from `start`, holding a zip.
private struct ZipBytes {
    let fd: FileDescriptor
    let start: Int64
    let length: Int64

    /// `count` bytes at `offset` from the zip's start, nil when they are not all there.
    func read(_ count: Int, at offset: Int64) -> [UInt8]? {
        guard offset >= 0, count >= 0, offset + Int64(count) <= length else { return nil }
        var bytes = [UInt8](repeating: 0, count: count)
        let n = try? bytes.withUnsafeMutableBytes { try fd.read(fromAbsoluteOffset: start + offset, into: $0) }
        return n == count ? bytes : nil
    }

    /// Where the central directory starts and ends and how many entries it has; nil without an end record ending exactly at the zip's end (a stored inner zip has one
    /// further up, which is not this zip's).
    func directoryRange() -> (start: Int64, end: Int64, entries: Int)? {
        guard length >= 22 else { return nil }
        let tailLength = Int(min(length, 22 + 65_535))
        guard let tail = read(tailLength, at: length - Int64(tailLength)) else { return nil }
        var end = tailLength - 22
        while end >= 0 {
            if tail[end] == 0x50, tail[end + 1] == 0x4B, tail[end + 2] == 5, tail[end + 3] == 6,
                end + 22 + Int(le(tail, end + 20, 2)) == tailLength
            {
                break
            }
            end -= 1
        }
        guard end >= 0 else { return nil }
        var directoryStart = Int64(le(tail, end + 16, 4))
        var entries = Int(le(tail, end + 10, 2))
        let endRecordOffset = length - Int64(tailLength - end)
        var directoryEnd = endRecordOffset
        if directoryStart == 0xFFFF_FFFF || entries == 0xFFFF {
            // Zip64: the locator (20 bytes) before the end record gives the zip64 end record's offset.
            guard let locator = read(20, at: endRecordOffset - 20), le(locator, 0, 4) == 0x0706_4b50,
                let record = read(56, at: Int64(le(locator, 8, 8))), le(record, 0, 4) == 0x0606_4b50
            else { return nil }
            directoryStart = Int64(le(record, 48, 8))
            entries = Int(clamping: le(record, 32, 8))
            directoryEnd = Int64(le(locator, 8, 8))
        }
        guard directoryStart >= 0, directoryStart <= directoryEnd, directoryStart <= length - 22 else { return nil }
        return (directoryStart, directoryEnd, entries)
    }
}
