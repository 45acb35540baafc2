import Foundation
import SystemPackage

/// A zip file's central directory, which names every member with its CRC-32 and sizes.
public enum ZipDirectory {
    /// The identity of the zip at `path` by its content at no cost: `zip directory N bytes, XXH64 H` over its
    /// central directory and end records (every member's name, CRC-32, sizes, offsets), read from the end of
    /// the file. A nested `KuaiRec.zip` is covered by its own CRC-32 and sizes in the outer directory.
    /// Nil when the file is not a zip (no end-of-central-directory record ending exactly at the file's end).
    public static func fingerprint(path: String) -> String? {
        guard let fd = try? FileDescriptor.open(path, .readOnly) else { return nil }
        defer { try? fd.close() }
        guard let size = try? fd.seek(offset: 0, from: .end), size >= 22 else { return nil }
        func read(_ count: Int, at offset: Int64) -> [UInt8]? {
            guard offset >= 0, count >= 0, offset + Int64(count) <= size else { return nil }
            var bytes = [UInt8](repeating: 0, count: count)
            let n = try? bytes.withUnsafeMutableBytes { try fd.read(fromAbsoluteOffset: offset, into: $0) }
            return n == count ? bytes : nil
        }
        let tailLength = Int(min(size, 22 + 65_535))
        guard let tail = read(tailLength, at: size - Int64(tailLength)) else { return nil }
        func le(_ b: [UInt8], _ at: Int, _ width: Int) -> UInt64 {
            (0..<width).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) }
        }
        // The end record must end exactly at the end of the file (a stored inner zip has one further up).
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
        var start = Int64(le(tail, end + 16, 4))
        if start == 0xFFFF_FFFF {
            // Zip64: the locator (20 bytes) before the end record gives the zip64 end record's offset.
            let endOffset = size - Int64(tailLength - end)
            guard let locator = read(20, at: endOffset - 20), le(locator, 0, 4) == 0x0706_4b50,
                let record = read(56, at: Int64(le(locator, 8, 8))), le(record, 0, 4) == 0x0606_4b50
            else { return nil }
            start = Int64(le(record, 48, 8))
        }
        guard start <= size - 22 else { return nil }
        let hasher = XXH64()
        var offset = start
        while offset < size {
            guard let block = read(Int(min(1 << 20, size - offset)), at: offset) else { return nil }
            hasher.update(block)
            offset += Int64(block.count)
        }
        return "zip directory \(hasher.count) bytes, XXH64 \(ContentDigest.hex(hasher.value))"
    }
}
