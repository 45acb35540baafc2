import Foundation

/// Notices when a file changes while it is being read: a download still in progress, a copy
/// overwriting it, an editor saving it.
///
/// Records the file's device, inode, size and modification time when created; ``check()`` compares
/// them again (the ingest pass calls it every few blocks and once at the end).
public struct InputFileWatch: Sendable, Equatable {
    /// The file watched.
    public let path: String
    private let device: UInt64
    private let inode: UInt64
    private let size: Int64
    private let modifiedSeconds: Int
    private let modifiedNanoseconds: Int

    /// Records the current state of the file at `path`.
    ///
    /// The corresponding C function is `stat`.
    /// - Throws: ``InputError`` when the file cannot be examined.
    public init(path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw InputError(input: path, message: "cannot examine the file: \(String(cString: strerror(errno)))")
        }
        self.path = path
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        size = Int64(st.st_size)
        modifiedSeconds = Int(st.st_mtim.tv_sec)
        modifiedNanoseconds = Int(st.st_mtim.tv_nsec)
    }

    /// Throws when the file is no longer the one recorded.
    /// - Throws: ``InputError`` saying what changed and what to do.
    public func check() throws {
        let now: InputFileWatch
        do {
            now = try InputFileWatch(path: path)
        } catch {
            throw InputError(
                input: path,
                message: "the file disappeared while it was being read; nothing was recorded — put it back and rerun")
        }
        var changes: [String] = []
        if now.device != device || now.inode != inode { changes.append("it was replaced by another file") }
        if now.size != size { changes.append("its size went from \(size) to \(now.size) bytes") }
        if now.modifiedSeconds != modifiedSeconds || now.modifiedNanoseconds != modifiedNanoseconds {
            changes.append("its modification time changed")
        }
        guard changes.isEmpty else {
            throw InputError(
                input: path,
                message: "the file changed while it was being read (\(changes.joined(separator: ", "))); nothing was recorded — wait until the download or copy has finished, then rerun the same command")
        }
    }
}
