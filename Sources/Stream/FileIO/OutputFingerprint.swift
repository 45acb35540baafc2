import Foundation

/// Which file a path is: its device and inode (a hard link is the same file; a copy or a new file is not).
public struct FileIdentity: Codable, Sendable, Equatable {
    public var device: UInt64
    public var inode: UInt64

    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    /// The identity of the open file `fd`, or nil when `fstat` fails.
    public static func of(fd: Int32) -> FileIdentity? {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        return FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }
}

/// What an output file is and what its committed bytes end with, kept with every checkpoint: a resumed run
/// writes on only when the file is still the one it wrote (same device and inode) and still ends its committed
/// bytes with the same block (the last committed lines), so no other run's bytes are cut back and continued.
public struct OutputFingerprint: Codable, Sendable, Equatable {
    /// The file.
    public var file: FileIdentity
    /// How many bytes before the committed length are hashed (at most ``tailBytes``).
    public var tailLength: Int
    /// FNV-1a of those bytes.
    public var tailHash: UInt64

    /// The most bytes hashed: the last committed lines (a record line is about 2 KB).
    public static let tailBytes = 4096

    /// The fingerprint of the first `length` bytes of the open file `fd`.
    /// - Throws: ``POSIXFileError`` when the bytes cannot be read back.
    public static func of(fd: Int32, length: Int64, path: String) throws -> OutputFingerprint {
        guard let file = FileIdentity.of(fd: fd) else { throw POSIXFileError(path: path, operation: "fstat", code: errno) }
        let count = Int(min(Int64(tailBytes), max(0, length)))
        var tail = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = tail.withUnsafeMutableBytes { buffer in
                pread(fd, buffer.baseAddress! + done, count - done, off_t(length - Int64(count - done)))
            }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                throw POSIXFileError(path: path, operation: "read back the committed bytes", code: n < 0 ? errno : EIO)
            }
            done += n
        }
        return tail.withUnsafeBytes { of(file: file, tail: $0) }
    }

    /// The fingerprint of a file `file` whose committed bytes end with `tail` (at most ``tailBytes``; fewer only
    /// when the file holds no more).
    public static func of(file: FileIdentity, tail: UnsafeRawBufferPointer) -> OutputFingerprint {
        OutputFingerprint(file: file, tailLength: tail.count, tailHash: RowDigest.of(tail))
    }
}

/// The last bytes handed to an output file's writes (at most ``OutputFingerprint/tailBytes``), and the length of
/// the file they end at, so that a checkpoint's fingerprint hashes them from memory.
///
/// Why: an archive run's output is written around the page cache (`O_DIRECT`), so reading its committed bytes
/// back is a read of the disk, on the event loop's thread, at every checkpoint (~16 ms each on this VM, in
/// `perf record -e sched:sched_switch -g`). The bytes written are these: a write that fails is an error of the
/// run, and the fingerprint hashes the same bytes either way.
///
/// The output's writing thread appends; a checkpoint reads them after the output is drained (every byte handed
/// over), on another thread: the lock orders the two.
public final class RecentBytes: Sendable {
    private struct Held {
        var bytes: [UInt8] = []
        /// The length of the file the bytes end at.
        var end: Int64
    }
    private let held: TracedMutex<Held>

    /// Keeps the bytes appended to a file of `start` bytes from now on (those before are not held).
    public init(start: Int64) { held = TracedMutex(Held(end: start)) }

    /// Keeps the last bytes of `chunk`, appended to the file.
    public func append(_ chunk: UnsafeRawBufferPointer) {
        let limit = OutputFingerprint.tailBytes
        held.withLock { held in
            held.end += Int64(chunk.count)
            if chunk.count >= limit {
                held.bytes.removeAll(keepingCapacity: true)
                held.bytes.append(contentsOf: chunk[(chunk.count - limit)...])
            } else {
                let drop = held.bytes.count + chunk.count - limit
                if drop > 0 { held.bytes.removeFirst(drop) }
                held.bytes.append(contentsOf: chunk)
            }
        }
    }

    /// The last `min(tailBytes, length)` bytes of a file of `length` bytes, when they are held (the bytes appended
    /// end at `length` and reach back that far); nil otherwise.
    public func tail(ofFileOf length: Int64) -> [UInt8]? {
        held.withLock { held -> [UInt8]? in
            let wanted = Int(min(Int64(OutputFingerprint.tailBytes), max(0, length)))
            guard held.end == length, held.bytes.count >= wanted else { return nil }
            return Array(held.bytes[(held.bytes.count - wanted)...])
        }
    }
}

/// An output file a run would write is not its own to write: in use by another run, another file than the one
/// its checkpoint names, changed since, or a file no run of this state made.
public struct OutputOwnershipError: Error, CustomStringConvertible, Sendable {
    /// What is wrong.
    public enum Kind: Sendable, Equatable {
        /// Another process writes it now (it holds the file's lock).
        case inUse
        /// The path names another file than the one the checkpoint's run wrote (replaced, copied, moved in).
        case replaced
        /// The file is shorter than the checkpoint's committed length, or its committed bytes changed.
        case committedBytesChanged(committed: Int64, size: Int64)
        /// A first run would cut back a file that holds bytes no run of this state folder wrote.
        case notThisRunsFile(size: Int64)
    }

    /// The output's path.
    public var path: String
    /// What is wrong.
    public var kind: Kind

    public init(path: String, kind: Kind) {
        self.path = path
        self.kind = kind
    }

    /// The facts (the command line adds what to do).
    public var description: String {
        switch kind {
        case .inUse: return "\(path): another run is writing it"
        case .replaced: return "\(path): it is not the file this state's run wrote (it was replaced, copied or moved)"
        case .committedBytesChanged(let committed, let size):
            return size < committed
                ? "\(path): it holds \(size) bytes, fewer than the \(committed) this state's run committed: it was changed by someone else"
                : "\(path): the bytes this state's run committed (\(committed)) were changed by someone else"
        case .notThisRunsFile(let size):
            return "\(path): it already holds \(size) bytes that no run of this state folder wrote"
        }
    }
}
