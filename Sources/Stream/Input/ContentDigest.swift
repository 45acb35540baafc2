/// XXH64 (seed 0) over a byte stream fed in blocks of any size: the same bytes give the same hash however
/// they are split. About 10 GB/s, so hashing the blocks the ingest already reads costs next to nothing.
///
/// The algorithm is xxHash's XXH64 (https://github.com/Cyan4973/xxHash, `doc/xxhash_spec.md`): four
/// accumulators over 32-byte stripes, a carry of fewer than 32 bytes kept between blocks.
public struct XXH64: Sendable {
    private static let p1: UInt64 = 0x9E37_79B1_85EB_CA87
    private static let p2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private static let p3: UInt64 = 0x1656_67B1_9E37_79F9
    private static let p4: UInt64 = 0x85EB_CA77_C2B2_AE63
    private static let p5: UInt64 = 0x27D4_EB2F_1656_67C5

    private var v1 = p1 &+ p2, v2 = p2, v3: UInt64 = 0, v4 = 0 &- p1
    /// Bytes fed so far.
    public private(set) var count: Int64 = 0
    /// The carry: the last `count % 32` bytes fed, not yet folded into a stripe.
    private var carry: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    public init() {}

    private static func round(_ acc: UInt64, _ lane: UInt64) -> UInt64 {
        ((acc &+ lane &* p2) <<< 31) &* p1
    }

    private static func merge(_ acc: UInt64, _ v: UInt64) -> UInt64 {
        (acc ^ round(0, v)) &* p1 &+ p4
    }

    private mutating func stripe(_ raw: UnsafeRawBufferPointer, at offset: Int) {
        v1 = XXH64.round(v1, raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self).littleEndian)
        v2 = XXH64.round(v2, raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self).littleEndian)
        v3 = XXH64.round(v3, raw.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self).littleEndian)
        v4 = XXH64.round(v4, raw.loadUnaligned(fromByteOffset: offset + 24, as: UInt64.self).littleEndian)
    }

    /// Feeds `bytes`.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        var used = Int(count % 32)
        count += Int64(bytes.count)
        var offset = 0
        if used > 0 {
            let take = min(32 - used, bytes.count)
            withUnsafeMutableBytes(of: &carry) { c in
                c.baseAddress!.advanced(by: used).copyMemory(from: bytes.baseAddress!, byteCount: take)
            }
            used += take
            offset = take
            guard used == 32 else { return }
            let full = carry
            withUnsafeBytes(of: full) { stripe($0, at: 0) }
        }
        while offset + 32 <= bytes.count {
            stripe(bytes, at: offset)
            offset += 32
        }
        if offset < bytes.count {
            withUnsafeMutableBytes(of: &carry) { c in
                c.baseAddress!.copyMemory(from: bytes.baseAddress!.advanced(by: offset), byteCount: bytes.count - offset)
            }
        }
    }

    /// Feeds `bytes`.
    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// The hash of every byte fed so far (feeding may go on).
    public var value: UInt64 {
        var h: UInt64
        if count >= 32 {
            h = (v1 <<< 1) &+ (v2 <<< 7) &+ (v3 <<< 12) &+ (v4 <<< 18)
            h = XXH64.merge(h, v1)
            h = XXH64.merge(h, v2)
            h = XXH64.merge(h, v3)
            h = XXH64.merge(h, v4)
        } else {
            h = XXH64.p5
        }
        h = h &+ UInt64(count)
        let rest = Int(count % 32)
        withUnsafeBytes(of: carry) { c in
            var i = 0
            while i + 8 <= rest {
                h ^= XXH64.round(0, c.loadUnaligned(fromByteOffset: i, as: UInt64.self).littleEndian)
                h = (h <<< 27) &* XXH64.p1 &+ XXH64.p4
                i += 8
            }
            if i + 4 <= rest {
                h ^= UInt64(c.loadUnaligned(fromByteOffset: i, as: UInt32.self).littleEndian) &* XXH64.p1
                h = (h <<< 23) &* XXH64.p2 &+ XXH64.p3
                i += 4
            }
            while i < rest {
                h ^= UInt64(c[i]) &* XXH64.p5
                h = (h <<< 11) &* XXH64.p1
                i += 1
            }
        }
        h ^= h >> 33
        h = h &* XXH64.p2
        h ^= h >> 29
        h = h &* XXH64.p3
        h ^= h >> 32
        return h
    }
}

infix operator <<< : BitwiseShiftPrecedence

extension UInt64 {
    /// Rotates left by `n` bits.
    @inline(__always) fileprivate static func <<< (x: UInt64, n: UInt64) -> UInt64 { (x << n) | (x >> (64 - n)) }
}

/// What an ingest read of the interaction CSV: how many (decompressed) bytes, their XXH64, and whether the
/// read went to the CSV's end (not when `--rows` stopped it). Recorded with the ingest; a later run reuses
/// the ingest of a bare file (CSV, gzip, ...) only when the same bytes read again give the same hash.
public struct ContentDigest: Sendable, Equatable, Codable, CustomStringConvertible {
    /// CSV bytes read.
    public var bytes: Int64
    /// Their XXH64, as 16 hexadecimal digits.
    public var xxh64: String
    /// True when the read reached the end of the CSV (no more bytes followed).
    public var readToEnd: Bool

    public init(bytes: Int64, xxh64: UInt64, readToEnd: Bool) {
        self.bytes = bytes
        self.xxh64 = ContentDigest.hex(xxh64)
        self.readToEnd = readToEnd
    }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// `CSV bytes N, xxh64 H` (`… of the first N` when the read stopped before the end).
    public var description: String {
        "\(readToEnd ? "" : "the first ")\(bytes) CSV bytes with XXH64 \(xxh64)"
    }

    /// Reads `source` again as far as this digest's read went: the digest of those bytes (and whether the CSV
    /// ends there, when this one read to the end). Equal to `self` when the content is the same.
    /// - Throws: what reading `source` throws.
    public func reread(_ source: MatrixSource) throws -> ContentDigest {
        var hasher = XXH64()
        var pending: UnsafeRawBufferPointer?
        while hasher.count < bytes, let block = try source.nextBlock() {
            let take = Int(min(Int64(block.count), bytes - hasher.count))
            hasher.update(UnsafeRawBufferPointer(rebasing: block[0..<take]))
            if take < block.count { pending = UnsafeRawBufferPointer(rebasing: block[take...]) }
        }
        var atEnd = false
        if readToEnd && hasher.count == bytes {
            // Only empty blocks may follow.
            atEnd = pending == nil
            while atEnd, let block = try source.nextBlock() { atEnd = block.isEmpty }
        }
        return ContentDigest(bytes: hasher.count, xxh64: hasher.value, readToEnd: atEnd)
    }
}
