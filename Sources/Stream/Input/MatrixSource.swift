import Foundation

/// Which interaction matrix of KuaiRec to replay.
public enum MatrixChoice: String, Sendable, CaseIterable, Codable {
    case small, big

    /// The member's file name (`small_matrix.csv`).
    public var fileName: String { "\(rawValue)_matrix.csv" }
}

/// A stream of the interaction CSV's bytes, wherever it lives: a nested zip, a zip, a folder, a
/// plain or compressed CSV. Built by ``MatrixSource/open(input:matrix:)``.
public final class MatrixSource {
    /// Readers from the outermost archive inwards; the last one is positioned on the CSV member.
    private let readers: [ArchiveReader]
    /// Where the CSV was found, for messages (`18164998.zip ▸ KuaiRec.zip ▸ KuaiRec 2.0/data/small_matrix.csv`).
    public let location: String
    /// Total size of the input file on disk, when known (for progress).
    public let inputFileSize: Int64?
    /// The file on disk the bytes come from (the CSV itself for a folder input).
    public let filePath: String
    /// The CSV member's uncompressed size as its archive header states it, when stated (not trusted:
    /// the ingest pass also counts the bytes it reads).
    public let memberSize: Int64?

    private init(readers: [ArchiveReader], location: String, inputFileSize: Int64?, filePath: String, memberSize: Int64?) {
        self.readers = readers
        self.location = location
        self.inputFileSize = inputFileSize
        self.filePath = filePath
        self.memberSize = memberSize
    }

    /// How many bytes the CSV expands to, when known (for progress): the size its archive header states, or
    /// the file's size for a plain CSV; nil for a compressed single file (gzip, xz, ...), whose size is read
    /// only at its end.
    public var expandedSize: Int64? {
        memberSize ?? (readers.count == 1 && readers[0].isRawFormat && !readers[0].isCompressed ? inputFileSize : nil)
    }

    /// Returns the next block of CSV bytes, nil at the end.
    ///
    /// - Warning: The block is valid only until the next call.
    public func nextBlock() throws -> UnsafeRawBufferPointer? {
        let block = try readers.last!.readBlock()
        if let block { bytesDelivered += Int64(block.count) }
        return block
    }

    /// Decompressed CSV bytes handed out by ``nextBlock()`` so far (how far a failed read got).
    public private(set) var bytesDelivered: Int64 = 0

    /// Bytes consumed from the input file so far.
    public var bytesConsumed: Int64 { readers.first!.bytesConsumed }

    /// Finds the interaction CSV for `matrix` in `input` and positions a stream on it.
    ///
    /// `input` may be the outer KuaiRec download (`18164998.zip` holding `KuaiRec.zip`), the inner
    /// `KuaiRec.zip`, a folder holding the extracted `KuaiRec 2.0/data/`, or a bare CSV (plain or
    /// compressed in any format libarchive reads). Nothing is extracted to disk.
    /// - Throws: ``InputError`` when the file is missing or unreadable or the matrix is not there,
    ///   ``ArchiveReadError`` when the archive is damaged.
    public static func open(input: String, matrix: MatrixChoice) throws -> MatrixSource {
        try open(input: input, fileName: matrix.fileName)
    }

    /// Finds the member whose file name is `fileName` (`user_features.csv`, ...) the same way as
    /// ``open(input:matrix:)`` finds the matrix, and positions a stream on it.
    public static func open(input: String, fileName: String) throws -> MatrixSource {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else {
            throw InputError(input: input, message: "no such file or folder")
        }
        if isDirectory.boolValue {
            let candidates = [
                "KuaiRec 2.0/data/\(fileName)", "data/\(fileName)", fileName,
            ].map { (input as NSString).appendingPathComponent($0) }
            guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                throw InputError(
                    input: input,
                    message: "the folder holds no \(fileName) (looked for: \(candidates.joined(separator: ", ")))")
            }
            return try open(input: found, fileName: fileName)
        }
        try preflight(input: input)
        let size = (try? FileManager.default.attributesOfItem(atPath: input)[.size] as? NSNumber)?.int64Value
        let outer = try ArchiveReader(path: input)
        var readers = [outer]
        var path = [input]
        while true {
            let reader = readers.last!
            if let names = try memberNames(of: reader) {
                try refuseAmbiguity(names, fileName: fileName, archive: path.joined(separator: " ▸ "))
            }
            var seen: [String] = []
            var descended = false
            var first = true
            while let entry = try reader.nextEntry() {
                if first {
                    try reader.checkZipIsComplete()
                    first = false
                }
                if reader.isRawFormat {
                    // A plain or compressed single file: it is the CSV itself.
                    return MatrixSource(
                        readers: readers, location: path.joined(separator: " ▸ "), inputFileSize: size, filePath: input,
                        memberSize: nil)
                }
                if entry.isDirectory { continue }
                seen.append(entry.path)
                let base = (entry.path as NSString).lastPathComponent
                if base == fileName {
                    path.append(entry.path)
                    return MatrixSource(
                        readers: readers, location: path.joined(separator: " ▸ "), inputFileSize: size, filePath: input,
                        memberSize: entry.size)
                }
                if base.lowercased().hasSuffix(".zip") {
                    let nestedName = "\(reader.name) ▸ \(entry.path)"
                    let nested: ArchiveReader
                    if let range = reader.storedMemberRange(size: entry.size), let file = reader.filePath {
                        // Stored inside a file: read it in place, seekable (no inflating of other members).
                        nested = try ArchiveReader(path: file, start: range.start, length: range.length, name: nestedName)
                    } else {
                        nested = try ArchiveReader(nestedIn: reader, name: entry.path)
                    }
                    readers.append(nested)
                    path.append(entry.path)
                    descended = true
                    break
                }
            }
            if !descended {
                let shown = seen.count > 20 ? seen.prefix(20).joined(separator: ", ") + ", … (\(seen.count) in all)" : seen.joined(separator: ", ")
                let members = seen.isEmpty ? "it has no file members" : "its members are: \(shown)"
                let wanted = readers.count == 1
                    ? "neither KuaiRec.zip nor \(fileName)"
                    : "no \(fileName)"
                throw InputError(
                    input: path.joined(separator: " ▸ "),
                    message: "the archive holds \(wanted); \(members). Pass the KuaiRec download (18164998.zip), KuaiRec.zip, or the matrix CSV itself")
            }
        }
    }
}

extension MatrixSource {
    /// The file members of the zip `reader` reads, listed by a second reader through the central directory
    /// (libarchive's seekable zip reader: no member data is read); nil when that is not cheap or not a zip
    /// (a reader nested in a compressed member, which would inflate every member to list them; a tar; a bare file).
    private static func memberNames(of reader: ArchiveReader) throws -> [String]? {
        let lister: ArchiveReader
        if let file = reader.filePath {
            lister = try ArchiveReader(path: file)
        } else if let range = reader.range {
            lister = try ArchiveReader(path: range.path, start: range.start, length: range.length, name: reader.name)
        } else {
            return nil
        }
        var names: [String] = []
        while let entry = try lister.nextEntry() {
            guard lister.isZipFormat else { return nil }
            if !entry.isDirectory { names.append(entry.path) }
        }
        return names
    }

    /// Refuses an archive where the member to read is not one: two members named `fileName`, or no such
    /// member and two zips to look into (two `KuaiRec.zip`). Taking the first would pick one silently.
    /// - Throws: ``InputError`` naming every candidate.
    static func refuseAmbiguity(_ names: [String], fileName: String, archive: String) throws {
        func base(_ path: String) -> String { NSStringPath(path).base }
        let matrices = names.filter { base($0) == fileName }
        if matrices.count > 1 {
            throw InputError(
                input: archive,
                message: "the archive holds \(matrices.count) members named \(fileName) (\(matrices.joined(separator: ", "))); replay cannot tell which one to read — pass the one you mean (extract it, or remove the others from the archive)")
        }
        let zips = names.filter { base($0).lowercased().hasSuffix(".zip") }
        if matrices.isEmpty && zips.count > 1 {
            throw InputError(
                input: archive,
                message: "the archive holds no \(fileName) but \(zips.count) zip archives (\(zips.joined(separator: ", "))); replay cannot tell which one holds it — pass the one you mean (extract it, or remove the others from the archive)")
        }
    }

    /// Checks, before anything else is done, that `input` exists and (for a file) is readable and not empty.
    /// - Throws: ``InputError`` naming the problem and what to do.
    public static func preflight(input: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else {
            throw InputError(input: input, message: "no such file or folder")
        }
        if isDirectory.boolValue { return }
        try checkIsAFile(input)
        try checkReadable(input)
        let size = (try? FileManager.default.attributesOfItem(atPath: input)[.size] as? NSNumber)?.int64Value
        if size == 0 {
            throw InputError(
                input: input, message: "the file is empty (0 bytes); the download or copy probably failed — fetch it again")
        }
    }
}

/// Throws when `path` is a named pipe, a socket or a device: an archive run reads a file whose size, time and
/// bytes stay the same (it is read again to check a resume), which a stream does not keep.
private func checkIsAFile(_ path: String) throws {
    var status = stat()
    guard stat(path, &status) == 0 else { return }  // checkReadable says why
    let kind: String
    switch status.st_mode & S_IFMT {
    case S_IFIFO: kind = "a named pipe (FIFO)"
    case S_IFSOCK: kind = "a socket"
    case S_IFCHR, S_IFBLK: kind = "a device"
    default: return
    }
    throw InputError(
        input: path,
        message: "it is \(kind), not a file: an archive run needs a file it can read again to check a resume — for a live feed, send the rows to replay run - (replay run - < \(path)); or save them to a file first")
}

/// Throws unless the current user may read the file at `path`.
///
/// The corresponding C function is `open` (the file is opened and closed again, so that the error is
/// the real one: permission, a folder where a file should be, ...).
private func checkReadable(_ path: String) throws {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else {
        let code = errno
        let hint: String
        switch code {
        case EACCES, EPERM: hint = "permission denied — make the file readable (chmod a+r) or run as its owner"
        case ENOENT: hint = "no such file or folder"
        default: hint = "cannot open the file: \(String(cString: strerror(code)))"
        }
        throw InputError(input: path, message: hint)
    }
    close(fd)
}

/// The input cannot be used: it is missing, unreadable, or does not hold the requested matrix.
public struct InputError: Error, CustomStringConvertible, Sendable {
    /// The input path (or nested member path).
    public var input: String
    /// What is wrong and what to do.
    public var message: String

    public init(input: String, message: String) {
        self.input = input
        self.message = message
    }

    public var description: String { "\(input): \(message)" }
}
