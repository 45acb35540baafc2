internal import CArchive
import Foundation

/// An error reported by libarchive while writing an archive.
///
/// `code` is libarchive's status (`ARCHIVE_WARN` = -20, `ARCHIVE_FAILED` = -25,
/// `ARCHIVE_FATAL` = -30) or -1 for errors detected by ``ArchiveWriter`` itself;
/// `errno` is `archive_errno` at the time of the failure; `message` is a copy of
/// `archive_error_string`; `path` names the archive file and, when an entry was
/// being written, the entry (`archive.zip: KuaiRec 2.0/data/big_matrix.csv`).
public struct ArchiveWriteError: Error, CustomStringConvertible, Sendable, Equatable {
    public var code: Int
    public var errno: Int
    public var message: String
    public var path: String

    public init(code: Int, errno: Int = 0, message: String, path: String) {
        self.code = code
        self.errno = errno
        self.message = message
        self.path = path
    }

    public var description: String {
        "archive write error \(code) (errno \(errno)) at \(path): \(message)"
    }
}

/// Writes a zip archive through libarchive (`archive_write_new` +
/// `archive_write_set_format_zip`): the fixtures' writer, with which ``KuaiRecGenerator`` and the tests
/// build the archives that replay reads.
///
/// Entries are written in call order. Every entry gets the same fixed metadata
/// (``modificationTime``, uid/gid 0, no user/group names, mode 0644 for files and
/// 0755 for directories) so that the same calls give byte-identical archives.
///
/// libarchive's zip writer never seeks back: every regular file gets general-purpose
/// flag bit 3 and a data descriptor after its data (CRC-32 and sizes). When the size is
/// given to ``addFile(path:size:compression:)`` the local header also carries the sizes
/// and the descriptor is 16 bytes; when it is `nil` the entry is written with a Zip64
/// extra field (sizes 0 in the local header) and a 24-byte Zip64 data descriptor.
/// Directory entries have no data and no descriptor.
///
/// Usage: `addFile(path:size:)`, any number of `write(_:)`, `finishEntry()`; or the
/// one-call forms `addFile(path:contents:)` / `addFile(path:contentsOf:)`; then `close()`.
/// Not thread-safe.
public final class ArchiveWriter {
    /// How a regular file's data is stored.
    public enum Compression: Sendable, Equatable {
        /// Method 0 (no compression).
        case store
        /// Method 8 (deflate) at the writer's ``compressionLevel``.
        case deflate
    }

    /// The path of the archive file being written.
    public let path: String
    /// The deflate level (1...9) used for `.deflate` entries.
    public let compressionLevel: Int
    /// The modification time (seconds since the epoch, UTC) written for every entry.
    /// Default 2022-01-10 00:00:00 UTC.
    public var modificationTime: Int = 1_641_772_800

    private var archive: OpaquePointer?
    private var entryPath: String?
    private var entryBytesWritten: Int64 = 0
    private var currentCompression: Compression?

    /// Creates the zip file at `path` (truncating it) and opens it for writing.
    ///
    /// The corresponding C functions are `archive_write_new`,
    /// `archive_write_set_format_zip`, `archive_write_set_format_option`
    /// ("compression-level"), `archive_write_set_bytes_in_last_block` and
    /// `archive_write_open_filename`.
    ///
    /// - Parameter compressionLevel: deflate level 1...9 (default 6, zlib's default).
    public init(path: String, compressionLevel: Int = 6) throws {
        guard (1...9).contains(compressionLevel) else {
            throw ArchiveWriteError(code: -1, message: "compression level \(compressionLevel) not in 1...9", path: path)
        }
        self.path = path
        self.compressionLevel = compressionLevel
        guard let a = archive_write_new() else {
            throw ArchiveWriteError(code: -1, message: "archive_write_new failed", path: path)
        }
        archive = a
        do {
            try check(archive_write_set_format_zip(a))
            // "compression-level" N (1-9) also selects deflate; 0 would select store.
            try check(archive_write_set_format_option(a, "zip", "compression-level", String(compressionLevel)))
            // No padding of the last block with zeros (zip is not a tape format).
            try check(archive_write_set_bytes_in_last_block(a, 1))
            try check(archive_write_open_filename(a, path))
        } catch {
            archive_write_free(a)
            archive = nil
            throw error
        }
    }

    // An archive still open here was abandoned (an error on the way): it is released without writing its
    // trailer (archive_write_fail makes archive_write_free skip the close that would write it).
    deinit {
        if let a = archive {
            archive_write_fail(a)
            archive_write_free(a)
        }
    }

    /// Adds a directory entry. `path` should end with "/" (one is appended if missing).
    ///
    /// The corresponding C function is `archive_write_header`.
    public func addDirectory(_ path: String) throws {
        try finishOpenEntryIfNeeded()
        let name = path.hasSuffix("/") ? path : path + "/"
        try writeHeader(path: name, isDirectory: true, size: 0)
        entryPath = name
        try finishEntry()
    }

    /// Starts a regular-file entry; follow with ``write(_:)-(UnsafeRawBufferPointer)`` calls
    /// and ``finishEntry()``.
    ///
    /// - Parameters:
    ///   - size: the exact number of bytes that will be written, or `nil` if unknown
    ///     (then libarchive writes Zip64 extras and a 24-byte Zip64 data descriptor).
    ///     With a known size libarchive silently drops bytes beyond it, so this
    ///     writer checks the count in ``finishEntry()``.
    ///   - compression: `.deflate` (default) or `.store`.
    ///
    /// The corresponding C functions are `archive_write_zip_set_compression_deflate` /
    /// `archive_write_zip_set_compression_store` and `archive_write_header`.
    public func addFile(path: String, size: Int?, compression: Compression = .deflate) throws {
        try finishOpenEntryIfNeeded()
        let a = try handle()
        if currentCompression != compression {
            switch compression {
            case .store: try check(archive_write_zip_set_compression_store(a))
            case .deflate:
                // Re-selecting deflate keeps the level set by "compression-level".
                try check(archive_write_zip_set_compression_deflate(a))
            }
            currentCompression = compression
        }
        try writeHeader(path: path, isDirectory: false, size: size)
        entryPath = path
        entryBytesWritten = 0
        expectedSize = size.map(Int64.init)
    }

    private var expectedSize: Int64?

    /// Appends bytes to the current entry.
    ///
    /// The corresponding C function is `archive_write_data`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard entryPath != nil else {
            throw ArchiveWriteError(code: -1, message: "write without an open entry", path: path)
        }
        let a = try handle()
        var offset = 0
        while offset < bytes.count {
            let n = archive_write_data(a, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                throw error(code: Int(n))
            }
            if n == 0 {
                // libarchive returns 0 when the entry's declared size is exhausted.
                throw ArchiveWriteError(code: -1, message: "more data than the declared entry size", path: describePath())
            }
            offset += n
        }
        entryBytesWritten += Int64(bytes.count)
    }

    /// Appends bytes to the current entry.
    ///
    /// The corresponding C function is `archive_write_data`.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Ends the current entry (writes the data descriptor of a regular file).
    ///
    /// The corresponding C function is `archive_write_finish_entry`.
    public func finishEntry() throws {
        guard entryPath != nil else { return }
        defer { entryPath = nil; expectedSize = nil }
        if let expected = expectedSize, expected != entryBytesWritten {
            throw ArchiveWriteError(code: -1,
                                    message: "entry declared \(expected) bytes but \(entryBytesWritten) were written",
                                    path: describePath())
        }
        try check(archive_write_finish_entry(try handle()))
    }

    /// Adds a regular file with the given contents (size known up front).
    public func addFile(path: String, contents: [UInt8], compression: Compression = .deflate) throws {
        try addFile(path: path, size: contents.count, compression: compression)
        try write(contents)
        try finishEntry()
    }

    /// Adds a regular file whose data is copied from `fileURL` in 1 MiB blocks; the size is
    /// taken from the file first, so the local header carries it.
    public func addFile(path: String, contentsOf fileURL: URL, compression: Compression = .deflate) throws {
        guard let fp = fopen(fileURL.path, "rb") else {
            throw ArchiveWriteError(code: -1, errno: Int(errno), message: "cannot open \(fileURL.path)", path: self.path)
        }
        defer { fclose(fp) }
        var st = stat()
        guard fstat(fileno(fp), &st) == 0 else {
            throw ArchiveWriteError(code: -1, errno: Int(errno), message: "cannot stat \(fileURL.path)", path: self.path)
        }
        try addFile(path: path, size: Int(st.st_size), compression: compression)
        let blockSize = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: blockSize, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = fread(buffer, 1, blockSize, fp)
            if n > 0 { try write(UnsafeRawBufferPointer(start: buffer, count: n)) }
            if n < blockSize {
                if ferror(fp) != 0 {
                    throw ArchiveWriteError(code: -1, errno: Int(errno), message: "read error on \(fileURL.path)", path: self.path)
                }
                break
            }
        }
        try finishEntry()
    }

    /// Finishes any open entry, writes the central directory and closes the file.
    /// Further calls throw; calling `close()` twice is harmless.
    ///
    /// The corresponding C functions are `archive_write_close` and `archive_write_free`.
    public func close() throws {
        guard let a = archive else { return }
        try finishOpenEntryIfNeeded()
        let status = archive_write_close(a)
        let err = status == ARCHIVE_OK ? nil : error(code: Int(status))
        archive_write_free(a)
        archive = nil
        if let err { throw err }
    }

    // MARK: - Private

    private func finishOpenEntryIfNeeded() throws {
        if entryPath != nil { try finishEntry() }
    }

    private func handle() throws -> OpaquePointer {
        guard let a = archive else {
            throw ArchiveWriteError(code: -1, message: "archive already closed", path: path)
        }
        return a
    }

    /// The corresponding C functions are `archive_entry_new`, `archive_entry_set_*`,
    /// `archive_write_header` and `archive_entry_free`.
    private func writeHeader(path entryName: String, isDirectory: Bool, size: Int?) throws {
        let a = try handle()
        guard let entry = archive_entry_new() else {
            throw ArchiveWriteError(code: -1, message: "archive_entry_new failed", path: path)
        }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname(entry, entryName)
        // AE_IFDIR / AE_IFREG are cast macros that Swift does not import.
        archive_entry_set_filetype(entry, isDirectory ? 0o040000 : 0o100000)
        archive_entry_set_perm(entry, isDirectory ? 0o755 : 0o644)
        archive_entry_set_uid(entry, 0)
        archive_entry_set_gid(entry, 0)
        archive_entry_set_mtime(entry, time_t(modificationTime), 0)
        if isDirectory {
            archive_entry_set_size(entry, 0)
        } else if let size {
            archive_entry_set_size(entry, la_int64_t(size))
        } else {
            archive_entry_unset_size(entry)
        }
        entryPath = entryName
        defer { entryPath = nil }
        try check(archive_write_header(a, entry))
    }

    private func describePath() -> String {
        if let entryPath { return "\(path): \(entryPath)" }
        return path
    }

    private func error(code: Int) -> ArchiveWriteError {
        guard let a = archive else {
            return ArchiveWriteError(code: code, message: "archive closed", path: describePath())
        }
        let message = archive_error_string(a).map { String(cString: $0) } ?? "unknown libarchive error"
        return ArchiveWriteError(code: code, errno: Int(archive_errno(a)), message: message, path: describePath())
    }

    /// Throws unless `status` is `ARCHIVE_OK`. (A warning is treated as an error: the
    /// generator must not silently produce a different archive.)
    private func check(_ status: Int32) throws {
        if status != ARCHIVE_OK {
            throw error(code: Int(status))
        }
    }
}
