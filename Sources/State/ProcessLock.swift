import Foundation

/// An exclusive lock on a state folder, held by one process for the length of a run.
///
/// Uses `flock` on `DIR/lock`, which the kernel releases when the process dies (kill -9 included),
/// so a stale lock never blocks a rerun. The file holds the owner's pid for messages.
public final class ProcessLock {
    private let fd: Int32
    /// The lock file.
    public let path: String

    /// Takes the lock, or throws naming the process that holds it. ``holder(of:)`` (`replay status`) holds a shared
    /// lock for an instant to look: a run starting in that instant waits it out (up to ``probeWait``) instead of
    /// taking the look for a run. A run holds its lock for the whole run, so one still held after the wait is a run's.
    public init(directory: String) throws {
        path = (directory as NSString).appendingPathComponent("lock")
        let opened = open(path, O_RDWR | O_CREAT, 0o644)
        guard opened >= 0 else {
            throw StateError(directory: directory, kind: .lockUnavailable(reason: String(cString: strerror(errno))))
        }
        let deadline = ContinuousClock.now + ProcessLock.probeWait
        while flock(opened, LOCK_EX | LOCK_NB) != 0 {
            let busy = errno == EWOULDBLOCK || errno == EINTR
            if busy && ContinuousClock.now < deadline {
                usleep(1_000)
                continue
            }
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

    /// How long a run waits for the lock before it takes another holder for a run.
    public static let probeWait = Duration.milliseconds(250)

    /// Who holds the folder's lock (`pid 1234`), or nil when nobody does. Looks by taking a shared lock for an
    /// instant (released at once).
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
