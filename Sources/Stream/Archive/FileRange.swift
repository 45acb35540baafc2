import Foundation
import SystemPackage
internal import CArchive

/// A byte range of a file, readable and seekable through libarchive's callbacks.
///
/// Used for an archive stored uncompressed inside another one (KuaiRec.zip inside 18164998.zip):
/// given a seek callback, libarchive reads the inner zip's central directory and jumps straight to
/// the wanted member, instead of inflating every member before it as streaming mode must.
final class FileRange {
    let fd: Int32
    /// The file the range is in.
    let path: String
    let start: Int64
    let length: Int64
    var position: Int64 = 0
    /// The bytes of the last read, handed to libarchive; allocated once here, freed in deinit (after the
    /// owning reader freed the handle that points into it).
    var buffer: UnsafeMutableRawPointer
    let bufferSize = 1 << 20
    var failure: Int32 = 0

    init(path: String, start: Int64, length: Int64) throws {
        let opened = open(path, O_RDONLY)
        guard opened >= 0 else { throw POSIXFileError(path: path, operation: "open", code: errno) }
        fd = opened
        self.path = path
        self.start = start
        self.length = length
        buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 16)
    }

    deinit {
        buffer.deallocate()
        close(fd)
    }

    /// Reads the next bytes of the range into `buffer` (`pread`, retried on `EINTR`); returns how many,
    /// 0 at the range's end, or -1 with `failure` set to the `errno`.
    func read() -> Int {
        let want = Int(min(Int64(bufferSize), length - position))
        guard want > 0 else { return 0 }
        do {
            let n = try FileDescriptor(rawValue: fd).read(
                fromAbsoluteOffset: start + position, into: UnsafeMutableRawBufferPointer(start: buffer, count: want))
            position += Int64(n)
            return n
        } catch {
            failure = (error as? Errno)?.rawValue ?? EIO
            return -1
        }
    }

    func seek(_ offset: Int64, whence: Int32) -> Int64 {
        var target: Int64
        switch whence {
        case SEEK_SET: target = offset
        case SEEK_CUR: target = position + offset
        case SEEK_END: target = length + offset
        default: return Int64(ARCHIVE_FATAL)
        }
        target = max(0, min(length, target))
        position = target
        return target
    }

    /// Opens `handle` over this range (read, seek and skip callbacks).
    func attach(to handle: OpaquePointer) -> Int32 {
        archive_read_set_read_callback(handle) { _, context, out in
            let range = Unmanaged<FileRange>.fromOpaque(context!).takeUnretainedValue()
            let n = range.read()
            out?.pointee = UnsafeRawPointer(range.buffer)
            return la_ssize_t(n)
        }
        archive_read_set_seek_callback(handle) { _, context, offset, whence in
            Unmanaged<FileRange>.fromOpaque(context!).takeUnretainedValue().seek(offset, whence: whence)
        }
        archive_read_set_skip_callback(handle) { _, context, request in
            let range = Unmanaged<FileRange>.fromOpaque(context!).takeUnretainedValue()
            let before = range.position
            return range.seek(request, whence: SEEK_CUR) - before
        }
        // Unretained: the ArchiveReader that owns `handle` also owns this range and frees the handle first (its
        // deinit), so libarchive never calls back after the range is gone.
        archive_read_set_callback_data(handle, Unmanaged.passUnretained(self).toOpaque())
        return archive_read_open1(handle)
    }
}

extension ArchiveReader {
    /// Where the current member's bytes lie in the archive file, when the member is stored
    /// (not compressed) in a zip read from a file; nil otherwise.
    ///
    /// Reads the member's local header (`PK\3\4`) at `archive_read_header_position`: method 0
    /// (stored), no encryption; the data starts after the header's name and extra fields.
    func storedMemberRange(size: Int64?) -> (start: Int64, length: Int64)? {
        guard let path = filePath, let size, size > 0 else { return nil }
        let headerPosition = archive_read_header_position(handleForExtensions)
        guard headerPosition >= 0 else { return nil }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 30)
        guard pread(fd, &header, 30, off_t(headerPosition)) == 30 else { return nil }
        func u16(_ at: Int) -> Int { Int(header[at]) | Int(header[at + 1]) << 8 }
        guard header[0] == 0x50, header[1] == 0x4B, header[2] == 0x03, header[3] == 0x04 else { return nil }
        let flags = u16(6), method = u16(8)
        guard method == 0, flags & 1 == 0 else { return nil }
        let start = headerPosition + 30 + Int64(u16(26)) + Int64(u16(28))
        var st = stat()
        guard fstat(fd, &st) == 0, start + size <= Int64(st.st_size) else { return nil }
        return (start, size)
    }
}

extension ArchiveReader {
    /// True when libarchive reads this input as a zip.
    var isZipFormat: Bool { archive_format(handleForExtensions) & ARCHIVE_FORMAT_BASE_MASK == ARCHIVE_FORMAT_ZIP }

    /// Throws when this reader is a zip read from a file (or a stored range of one) that has no
    /// end-of-central-directory record in its last 64 KiB: the zip was cut short. libarchive would
    /// otherwise fall back to reading the local headers and succeed on a partial download.
    ///
    /// A reader nested in a compressed member cannot be checked this way (its data checksums still are).
    func checkZipIsComplete() throws {
        guard isZipFormat else { return }
        let fd: Int32, start: Int64, length: Int64
        var ownedFD: Int32 = -1
        defer { if ownedFD >= 0 { close(ownedFD) } }
        if let range {
            (fd, start, length) = (range.fd, range.start, range.length)
        } else if let filePath {
            ownedFD = open(filePath, O_RDONLY)
            guard ownedFD >= 0 else { throw POSIXFileError(path: filePath, operation: "open", code: errno) }
            var st = stat()
            guard fstat(ownedFD, &st) == 0 else { throw POSIXFileError(path: filePath, operation: "fstat", code: errno) }
            (fd, start, length) = (ownedFD, 0, Int64(st.st_size))
        } else {
            return
        }
        // The record is 22 bytes plus a comment of up to 65,535 bytes.
        let tail = Int(min(length, 22 + 65_535))
        var bytes = [UInt8](repeating: 0, count: tail)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, tail, off_t(start + length - Int64(tail))) }
        guard n == tail else { return }
        // The record must end exactly at the end of the file (its comment length says where it ends):
        // a "PK\5\6" further up belongs to a zip stored inside this one.
        var i = tail - 22
        while i >= 0 {
            if bytes[i] == 0x50 && bytes[i + 1] == 0x4B && bytes[i + 2] == 0x05 && bytes[i + 3] == 0x06 {
                let commentLength = Int(bytes[i + 20]) | Int(bytes[i + 21]) << 8
                if i + 22 + commentLength == tail { return }
            }
            i -= 1
        }
        throw ArchiveReadError(
            archive: name, message: "the zip has no end-of-archive record (central directory): it was cut short at \(length) bytes",
            status: ARCHIVE_FATAL)
    }
}
