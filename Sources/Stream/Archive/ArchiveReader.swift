import Foundation
internal import CArchive

/// One member of an archive as its header describes it.
public struct ArchiveEntryInfo: Sendable, Equatable {
    /// The member's path inside the archive (UTF-8).
    public var path: String
    /// The uncompressed size, when the header gives it (`archive_entry_size_is_set`).
    public var size: Int64?
    /// True for directory entries.
    public var isDirectory: Bool
}

/// Reads an archive (zip, tar, ...), a compressed file (gzip, xz, zstd, bzip2, ...) or a plain file as a
/// stream of members and data blocks, through libarchive. Owns its `struct archive *`.
///
/// A reader can also read the data of another reader's *current* member as its archive
/// (``init(nestedIn:name:)``): that is how `KuaiRec.zip` is read from inside `18164998.zip`
/// without extracting it. Such a nested reader has no seek callback, so libarchive reads it in
/// streaming mode (zip members are found through their local headers, not the central directory).
///
/// Not thread-safe; use one reader from one thread at a time.
public final class ArchiveReader {
    private let handle: OpaquePointer
    /// Keeps the outer reader alive while a nested reader pulls bytes from it.
    private let parent: ArchiveReader?
    /// Keeps a file range alive while this reader reads from it.
    private(set) var range: FileRange?
    /// The file this reader reads, when it reads a whole file.
    let filePath: String?
    var handleForExtensions: OpaquePointer { handle }
    private var reachedEndOfArchive = false
    private var currentMember: String?
    /// What the errors call this archive.
    public let name: String

    /// Opens the file at `path`. Recognises every archive format and compression filter libarchive
    /// supports; anything else is read as a single raw member (`data`).
    ///
    /// The corresponding C functions are `archive_read_new` and `archive_read_open_filename`.
    public init(path: String) throws {
        guard let a = archive_read_new() else {
            throw ArchiveReadError(archive: path, message: "out of memory creating an archive reader", status: 0)
        }
        ArchiveReader.enableFormats(a)
        let status = archive_read_open_filename(a, path, 1 << 20)
        if status != ARCHIVE_OK && status != ARCHIVE_WARN {
            let error = ArchiveReader.error(
                a, archive: path, member: nil, message: "cannot open the file", status: status)
            archive_read_free(a)
            throw error
        }
        handle = a
        parent = nil
        name = path
        filePath = path
    }

    /// Opens `length` bytes of the file at `path` from `start` as an archive, seekable.
    ///
    /// The corresponding C functions are `archive_read_set_seek_callback` and `archive_read_open1`.
    init(path: String, start: Int64, length: Int64, name displayName: String) throws {
        guard let a = archive_read_new() else {
            throw ArchiveReadError(archive: displayName, message: "out of memory creating an archive reader", status: 0)
        }
        ArchiveReader.enableFormats(a)
        let range: FileRange
        do {
            range = try FileRange(path: path, start: start, length: length)
        } catch {
            archive_read_free(a)
            throw error
        }
        let status = range.attach(to: a)
        if status != ARCHIVE_OK && status != ARCHIVE_WARN {
            let error = ArchiveReader.error(
                a, archive: displayName, member: nil, message: "cannot read the member as an archive", status: status)
            archive_read_free(a)
            throw error
        }
        handle = a
        parent = nil
        self.range = range
        name = displayName
        filePath = nil
    }

    /// Opens the data of `outer`'s current member as an archive of its own, streaming.
    ///
    /// The corresponding C function is `archive_read_open` (with a read callback that calls
    /// `archive_read_data_block` on the outer reader).
    public init(nestedIn outer: ArchiveReader, name memberName: String) throws {
        guard let a = archive_read_new() else {
            throw ArchiveReadError(archive: outer.name, message: "out of memory creating an archive reader", status: 0)
        }
        ArchiveReader.enableFormats(a)
        let displayName = "\(outer.name) ▸ \(memberName)"
        // Unretained: the nested reader keeps `outer` alive (stored below) and frees its handle before it lets
        // `outer` go, so the callback never sees a freed reader.
        let context = Unmanaged.passUnretained(outer).toOpaque()
        // libarchive calls this whenever it needs more bytes; the block stays valid until the next call,
        // which is what archive_read_data_block guarantees for the outer reader's block too.
        let status = archive_read_open(
            a, context, nil,
            { (_, clientData, buffer) -> la_ssize_t in
                let outer = Unmanaged<ArchiveReader>.fromOpaque(clientData!).takeUnretainedValue()
                do {
                    guard let block = try outer.readBlock() else { return 0 }
                    buffer?.pointee = block.baseAddress.map { UnsafeRawPointer($0) }
                    return la_ssize_t(block.count)
                } catch {
                    outer.pendingNestedError = error
                    return -1
                }
            }, nil)
        if status != ARCHIVE_OK && status != ARCHIVE_WARN {
            let error = outer.pendingNestedError ?? ArchiveReader.error(
                a, archive: displayName, member: nil, message: "cannot read the member as an archive", status: status)
            archive_read_free(a)
            throw error
        }
        handle = a
        parent = outer
        name = displayName
        filePath = nil
    }

    /// An error raised by a nested reader's pull from this reader, kept to report the real cause.
    fileprivate var pendingNestedError: Error?

    deinit {
        // archive_read_free also closes the archive.
        archive_read_free(handle)
    }

    private static func enableFormats(_ a: OpaquePointer) {
        archive_read_support_filter_all(a)
        // Not archive_read_support_format_all: its mtree reader bids on any text whose lines look like
        // paths, so a small CSV would be read as an mtree listing of files named after its rows.
        archive_read_support_format_zip(a)
        archive_read_support_format_tar(a)
        archive_read_support_format_7zip(a)
        archive_read_support_format_cpio(a)
        archive_read_support_format_rar(a)
        archive_read_support_format_rar5(a)
        archive_read_support_format_iso9660(a)
        // "raw" bids lowest, so real archive formats win; a plain or compressed CSV becomes one member.
        archive_read_support_format_raw(a)
    }

    private static func error(
        _ a: OpaquePointer, archive: String, member: String?, message: String, status: Int32
    ) -> ArchiveReadError {
        let text = archive_error_string(a).map { String(cString: $0).trimmingCharacters(in: .whitespacesAndNewlines) }
        return ArchiveReadError(
            archive: archive, member: member, message: message, libraryMessage: text, status: status)
    }

    /// Moves to the next member, or returns nil at the end of the archive (and on every call after it).
    ///
    /// The corresponding C function is `archive_read_next_header`.
    public func nextEntry() throws -> ArchiveEntryInfo? {
        if reachedEndOfArchive { return nil }
        var entry: OpaquePointer?
        let status = archive_read_next_header(handle, &entry)
        if status == ARCHIVE_EOF {
            // libarchive must not be asked for another header after EOF.
            reachedEndOfArchive = true
            return nil
        }
        if status != ARCHIVE_OK && status != ARCHIVE_WARN {
            throw nestedOr(
                ArchiveReader.error(
                    handle, archive: name, member: currentMember,
                    message: "the archive is damaged or truncated after this member", status: status))
        }
        guard let entry else { return nil }
        let path: String
        if let utf8 = archive_entry_pathname_utf8(entry) {
            path = String(cString: utf8)
        } else if let raw = archive_entry_pathname(entry) {
            path = String(decoding: UnsafeRawBufferPointer(start: raw, count: strlen(raw)), as: UTF8.self)
        } else {
            path = "data"
        }
        currentMember = path
        let size: Int64? = archive_entry_size_is_set(entry) != 0 ? archive_entry_size(entry) : nil
        // AE_IFMT and AE_IFDIR are cast macros that Swift does not import: 0o170000 and 0o040000.
        let isDirectory = (UInt32(archive_entry_filetype(entry)) & 0o170000) == 0o040000
        return ArchiveEntryInfo(path: path, size: size, isDirectory: isDirectory)
    }

    /// Returns the next block of the current member's data, or nil at the member's end.
    ///
    /// - Warning: The block is valid only until the next call on this reader; do not keep the pointer.
    ///
    /// The corresponding C function is `archive_read_data_block`.
    public func readBlock() throws -> UnsafeRawBufferPointer? {
        var buffer: UnsafeRawPointer?
        var size = 0
        var offset: la_int64_t = 0
        let status = archive_read_data_block(handle, &buffer, &size, &offset)
        if status == ARCHIVE_EOF { return nil }
        if status == ARCHIVE_WARN,
            let text = archive_error_string(handle).map({ String(cString: $0).trimmingCharacters(in: .whitespacesAndNewlines) }),
            ArchiveReader.integrityWarnings.contains(where: { text.localizedCaseInsensitiveContains($0) })
        {
            // libarchive reports a zip member whose data fails its checksum or has the wrong length as a
            // warning, at the member's end; the data handed out before it is wrong, so it is an error here.
            throw ArchiveReadError(
                archive: name, member: currentMember,
                message: ArchiveReadError.failsIntegrityCheck,
                libraryMessage: text, status: status)
        }
        if status != ARCHIVE_OK && status != ARCHIVE_WARN {
            throw nestedOr(
                ArchiveReader.error(
                    handle, archive: name, member: currentMember,
                    message: ArchiveReadError.corruptData, status: status))
        }
        return UnsafeRawBufferPointer(start: buffer, count: size)
    }

    /// Words of libarchive's data-read warnings that mean the data is wrong (zip: "ZIP bad CRC",
    /// "ZIP uncompressed data is wrong size", "ZIP compressed data is wrong size").
    static let integrityWarnings = ["crc", "wrong size", "checksum", "truncated", "corrupt"]

    private func nestedOr(_ error: ArchiveReadError) -> Error {
        if let parent, let pending = parent.pendingNestedError {
            parent.pendingNestedError = nil
            return pending
        }
        return error
    }

    /// True when libarchive read the input as a single raw stream (not an archive format).
    public var isRawFormat: Bool { archive_format(handle) == ARCHIVE_FORMAT_RAW }

    /// True when the input goes through a decompression filter (gzip, xz, zstd, bzip2, ...).
    ///
    /// The corresponding C function is `archive_filter_code` (index 0: the outermost filter).
    public var isCompressed: Bool { archive_filter_code(handle, 0) != ARCHIVE_FILTER_NONE }

    /// Compressed bytes consumed from the underlying file so far (for progress).
    ///
    /// The corresponding C function is `archive_filter_bytes` (index -1: the raw input).
    public var bytesConsumed: Int64 {
        parent?.bytesConsumed ?? archive_filter_bytes(handle, -1)
    }
}
