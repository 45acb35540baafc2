internal import CXXHash
/// XXH64 (seed 0) over a byte stream fed in blocks of any size: the same bytes give the same hash however
/// they are split. About 10 GB/s, so hashing the blocks the ingest already reads costs next to nothing.
///
/// libxxhash's streaming state (`XXH64_createState`, `XXH64_update`, `XXH64_digest`), owned by this object:
/// created with it, freed when it goes (freeing memory is all its `deinit` does).
public final class XXH64 {
    private let state: OpaquePointer
    /// Bytes fed so far.
    public private(set) var count: Int64 = 0

    public init() {
        guard let state = XXH64_createState() else { fatalError("XXH64_createState: out of memory") }
        self.state = state
        XXH64_reset(state, 0)
    }

    deinit { XXH64_freeState(state) }

    /// Feeds the next bytes.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        XXH64_update(state, base, bytes.count)
        count += Int64(bytes.count)
    }

    /// Feeds the next bytes.
    public func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// The hash of every byte fed so far (more may follow).
    public var value: UInt64 { XXH64_digest(state) }
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
        let hasher = XXH64()
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
