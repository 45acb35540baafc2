import Dispatch
import Foundation
import SystemPackage

/// Appends full write buffers of ``DayBuckets`` to their day files on a serial queue of its own, so that the
/// thread that buckets events (the ingest's parse thread, the bottleneck of the ingest) does not also spend
/// the `write`s' kernel time, copying ~0.5 GB into the page cache for KuaiRec's big matrix.
///
/// Order: one serial queue, so a day file receives its buffers in the order they were sent (file order).
/// Memory: at most two buffers in flight and two spares kept for reuse, each of the bucket capacity (the
/// buckets' budget / 64: 512 KiB by default). Errors: the first failed write is kept (``failure``) and thrown
/// by the owner's next ``send(_:to:)`` or ``waitForWrites()``; a buffer sent after it is not written.
final class BucketFileWriter: Sendable {
    /// The first write that failed.
    private let failure = FirstFailure()
    private let queue = DispatchQueue(label: "replay.day-buckets")
    private let inFlight = DispatchSemaphore(value: 2)
    private let pending = DispatchGroup()
    /// Buffers whose writes are done, reused by the bucketing thread. Invariant (``SpareBuffers``): a buffer is
    /// moved into a ``Loan``, taken out by the write block alone and given back as the block ends, so it is
    /// never written while the bucketing thread fills it again.
    private let spares = SpareBuffers<Interaction>(limit: 2)

    /// Queues `events` to be appended to the file at `path` (created if missing), waiting while two writes are
    /// in flight; returns an empty buffer to fill next (a spare one with its capacity, or a new one).
    /// - Throws: the error of an earlier write, if one failed (nothing is queued then).
    func send(_ events: consuming [Interaction], to path: String) throws -> [Interaction] {
        try failure.check()
        inFlight.wait()
        let next = spares.take()
        let loan = Loan(consume events)
        pending.enter()
        queue.async { [self] in
            defer {
                pending.leave()
                inFlight.signal()
            }
            var events = loan.take()
            defer { spares.giveBack(&events) }
            if failure.hasFailed { return }
            do {
                try events.withUnsafeBytes { try Self.append($0, to: path) }
            } catch {
                failure.record(error)
            }
        }
        return next
    }

    /// Blocks until every queued buffer is written, then throws the first write error, if any.
    func waitForWrites() throws {
        pending.wait()
        try failure.check()
    }

    /// Blocks until every queued buffer is written or has failed, without throwing (before the files are
    /// removed or cut back, which makes their writes moot).
    func settle() { pending.wait() }

    /// Appends `bytes` to the file at `path` (created if missing), on the calling thread.
    static func append(_ bytes: UnsafeRawBufferPointer, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw POSIXFileError(path: path, operation: "open", code: errno) }
        defer { close(fd) }
        try FileDescriptor(rawValue: fd).writeAll(bytes, path: path)
    }
}
