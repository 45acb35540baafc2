import Foundation

/// An exclusive lock on a state folder, held by one process for the length of a run.
///
/// Uses `flock` on `DIR/lock`, which the kernel releases when the process dies (kill -9 included),
/// so a stale lock never blocks a rerun. The file holds the owner's pid for messages.
public final class ProcessLock {
    private let fd: Int32
    /// The lock file.
    public let path: String

    /// Takes the lock or throws at once, naming the process that holds it.
    public init(directory: String) throws {
        path = (directory as NSString).appendingPathComponent("lock")
        let opened = open(path, O_RDWR | O_CREAT, 0o644)
        guard opened >= 0 else {
            throw StateError(directory: directory, kind: .lockUnavailable(reason: String(cString: strerror(errno))))
        }
        if flock(opened, LOCK_EX | LOCK_NB) != 0 {
            let holder = ProcessLock.holder(of: directory) ?? "another process"
            close(opened)
            throw StateError(directory: directory, kind: .inUse(holder: holder))
        }
        fd = opened
        let text = "pid \(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = text.withCString { write(fd, $0, strlen($0)) }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }

    /// Who holds the folder's lock (`pid 1234`), or nil when nobody does.
    public static func holder(of directory: String) -> String? {
        let path = (directory as NSString).appendingPathComponent("lock")
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return nil
        }
        let text = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        return (text?.isEmpty ?? true) ? "another process" : text
    }
}
