import Dispatch

/// Reads the next day's file and orders it (``DayFileStream/streamOrRead(file:by:known:events:order:scratch:)``: a day
/// whose file order is its order of play, up to runs of equal user and time, is only checked when its order is not
/// known, and streamed as it is played) on a queue of its
/// own while the event loop plays the day before, so that the loop finds the day ready: under `--emit final`
/// the event loop is the replay's bottleneck, and reading a day and computing its replay order are a sixth of
/// its samples, while the other core has room.
///
/// Memory: a second day's buffers (its events in file order and its order, ~10 MB a day of KuaiRec's big
/// matrix), none for a day streamed: the replayer reads a day ahead only when its buffers fit ``Replayer/readAheadBudget``, and frees
/// these (``release()``) when they do not. The buffers move between the caller and
/// the queue by `swap` (never copied): the caller hands over the buffers of the day it has played, which the
/// next read reuses.
///
/// Invariant (what makes the lock uncontended here): at most one read is in flight; the caller's ``start(_:path:by:)``
/// and ``take(_:by:events:order:)`` wait for it (`pending`) before they touch ``slot``, and the read's block touches it
/// only between its `enter` and `leave`.
final class DayReadAhead: Sendable {
    /// The day read (nil: none) in the order of play `kind`, its stream or its events and order, or why the read
    /// failed.
    private struct Slot {
        var day: CalendarDay?
        var kind = DayEventOrder.time
        var stream: DayFileStream?
        var events: [Interaction] = []
        var order: [UInt64] = []
        /// The buffer a day's order is checked through, kept from read to read (1 MiB).
        var scratch: [Interaction] = []
        var error: (any Error)?
    }

    private let slot = TracedMutex(Slot())
    private let queue = DispatchQueue(label: "replay.read-ahead")
    private let pending = DispatchGroup()

    /// Starts reading `day` from the file at `path` (``DayBuckets/readableFile(of:)``) and ordering it by `kind` (as
    /// `known` says, when it knows: ``DayBuckets/knownOrder(of:)``), into the buffers the last
    /// ``take(_:by:events:order:)`` handed over; what an earlier read left untaken is dropped.
    func start(_ day: CalendarDay, path: String, by kind: DayEventOrder, known: KnownDayOrder = .unknown) {
        pending.wait()
        pending.enter()
        queue.async { [self] in
            defer { pending.leave() }
            var events: [Interaction] = []
            var order: [UInt64] = []
            var scratch: [Interaction] = []
            slot.withLock { s in
                swap(&events, &s.events)
                swap(&order, &s.order)
                swap(&scratch, &s.scratch)
                s.day = nil
                s.error = nil
            }
            var failure: (any Error)?
            var stream: DayFileStream?
            do {
                stream = try DayFileStream.streamOrRead(
                    file: path, by: kind, known: known, events: &events, order: &order, scratch: &scratch)
            } catch {
                failure = error
            }
            slot.withLock { s in
                swap(&events, &s.events)
                swap(&order, &s.order)
                swap(&scratch, &s.scratch)
                s.day = day
                s.kind = kind
                s.stream = stream
                s.error = failure
            }
        }
    }

    /// A day as it was read ahead.
    enum ReadDay {
        /// To be read as it is played (its events and order are empty).
        case streamed(DayFileStream)
        /// Read whole, with its order.
        case loaded
    }

    /// When the day read ahead is `day` ordered by `kind`: waits for its read, swaps its events and order into
    /// `events` and `order` (whose buffers the next read reuses) and says how it was read; nil when it read another
    /// day, another order or none.
    /// - Throws: what the read threw.
    func take(_ day: CalendarDay, by kind: DayEventOrder, events: inout [Interaction], order: inout [UInt64]) throws -> ReadDay? {
        pending.wait()
        var failure: (any Error)?
        let taken = slot.withLock { s -> ReadDay? in
            guard s.day == day, s.kind == kind else { return nil }
            s.day = nil
            if let error = s.error {
                failure = error
                s.error = nil
                return nil
            }
            swap(&events, &s.events)
            swap(&order, &s.order)
            defer { s.stream = nil }
            return s.stream.map { .streamed($0) } ?? .loaded
        }
        if let failure { throw failure }
        return taken
    }

    /// Frees the buffers held here (after the last day, or before a day too large to read ahead), once a read
    /// in flight is done.
    func release() {
        pending.wait()
        slot.withLock { $0 = Slot() }
    }
}
