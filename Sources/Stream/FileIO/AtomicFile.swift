import Foundation
import SystemPackage

/// Replaces a file whole or not at all, durably: the new contents go to `PATH.partial` beside it, which is
/// fsynced and renamed over `PATH`, and then the folder is fsynced, so that after a crash `PATH` holds
/// either its old bytes or all of the new ones, and a reader (a browser reloading a report) never sees
/// half a file.
///
/// One writer per path: two processes replacing the same path at once share its `.partial` file.
/// A device or a FIFO (`/dev/null`, `/dev/stdout`) cannot be replaced: it is written in place (see
/// ``replace(_:_:)``).
public enum AtomicFile {
    /// The name the new contents of `path` are written under before ``commit(_:)`` renames them.
    public static func partialPath(for path: String) -> String { path + ".partial" }

    /// Replaces `path` with `bytes`.
    /// - Throws: ``POSIXFileError`` naming the file and the failed call; `path` is then left as it was
    ///   and no `.partial` file is left behind.
    public static func write(_ bytes: [UInt8], to path: String) throws(POSIXFileError) {
        do {
            try replace(path) { partial in
                let fd = try open(partial)
                defer { try? fd.close() }
                try bytes.withUnsafeBytes { try fd.writeAll($0, path: partial) }
            }
        } catch let error as POSIXFileError {
            throw error
        } catch {
            preconditionFailure("AtomicFile.write: unexpected \(error)")
        }
    }

    /// Replaces `path` with what `body` writes to the file it is given (`PATH.partial`, absent when
    /// `body` starts), then ``commit(_:)``s it. Returns what `body` returns.
    ///
    /// When `path` is a device or a FIFO, `body` is given `path` itself, and nothing is renamed.
    /// - Throws: `body`'s errors and ``POSIXFileError``; on any failure the `.partial` file is removed and
    ///   `path` is left as it was.
    ///
    /// A symlink to a regular file is kept: the file it points to is replaced. A path reached through `/dev`
    /// or `/proc` (`/dev/stdout`, `/proc/self/fd/1`, whatever the descriptor is) is written in place too:
    /// renaming a file over it would replace the link (or, as root, a node under `/dev`).
    public static func replace<Result>(_ path: String, _ body: (_ partial: String) throws -> Result) throws -> Result {
        guard let target = replaceableFile(path) else { return try body(path) }
        let result = try writePartial(of: target, body)
        try commitOrDiscard(target)
        return result
    }

    /// The first half of ``replace(_:_:)``: `body` writes the new contents of `target` (a path
    /// ``replaceableFile(_:)`` returned) to the file it is given, `PATH.partial` (absent when `body` starts),
    /// and ``commitOrDiscard(_:)`` makes them `target`'s later, on any thread: meanwhile `target` holds its old
    /// bytes, and a crash leaves them.
    /// - Throws: `body`'s errors and ``POSIXFileError``; on any failure the `.partial` file is removed.
    public static func writePartial<Result>(of target: String, _ body: (_ partial: String) throws -> Result) throws -> Result {
        let partial = partialPath(for: target)
        if unlink(partial) != 0 && errno != ENOENT {
            throw POSIXFileError(path: partial, operation: "unlink", code: errno)
        }
        do {
            return try body(partial)
        } catch {
            unlink(partial)
            throw error
        }
    }

    /// The second half of ``replace(_:_:)``: ``commit(_:)``s `path`, or on failure removes `PATH.partial`, leaving
    /// `path` as it was unless the rename happened.
    /// - Throws: ``POSIXFileError`` naming the file and the failed call.
    public static func commitOrDiscard(_ path: String) throws(POSIXFileError) {
        do {
            try commit(path)
        } catch {
            unlink(partialPath(for: path))
            throw error
        }
    }

    /// The file to replace for `path` (`path` itself, or the regular file a symlink at `path` points to), or
    /// nil when `path` must be written in place: an existing device, FIFO or socket, or a path that reaches
    /// `/dev` or `/proc` through its symlinks.
    public static func replaceableFile(_ path: String) -> String? {
        var status = stat()
        if stat(path, &status) == 0, status.st_mode & S_IFMT != S_IFREG { return nil }
        var current = path
        for _ in 0..<40 {
            let absolute = current.hasPrefix("/") ? current : FileManager.default.currentDirectoryPath + "/" + current
            let parent = (absolute as NSString).deletingLastPathComponent
            if let real = realpath(parent, nil) {
                let folder = String(cString: real)
                free(real)
                if ["/dev", "/proc"].contains(where: { folder == $0 || folder.hasPrefix($0 + "/") }) { return nil }
            }
            guard let link = try? FileManager.default.destinationOfSymbolicLink(atPath: absolute) else {
                return current
            }
            current = link.hasPrefix("/") ? link : parent + "/" + link
        }
        return path  // a symlink loop: rename fails or replaces the link, as the system decides
    }

    /// Makes `PATH.partial` the file `path`: fsyncs it, renames it over `path`, and fsyncs the folder.
    /// - Throws: ``POSIXFileError``; `path` is left as it was unless the rename happened.
    public static func commit(_ path: String) throws(POSIXFileError) {
        let partial = partialPath(for: path)
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(FilePath(partial), .readOnly)
        } catch {
            throw POSIXFileError(path: partial, operation: "open", (error as? Errno) ?? .ioError)
        }
        defer { try? fd.close() }
        try fd.sync(path: partial)
        try valueOrErrno(path: path, operation: "rename from \(partial)") { rename(partial, path) }
        try syncFolder(containing: path)
    }

    /// Fsyncs the folder holding `path`, so that a rename or a new name in it survives a crash.
    /// - Throws: ``POSIXFileError`` naming the folder.
    public static func syncFolder(containing path: String) throws(POSIXFileError) {
        let folder = folder(containing: path)
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(FilePath(folder), .readOnly, options: .directory)
        } catch {
            throw POSIXFileError(path: folder, operation: "open", (error as? Errno) ?? .ioError)
        }
        defer { try? fd.close() }
        do {
            try fd.sync(path: folder)
        } catch where error.code == EINVAL {
            // The file system cannot sync a folder (fsync(2): EINVAL); its renames are as durable as it makes them.
        }
    }

    /// The folder holding `path`: the text before its last `/` (`.` for a bare name, `/` for a name at the
    /// root). Not `NSString.deletingLastPathComponent`, which traps on a one-character path in Foundation 6.3.
    public static func folder(containing path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Creates (or empties) `path` for writing.
    private static func open(_ path: String) throws(POSIXFileError) -> FileDescriptor {
        do {
            return try FileDescriptor.open(
                FilePath(path), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite, .groupRead, .otherRead])
        } catch {
            throw POSIXFileError(path: path, operation: "open", (error as? Errno) ?? .ioError)
        }
    }
}
