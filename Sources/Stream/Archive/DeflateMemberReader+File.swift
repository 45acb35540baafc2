import Foundation
import SystemPackage

extension DeflateMemberReader {
    /// A reader of `member` of the zip occupying `length` bytes of the file at `path` from `start`, read with
    /// `pread`. Nil when the member's local header is not where the directory says.
    /// - Throws: ``POSIXFileError`` when the file cannot be opened.
    public convenience init?(member: ZipMember, path: String, start: Int64, length: Int64, archive: String) throws {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, .readOnly)
        } catch {
            throw POSIXFileError(path: path, operation: "open", (error as? Errno) ?? .ioError)
        }
        guard let dataOffset = ZipDirectory.dataOffset(of: member, fd: fd, start: start, length: length) else {
            try? fd.close()
            return nil
        }
        let file = CompressedFileRange(fd: fd, path: path, offset: start + dataOffset, length: member.compressedSize)
        self.init(member: member, archive: archive) { try file.read(into: $0) }
        fileStart = start + dataOffset
    }
}

/// A member's compressed bytes in a file, read in order with `pread`. Owns its descriptor.
private final class CompressedFileRange {
    let fd: FileDescriptor
    let path: String
    let offset: Int64
    let length: Int64
    var position: Int64 = 0

    init(fd: FileDescriptor, path: String, offset: Int64, length: Int64) {
        self.fd = fd
        self.path = path
        self.offset = offset
        self.length = length
    }

    deinit { try? fd.close() }

    /// Fills as much of `buffer` as the range has left; 0 at its end (or at the file's end).
    /// - Throws: ``POSIXFileError`` when the read fails.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let want = Int(min(Int64(buffer.count), length - position))
        guard want > 0 else { return 0 }
        do {
            let n = try fd.read(
                fromAbsoluteOffset: offset + position, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]),
                retryOnInterrupt: true)
            position += Int64(n)
            return n
        } catch {
            throw POSIXFileError(path: path, operation: "read", (error as? Errno) ?? .ioError)
        }
    }
}
