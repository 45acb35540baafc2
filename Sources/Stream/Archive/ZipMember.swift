/// One member of a zip as its central directory describes it.
public struct ZipMember: Sendable, Equatable {
    /// The member's path inside the zip, as stored (UTF-8 for the archives replay reads).
    public var path: String
    /// The compression method: 0 stored, 8 deflated.
    public var method: Int
    /// The general-purpose flags (bit 0: encrypted; bit 3: sizes in a data descriptor after the data).
    public var flags: Int
    /// The CRC-32 of the uncompressed data.
    public var crc32: UInt32
    /// Bytes of the member's data as stored (compressed).
    public var compressedSize: Int64
    /// Bytes of the member's data once inflated.
    public var uncompressedSize: Int64
    /// Where the member's local header (`PK\3\4`) starts, from the start of the zip.
    public var localHeaderOffset: Int64

    /// True when the member is deflated and not encrypted.
    public var isPlainDeflate: Bool { method == 8 && flags & 1 == 0 }
}
