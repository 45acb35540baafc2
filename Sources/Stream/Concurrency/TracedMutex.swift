import Synchronization

/// A `Mutex` whose hand-overs ThreadSanitizer sees: the one lock of the project's code (a test in
/// `SourceRulesTests` keeps `Mutex` itself out of `Sources`).
///
/// On Linux, Swift's `Mutex` (6.3) takes and releases a contended lock in the standard library's
/// `_lockSlow`/`_unlockSlow` (a priority-inheritance futex), code built without ThreadSanitizer's
/// instrumentation. When a thread waits for the lock, ThreadSanitizer therefore sees no order between the
/// critical section of the thread that released it and that of the thread that took it, and reports the
/// protected value's accesses as a data race (a false report, but one that fails the sanitized end-to-end
/// suite, whose binary exits 66 on any report). Uncontended, the inlined fast path's atomics are seen.
///
/// Here each critical section starts with an acquiring load and ends with a releasing store of `handOver`,
/// atomics in instrumented code: the section that ran last before the lock was taken is ordered before the
/// one that takes it, as the lock orders them. On x86-64 both are plain moves (no fence, no locked
/// instruction), so the price outside ThreadSanitizer is one byte and two moves per section.
public final class TracedMutex<Value: ~Copyable>: Sendable {
    private let mutex: Mutex<Value>
    private let handOver = Atomic<UInt8>(0)

    /// A lock around `initialValue`.
    public init(_ initialValue: consuming sending Value) { mutex = Mutex(initialValue) }

    /// Runs `body` on the value with the lock held (as `Mutex.withLock`).
    public func withLock<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        try mutex.withLock { (value: inout sending Value) throws(E) -> sending Result in
            _ = handOver.load(ordering: .acquiring)
            defer { handOver.store(0, ordering: .releasing) }
            return try body(&value)
        }
    }
}
