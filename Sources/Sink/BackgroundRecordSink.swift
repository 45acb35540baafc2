import Foundation
import Synchronization
import ReplayStream

/// Hands records to another sink on a background thread, in batches, so that rendering JSON runs on the
/// second core while the event loop computes the next records (perf: rendering was a third of the
/// replay phase).
///
/// Order is kept: every operation (``write(_:)``, ``flush()``) runs on one serial
/// queue in the order it was asked for. At most `maxBatchesInFlight` batches wait, so memory stays bounded
/// when the renderer is the slower side. An error of the wrapped sink stops the rendering and is thrown by
/// the next call here. The owner calls ``stop()`` before closing what the wrapped sink writes to.
public final class BackgroundRecordSink: RecordSink {
    /// The wrapped sink: used on `queue` only, from `init` on.
    private let inner: HandedOver<RecordSink>
    private let queue = DispatchQueue(label: "replay.render")
    private let slots: DispatchSemaphore
    private let batchSize: Int
    private var batch: [UserDayRecord] = []
    /// Rendered batches given back for reuse: a batch (~180 KB) is over `run`'s 128 KiB mmap threshold, so a
    /// new one per 1,024 records would be a fresh mmap and its page faults. Invariant: a batch is reused
    /// only once its render block is done with it: ``handOff()`` moves it into a ``Loan`` (keeping no
    /// copy), the block takes it out and gives it back last, emptied, holding no reference after that.
    private let spareBatches: SpareBuffers<UserDayRecord>
    private let failure = FirstFailure()
    /// Set while the writing thread waits for the rendering (for a free slot, or in ``flush()``): its core is
    /// free, and a batch rendered meanwhile is rendered on two cores (``RecordSink/write(contentsOf:onTwoCores:)``).
    private let producerWaits = WaitFlag()
    public let durability: any OutputDurability

    /// Wraps `inner`; its `write` and `flush` are called on the background queue only. At most
    /// `maxSpareBatches` rendered batches are kept for reuse (all of them when nil); more are freed.
    public init(wrapping inner: RecordSink, batchSize: Int = 1024, maxBatchesInFlight: Int = 4, maxSpareBatches: Int? = nil) {
        durability = inner.durability
        self.inner = HandedOver(inner)
        self.batchSize = batchSize
        slots = DispatchSemaphore(value: maxBatchesInFlight)
        spareBatches = SpareBuffers(limit: maxSpareBatches ?? maxBatchesInFlight)
        batch.reserveCapacity(batchSize)
    }

    public func write(_ record: UserDayRecord) throws {
        batch.append(record)
        if batch.count >= batchSize { try handOff() }
    }

    /// Renders everything written so far, then flushes the wrapped sink; returns its length.
    public func flush() throws -> Int64 {
        try handOff()
        let inner = self.inner
        producerWaits.flag.store(true, ordering: .relaxed)
        defer { producerWaits.flag.store(false, ordering: .relaxed) }
        let length = queue.sync { Result { try inner.value.flush() } }
        try failure.check()
        return try length.get()
    }

    /// Waits until the batches handed over are rendered (or dropped after a failure); records written
    /// but not handed over are dropped. Call it on every path before the wrapped sink's output is closed.
    public func stop() {
        batch.removeAll()
        queue.sync {}
    }

    private func handOff() throws {
        try failure.check()
        guard !batch.isEmpty else { return }
        if slots.wait(timeout: .now()) == .timedOut {
            producerWaits.flag.store(true, ordering: .relaxed)
            slots.wait()
            producerWaits.flag.store(false, ordering: .relaxed)
        }
        var records = spareBatches.take()
        records.reserveCapacity(batchSize)
        swap(&records, &batch)
        let inner = self.inner, failure = self.failure, loan = Loan(consume records), spares = spareBatches
        let producerWaits = self.producerWaits
        queue.async { [slots] in
            defer { slots.signal() }
            var records = loan.take()
            defer { spares.giveBack(&records) }
            if failure.hasFailed { return }
            do {
                let onTwoCores = producerWaits.flag.load(ordering: .relaxed)
                try records.withUnsafeBufferPointer { try inner.value.write(contentsOf: $0, onTwoCores: onTwoCores) }
            } catch {
                failure.record(error)
            }
        }
    }
}

/// Whether a writing thread waits (a hint another thread reads: nothing depends on it but how work is spread).
private final class WaitFlag: Sendable {
    let flag = Atomic<Bool>(false)
}
