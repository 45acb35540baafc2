import Dispatch

/// Large buffers lent to a background queue and given back for reuse, so that each is allocated once.
///
/// Why: `run` sets glibc's mmap threshold to 128 KiB (see docs/DEVELOPING.md, Memory), so every larger
/// allocation is a fresh `mmap`, its pages faulted in one by one and unmapped on free. A buffer that
/// crosses threads at each checkpoint or output write is therefore kept and reused, not reallocated.
///
/// Invariant: a buffer is reused only once the block that used it is done with it. The owner moves the
/// buffer into a ``Loan`` (`consume`: it keeps no copy); the block moves it out (``Loan/take()``), uses it,
/// and calls ``giveBack(_:)``, which empties it in place (its capacity kept) and moves it in here, so that
/// neither the block nor the loan still references it; the owner's next ``take()`` then gets it uniquely
/// referenced and writes into it in place. Were it still referenced elsewhere (a test that keeps what it
/// was handed), Array's copy-on-write gives a new buffer instead: bytes another thread holds are never
/// written; only the reuse is lost (and the new buffer is rounded up to a page more).
///
/// `@unchecked Sendable`: `spares` is read and written only inside blocks of `queue` (one serial queue, run with
/// `sync`), so never by two threads at once: the owner takes a buffer and the background queue gives one back at
/// the same moments (a day bucket's writes in a live feed).
public final class SpareBuffers<Element: Sendable>: @unchecked Sendable {
    private var spares: [[Element]] = []
    private let queue = DispatchQueue(label: "replay.spare-buffers")
    /// Buffers kept at most; one given back beyond them is freed.
    public let limit: Int

    /// A pool keeping at most `limit` spare buffers.
    public init(limit: Int) { self.limit = limit }

    /// A spare buffer (empty, its capacity kept), or a new empty array when there is none.
    public func take() -> [Element] {
        queue.sync { spares.popLast() } ?? []
    }

    /// Empties `buffer` (keeping its capacity) and keeps it for ``take()``; `buffer` is left a new empty
    /// array, so the caller holds no reference to the buffer kept.
    public func giveBack(_ buffer: inout [Element]) {
        buffer.removeAll(keepingCapacity: true)
        var kept: [Element] = []
        swap(&kept, &buffer)
        queue.sync {
            if spares.count < limit {
                spares.append(kept)
                kept = []
            }
        }
        // A buffer beyond the limit is freed here, outside the queue.
    }

    /// Frees the buffers kept (one still lent out is kept when it is given back).
    public func removeAll() {
        let freed = queue.sync { () -> [[Element]] in
            var all: [[Element]] = []
            swap(&all, &spares)
            return all
        }
        _ = consume freed  // freed outside the queue
    }
}

/// A value moved into a block that runs on another queue: the block takes it out (``take()``), so that
/// once it gives a buffer back (``SpareBuffers/giveBack(_:)``) the block's captures no longer reference it.
/// A closure's plain capture would hold the buffer until the queue releases the block, after the work
/// is signalled done, and the owner's reuse would find it shared.
public final class Loan<Value: Sendable>: Sendable {
    private let slot: TracedMutex<Value?>

    /// Lends `value`.
    public init(_ value: sending Value) { slot = TracedMutex(value) }

    /// Moves the value out; called once, by the block it was lent to.
    public func take() -> Value {
        slot.withLock { slot in
            var value: Value?
            swap(&value, &slot)
            return value!
        }
    }
}
