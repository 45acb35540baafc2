import Dispatch

/// A serial queue that writes the buffers handed to it, at most two in flight, and gives each buffer back for
/// reuse once it is written: the one hand-over that ``DayBuckets`` (the day files) and the sink's `ByteOutput`
/// (the panel and rejects files) use to write off the thread that fills their buffers.
///
/// Order: one serial queue, so buffers are written in the order they are sent. Errors: the first write that
/// fails is kept in ``failure``; a buffer sent after it is not written. Memory: the two buffers in flight and two
/// spares (``SpareBuffers``'s invariant: a buffer moved into ``send(_:write:)`` is taken out of a ``Loan`` by
/// the write block alone and given back as the block ends, so it is never written while the sender fills it
/// again, and the sender's next buffer is uniquely referenced and reused in place).
public final class BufferWriteQueue<Element: Sendable>: Sendable {
    /// The first write that failed.
    public let failure = FirstFailure()
    private let queue: DispatchQueue
    private let inFlight = DispatchSemaphore(value: 2)
    private let pending = DispatchGroup()
    private let spares = SpareBuffers<Element>(limit: 2)

    /// A queue named `label` (as threads and debuggers show it).
    public init(label: String) { queue = DispatchQueue(label: label) }

    /// Queues `buffer` to be written by `write` (waiting while two writes are in flight) and puts an empty buffer to
    /// fill next in its place (a spare with its capacity, or a new one). `write` gets the buffer's bytes mutable:
    /// they are the queue's alone until it returns, and it may use them as scratch (the day files encode their
    /// slots in place).
    ///
    /// `inout`, not `consuming`: the buffer is moved out of the sender's variable here, so no binding of the
    /// sender's still references it when the write runs. A reference left behind (a `consuming` parameter passed
    /// on without `consume` stays retained until its function returns, which races with the write starting on
    /// the queue's thread) would make `write`'s mutable access copy the whole buffer into fresh pages: for the
    /// day buckets of KuaiRec's big matrix, ~0.4 GB of copies and 34,000 page faults.
    public func send(
        _ buffer: inout [Element], write: @escaping @Sendable (UnsafeMutableRawBufferPointer) throws -> Void
    ) {
        inFlight.wait()
        var sent = spares.take()
        swap(&sent, &buffer)
        let loan = Loan(consume sent)
        pending.enter()
        queue.async { [self] in
            defer {
                pending.leave()
                inFlight.signal()
            }
            var buffer = loan.take()
            defer { spares.giveBack(&buffer) }
            if failure.hasFailed { return }
            do {
                try buffer.withUnsafeMutableBytes { try write($0) }
            } catch {
                failure.record(error)
            }
        }
    }

    /// Queues `body` after the buffers sent so far (it is skipped after a failed write; its own error is kept in
    /// ``failure``): what a writer does with no buffer, e.g. writing bytes it gathered.
    public func perform(_ body: @escaping @Sendable () throws -> Void) {
        pending.enter()
        queue.async { [self] in
            defer { pending.leave() }
            if failure.hasFailed { return }
            do {
                try body()
            } catch {
                failure.record(error)
            }
        }
    }

    /// Blocks until every buffer sent has been written (or has failed).
    public func waitForWrites() { pending.wait() }

    /// Frees the spare buffers kept (after the last write of a phase: the day buckets keep none through the
    /// replay).
    public func releaseSpares() { spares.removeAll() }
}
