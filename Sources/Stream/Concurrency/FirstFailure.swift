import Synchronization

/// The first error of work done on another thread, kept until the owning thread asks for it.
///
/// Background queues (output writes, rendering, checkpoint commits) cannot throw to the thread that
/// queued their work: they record the error here and the owner's next call throws it. Later errors are
/// dropped (the first one is the cause; the rest usually follow from it).
public final class FirstFailure: Sendable {
    private let failure = TracedMutex<(any Error)?>(nil)
    /// Set once an error is kept: the checks every write makes read it without taking the lock, which is taken
    /// only once something failed.
    private let failed = Atomic<Bool>(false)

    public init() {}

    /// Keeps `error` unless an earlier one is kept.
    public func record(_ error: any Error) {
        failure.withLock { if $0 == nil { $0 = error } }
        failed.store(true, ordering: .releasing)
    }

    /// True when an error has been recorded.
    public var hasFailed: Bool { failed.load(ordering: .acquiring) }

    /// Throws the recorded error, if any.
    public func check() throws {
        guard hasFailed else { return }
        if let error = failure.withLock({ $0 }) { throw error }
    }
}

/// A value handed to another thread or serial dispatch queue, which alone uses it from then on, so it may
/// cross into that thread's closure although it is not `Sendable` itself.
///
/// `@unchecked Sendable`: whoever creates it hands it over and from then on does not touch `value`; the
/// receiving thread or serial queue (never two blocks at once) is its only user.
public struct HandedOver<Value>: @unchecked Sendable {
    /// The value; touch it on the receiving thread or queue only.
    public let value: Value

    public init(_ value: Value) { self.value = value }
}
