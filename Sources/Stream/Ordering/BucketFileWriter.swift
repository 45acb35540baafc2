import Foundation
import SystemPackage

/// Appends full write buffers of ``DayBuckets`` to their day files on a serial queue of its own, so that the
/// thread that buckets events (the ingest's fold, which also feeds the diagnostics in file order) does not also spend
/// the encoding into slots (``DayFileRecords``) and the `write`s' kernel time, copying ~0.36 GB into the page cache
/// for KuaiRec's big matrix.
///
/// Order: one serial queue (``BufferWriteQueue``), so a day file receives its buffers in the order they were
/// sent (file order). Memory: at most two buffers in flight and two spares kept for reuse, each of the bucket
/// capacity (the buckets' budget / 64: 512 KiB by default). Errors: the first failed write is thrown by the
/// owner's next ``send(_:to:)`` or ``waitForWrites()``; a buffer sent after it is not written.
final class BucketFileWriter: Sendable {
    private let queue = BufferWriteQueue<Interaction>(label: "replay.day-buckets")

    /// Queues `events` to be appended to the file at `path` (created if missing), waiting while two writes are
    /// in flight, and puts an empty buffer to fill next in its place (a spare one with its capacity, or a new one).
    /// - Throws: the error of an earlier write, if one failed (nothing is queued then).
    func send(_ events: inout [Interaction], to path: String) throws {
        try queue.failure.check()
        queue.send(&events) { try DayFileRecords.append($0, to: path) }
    }

    /// Blocks until every queued buffer is written, then throws the first write error, if any.
    func waitForWrites() throws {
        queue.waitForWrites()
        try queue.failure.check()
    }

    /// Frees the spare buffers kept for reuse (when the buckets' own buffers are freed).
    func releaseSpares() { queue.releaseSpares() }

    /// Blocks until every queued buffer is written or has failed, without throwing (before the files are
    /// removed or cut back, which makes their writes moot, and as the owner returns).
    func settle() { queue.waitForWrites() }
}
