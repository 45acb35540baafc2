import Foundation
import ReplayStream

/// Hands records to another sink on a background thread, in batches, so that rendering JSON runs on the
/// second core while the event loop computes the next records (perf: rendering was a third of the
/// replay phase).
///
/// Order is kept: every operation (``write(_:)``, ``flush()``) runs on one serial
/// queue in the order it was asked for. At most `maxBatchesInFlight` batches wait, so memory stays bounded
/// when the renderer is the slower side. An error of the wrapped sink stops the rendering and is thrown by
/// the next call here.
public final class BackgroundRecordSink: RecordSink, @unchecked Sendable {
    private let inner: RecordSink
    private let queue = DispatchQueue(label: "replay.render")
    private let slots: DispatchSemaphore
    private let batchSize: Int
    private var batch: [UserDayRecord] = []
    private let errorLock = NSLock()
    private var failure: Error?

    /// Wraps `inner`; its `write` and `flush` are called on the background queue only.
    public init(wrapping inner: RecordSink, batchSize: Int = 1024, maxBatchesInFlight: Int = 4) {
        self.inner = inner
        self.batchSize = batchSize
        slots = DispatchSemaphore(value: maxBatchesInFlight)
        batch.reserveCapacity(batchSize)
    }

    public func write(_ record: UserDayRecord) throws {
        batch.append(record)
        if batch.count >= batchSize { try handOff() }
    }

    /// Renders everything written so far, then flushes the wrapped sink; returns its length.
    public func flush() throws -> Int64 {
        try handOff()
        var length: Result<Int64, Error> = .success(0)
        queue.sync { length = Result { try inner.flush() } }
        try checkFailure()
        return try length.get()
    }

    /// The wrapped sink's `sync` (safe from another thread: it fsyncs what was flushed).
    public func sync() throws { try inner.sync() }

    private func checkFailure() throws {
        errorLock.lock()
        defer { errorLock.unlock() }
        if let failure { throw failure }
    }

    private func handOff() throws {
        try checkFailure()
        guard !batch.isEmpty else { return }
        let records = batch
        batch = []
        batch.reserveCapacity(batchSize)
        slots.wait()
        queue.async { [self] in
            defer { slots.signal() }
            errorLock.lock()
            let failed = failure != nil
            errorLock.unlock()
            if failed { return }
            do {
                for record in records { try inner.write(record) }
            } catch {
                errorLock.lock()
                failure = failure ?? error
                errorLock.unlock()
            }
        }
    }
}
