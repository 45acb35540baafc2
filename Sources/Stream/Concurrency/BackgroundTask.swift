import Dispatch
import Foundation

/// One piece of work run on a thread of its own from the moment it is made, whose outcome its owner reads
/// later: ``hasEnded`` asks without waiting, ``wait()`` blocks until the work has returned or thrown.
///
/// Its owner waits for it on every path before what the work touches goes away (no I/O in `deinit`: the
/// task cannot be cancelled, and the thread keeps the task alive until the work returns).
public final class BackgroundTask<Success: Sendable, Failure: Error>: Sendable {
    private let done = DispatchSemaphore(value: 0)
    /// How the work ended (nil: still running). Written once by the task's thread, before `done` is signalled.
    private let outcome = TracedMutex<Result<Success, Failure>?>(nil)

    /// Starts `work` on a new thread named `name` (`stackSize` bytes of stack; nil: the system's default).
    public init(name: String, stackSize: Int? = nil, _ work: @escaping @Sendable () throws(Failure) -> Success) {
        let thread = Thread { [self] in
            let result = Result { () throws(Failure) in try work() }
            outcome.withLock { $0 = result }
            done.signal()
        }
        thread.name = name
        if let stackSize { thread.stackSize = stackSize }
        thread.start()
    }

    /// True once the work has returned or thrown: ``wait()`` would not block.
    public var hasEnded: Bool { outcome.withLock { $0 != nil } }

    /// Blocks until the work has ended, and returns how. May be called any number of times, from any thread.
    public func wait() -> Result<Success, Failure> {
        done.wait()
        done.signal()
        return outcome.withLock { $0! }
    }
}
