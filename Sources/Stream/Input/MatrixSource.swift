import Foundation
import SystemPackage

/// Which interaction matrix of KuaiRec to replay.
public enum MatrixChoice: String, Sendable, CaseIterable, Codable {
    case small, big

    /// The member's file name (`small_matrix.csv`).
    public var fileName: String { "\(rawValue)_matrix.csv" }
}

/// A stream of the interaction CSV's bytes, wherever it lives: a nested zip, a zip, a folder, a
/// plain or compressed CSV. Built by ``MatrixSource/open(input:matrix:)``.
public final class MatrixSource {
    /// Readers from the outermost archive inwards; the last one is positioned on the CSV member (or on the zip
    /// holding it, when `inflater` reads it).
    private let readers: [ArchiveReader]
    /// The ISA-L reader of the CSV member, when it is a deflated member of a zip replay can address.
    private let inflater: DeflateMemberReader?
    /// The rest of the last libarchive block that ``read(into:)`` has not copied out yet.
    private var pending = UnsafeRawBufferPointer(start: nil, count: 0)
    /// Where the CSV was found, for messages (`18164998.zip ▸ KuaiRec.zip ▸ KuaiRec 2.0/data/small_matrix.csv`).
    public let location: String
    /// Total size of the input file on disk, when known (for progress).
    public let inputFileSize: Int64?
    /// The file on disk the bytes come from (the CSV itself for a folder input).
    public let filePath: String
    /// The CSV member's uncompressed size as its archive header states it, when stated (not trusted:
    /// the ingest pass also counts the bytes it reads).
    public let memberSize: Int64?

    private init(
        readers: [ArchiveReader], inflater: DeflateMemberReader? = nil, location: String, inputFileSize: Int64?,
        filePath: String, memberSize: Int64?
    ) {
        self.readers = readers
        self.inflater = inflater
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
        precondition(pending.isEmpty, "nextBlock() after a read(into:) that left bytes pending")
        if let inflater { return try inflater.nextBlock() }
        let block = try readers.last!.readBlock()
        if let block { libarchiveDelivered += Int64(block.count) }
        return block
    }

    /// Fills `buffer` with the next CSV bytes (all of it, except at the end); returns how many, 0 at the end.
    ///
    /// ISA-L inflates straight into `buffer`; libarchive's blocks are copied into it.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if let inflater { return try inflater.read(into: buffer) }
        var length = 0
        while length < buffer.count {
            if pending.isEmpty {
                guard let block = try readers.last!.readBlock() else { break }
                libarchiveDelivered += Int64(block.count)
                pending = block
                continue
            }
            let chunk = min(buffer.count - length, pending.count)
            buffer.baseAddress!.advanced(by: length).copyMemory(from: pending.baseAddress!, byteCount: chunk)
            length += chunk
            pending = UnsafeRawBufferPointer(rebasing: pending[chunk...])
        }
        return length
    }

    /// Decompressed CSV bytes read from the input so far (how far a failed read got).
    public var bytesDelivered: Int64 { inflater?.inflated ?? libarchiveDelivered }
    /// The CSV bytes libarchive has handed out.
    private var libarchiveDelivered: Int64 = 0

    /// Bytes consumed from the input file so far.
    public var bytesConsumed: Int64 {
        inflater.map { $0.fileStart + $0.compressedRead } ?? readers.first!.bytesConsumed
    }

    /// The library that decompresses the CSV: `ISA-L` or `libarchive`.
    public var decompressor: String { inflater == nil ? "libarchive" : "ISA-L" }

    /// Finds the interaction CSV for `matrix` in `input` and positions a stream on it.
    ///
    /// `input` may be the outer KuaiRec download (`18164998.zip` holding `KuaiRec.zip`), the inner
    /// `KuaiRec.zip`, a folder holding the extracted `KuaiRec 2.0/data/`, or a bare CSV (plain or
    /// compressed in any format libarchive reads). Nothing is extracted to disk.
    /// - Throws: ``InputError`` when the file is missing or unreadable or the matrix is not there,
    ///   ``ArchiveReadError`` when the archive is damaged.
    public static func open(input: String, matrix: MatrixChoice, inflate: InflateChoice = .auto) throws -> MatrixSource {
        try open(input: input, fileName: matrix.fileName, inflate: inflate)
    }

    /// Finds the member whose file name is `fileName` (`user_features.csv`, ...) the same way as
    /// ``open(input:matrix:inflate:)`` finds the matrix, and positions a stream on it.
    ///
    /// A deflated member of a zip read from a file (a bare zip, or `KuaiRec.zip` stored in the download) is
    /// inflated by ISA-L unless `inflate` is `.libarchive`; with `.isal` any other member is refused.
    /// - Throws: ``InflateUnavailable`` when `inflate` is `.isal` and ISA-L cannot read the member.
    public static func open(input: String, fileName: String, inflate: InflateChoice = .auto) throws -> MatrixSource {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else {
            throw InputError(input: input, message: "no such file or folder")
        }
        if isDirectory.boolValue {
            return try open(input: file(named: fileName, inFolder: input), fileName: fileName, inflate: inflate)
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
                    if inflate == .isal {
                        throw InflateUnavailable(input: input, reason: "it is not a zip (ISA-L reads deflated zip members)")
                    }
                    return MatrixSource(
                        readers: readers, location: path.joined(separator: " ▸ "), inputFileSize: size, filePath: input,
                        memberSize: nil)
                }
                if entry.isDirectory { continue }
                seen.append(entry.path)
                let base = (entry.path as NSString).lastPathComponent
                if base == fileName {
                    let inflater = try inflater(for: entry.path, of: reader, archive: path, inflate: inflate)
                    path.append(entry.path)
                    return MatrixSource(
                        readers: readers, inflater: inflater, location: path.joined(separator: " ▸ "), inputFileSize: size,
                        filePath: input, memberSize: entry.size)
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
    /// What ``isalReader(_:member:archive:)`` found.
    private enum ISALLookup {
        case reader(DeflateMemberReader)
        case unavailable(String)
    }

    /// The file named `fileName` in the extracted KuaiRec folder `folder` (or its `data/`, or the folder itself).
    /// - Throws: ``InputError`` naming the places looked in.
    private static func file(named fileName: String, inFolder folder: String) throws -> String {
        let candidates = [
            "KuaiRec 2.0/data/\(fileName)", "data/\(fileName)", fileName,
        ].map { (folder as NSString).appendingPathComponent($0) }
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw InputError(
                input: folder,
                message: "the folder holds no \(fileName) (looked for: \(candidates.joined(separator: ", ")))")
        }
        return found
    }

    /// The ISA-L reader of `member` (of the zip `reader` reads, at `archive`) that `inflate` asks for: nil for
    /// `.libarchive`, or when ISA-L cannot address it under `.auto`.
    /// - Throws: ``InflateUnavailable`` under `.isal` when ISA-L cannot address it.
    private static func inflater(
        for member: String, of reader: ArchiveReader, archive: [String], inflate: InflateChoice
    ) throws -> DeflateMemberReader? {
        guard inflate != .libarchive else { return nil }
        switch try isalReader(reader, member: member, archive: archive.joined(separator: " ▸ ")) {
        case .reader(let found): return found
        case .unavailable(let reason) where inflate == .isal:
            throw InflateUnavailable(input: (archive + [member]).joined(separator: " ▸ "), reason: reason)
        case .unavailable: return nil
        }
    }

    /// An ISA-L reader of `member` of the zip `reader` reads, when that zip is addressable in a file (read from a
    /// file, or stored in one) and the member is deflated; otherwise why not.
    private static func isalReader(_ reader: ArchiveReader, member: String, archive: String) throws -> ISALLookup {
        let path: String, start: Int64, length: Int64
        if let file = reader.filePath {
            let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value
            guard let size else { return .unavailable("its size cannot be read") }
            (path, start, length) = (file, 0, size)
        } else if let range = reader.range {
            (path, start, length) = (range.path, range.start, range.length)
        } else {
            return .unavailable("the zip holding it is itself compressed, so it is read as a stream")
        }
        let directory: [ZipMember]?
        do {
            let fd = try FileDescriptor.open(path, .readOnly)
            defer { try? fd.close() }
            directory = ZipDirectory.members(fd: fd, start: start, length: length)
        } catch {
            return .unavailable("the zip cannot be opened again (\(error))")
        }
        guard let found = directory?.first(where: { $0.path == member }) else {
            return .unavailable("the zip's central directory cannot be read")
        }
        guard found.isPlainDeflate else {
            let how = found.flags & 1 != 0 ? "encrypted" : found.method == 0 ? "stored uncompressed" : "compressed with method \(found.method)"
            return .unavailable("the member is \(how), not deflated")
        }
        guard let inflater = try DeflateMemberReader(member: found, path: path, start: start, length: length, archive: archive)
        else { return .unavailable("its local header is not where the zip's central directory says") }
        return .reader(inflater)
    }

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

/// `--inflate isal` was asked for and ISA-L cannot read the CSV member: it is not a deflated member of a zip
/// read from a file (a bare or gzipped CSV, a zip inside a compressed member, a stored member).
public struct InflateUnavailable: Error, CustomStringConvertible, Sendable {
    /// The input (or nested member path).
    public var input: String
    /// Why ISA-L cannot read it.
    public var reason: String

    public var description: String { "\(input): \(reason)" }
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
