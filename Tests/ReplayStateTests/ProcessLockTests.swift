import Foundation
import Testing

@testable import ReplayState

/// The state folder's lock: one run at a time, and a look at who holds it (`replay status`) never refuses a run.
struct ProcessLockTests {
    private static func folder() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lock-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    @Test func aSecondLockIsRefusedNamingTheHolderAndTakenOnceReleased() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var first: ProcessLock? = try ProcessLock(directory: dir)
        #expect(ProcessLock.holder(of: dir) == "pid \(getpid())")
        #expect {
            _ = try ProcessLock(directory: dir)
        } throws: { error in
            if case .inUse(let holder) = (error as? StateError)?.kind { return holder == "pid \(getpid())" } else { return false }
        }
        withExtendedLifetime(first) {}
        first = nil
        #expect(ProcessLock.holder(of: dir) == nil)
        _ = try ProcessLock(directory: dir)
    }

    /// A look at the lock (a shared `flock` for an instant, as ``ProcessLock/holder(of:)`` takes) while a run
    /// starts: the run waits it out and gets the lock.
    @Test func aRunStartingWhileTheHolderIsLookedUpGetsTheLock() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lockFile = (dir as NSString).appendingPathComponent("lock")
        #expect(FileManager.default.createFile(atPath: lockFile, contents: nil))
        for holdMs in [5, 50] {
            let fd = open(lockFile, O_RDONLY)
            #expect(fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) == 0)
            let looker = Thread {
                usleep(useconds_t(holdMs * 1000))
                flock(fd, LOCK_UN)
                close(fd)
            }
            looker.start()
            let started = ContinuousClock.now
            let lock = try ProcessLock(directory: dir)
            #expect(ContinuousClock.now - started >= .milliseconds(holdMs), "the lock was taken while the look held it")
            withExtendedLifetime(lock) {}
        }
    }
}
