import Foundation
import Logging

/// The archive driver: plays the ingested log's day buckets through the ``PanelEngine`` in order and
/// closes each day when its bucket is played (after the paced clock passes the day's end, with
/// `--speed`), taking checkpoints as it goes. It folds nothing itself.
///
/// The loop knows nothing of files or LMDB: records go to a ``RecordSink`` and checkpoints to a
/// ``StateBackend``, so tests can drive it with in-memory ones.
public final class Replayer {
    /// Why ``run(until:shouldStop:)`` returned.
    public enum Outcome: Equatable, Sendable {
        /// Every day closed and every record written final.
        case finished
        /// Stopped after closing the `--until` day.
        case reachedUntil(CalendarDay)
        /// Stopped at a safe point because a stop was requested.
        case interrupted
    }

    private let summary: IngestSummary
    private let buckets: DayBuckets
    private let engine: PanelEngine
    /// How often to checkpoint (a checkpoint is also taken whenever the run stops).
    public var checkpointPolicy: CheckpointPolicy
    /// Progress so far (counters, positions).
    public var progress: ReplayProgress { engine.progress }
    /// Sees every emitted record (the live diagnostics); its state goes into every checkpoint.
    public var observer: PanelObserver? {
        get { engine.observer }
        set { engine.observer = newValue }
    }
    /// `--with-item-context`: the table joined to each user-day as it closes (set before running).
    public var itemContext: ItemContextTable? {
        get { engine.itemContext }
        set { engine.itemContext = newValue }
    }
    /// Recorded once, before the first checkpoint is taken (an archive run whose diagnostics' second pass runs
    /// beside the replay records its ingest there, so that no checkpoint exists without it); an error it throws
    /// stops the replay. A checkpoint due by wall time is put off while it is not ready (see
    /// ``FirstCheckpointPrerequisite``).
    public var beforeFirstCheckpoint: FirstCheckpointPrerequisite? {
        get { engine.beforeFirstCheckpoint }
        set { engine.beforeFirstCheckpoint = newValue }
    }
    /// Number of checkpoints committed.
    public var checkpointsCommitted: Int { engine.checkpointsCommitted }

    /// Prepares a replay of the ingested log, from the start or from a checkpoint. Days end at midnight in
    /// `timeZone` (the paced clock waits for it).
    /// - Throws: when a checkpoint's user state cannot be decoded.
    public init(
        summary: IngestSummary, buckets: DayBuckets, mode: ThresholdsMode, timeZone: TimeZone, sink: RecordSink,
        state: StateBackend?, resumeFrom checkpoint: PanelCheckpoint?, checkpointPolicy: CheckpointPolicy = .auto,
        logger: Logger
    ) throws {
        self.summary = summary
        self.buckets = buckets
        self.checkpointPolicy = checkpointPolicy
        engine = try PanelEngine(
            users: summary.users, firstDay: summary.firstDay, mode: mode, batchDistribution: summary.distribution,
            timeZone: timeZone, sink: sink, state: state, resumeFrom: checkpoint, logger: logger)
    }

    /// Paces the replay to event time (`--speed`); nil replays as fast as possible.
    public var pacer: Pacer?
    /// Called every few thousand events and after each closed day, with the progress and the
    /// simulated clock (Unix ms of the last event replayed). For progress lines.
    public var onProgress: ((ReplayProgress, Int64) -> Void)?
    /// Events replayed between checks for a stop request or a due checkpoint inside a day.
    public var chunkSize = 4096
    /// Reads and orders the next day on a thread of its own while a day is played (``DayReadAhead``): faster
    /// where the event loop is the bottleneck, for a second day's buffers (~10 MB on KuaiRec's big matrix).
    /// Set before running.
    public var readsAhead = false
    /// The most bytes a day read ahead may hold (its events and their order, ``bufferedBytesPerEvent`` an
    /// event): a larger day is read when its turn comes, and the buffers kept for reading ahead are freed
    /// meanwhile, so that a log with larger days does not hold two of them. Set before running.
    public var readAheadBudget = Replayer.defaultReadAheadBudget
    /// The default ``readAheadBudget``: 128 MiB, above every day of KuaiRec's big matrix (its largest, ~490,000
    /// events, holds ~24 MB) and of a log with 4x its users (~94 MB), where reading ahead is a fifth of the
    /// replay phase; a log with days of more than ~2.8 million events reads them in turn.
    public static let defaultReadAheadBudget = 128 << 20
    /// What a day's buffers hold per event: the event and its place in the replay order.
    public static let bufferedBytesPerEvent = MemoryLayout<Interaction>.stride + MemoryLayout<UInt64>.stride
    /// Days read ahead so far (tests check the budget).
    private(set) var daysReadAhead = 0
    /// The next day's reader, while ``readsAhead`` runs.
    private var readAhead: DayReadAhead?

    /// Replays from the current position until the end, the `until` day, or a stop request.
    ///
    /// Checkpoints are taken inside a day too (the open day's aggregates are part of each user's
    /// state), so a stop or a crash loses at most one checkpoint interval even when a paced day lasts long.
    public func run(until: CalendarDay? = nil, shouldStop: () -> Bool = { false }) throws -> Outcome {
        defer { engine.settleCheckpoints() }
        guard !engine.progress.finished else { return .finished }
        guard summary.firstDay != nil, let lastDay = summary.lastDay else { return try finish(through: nil) }
        let engine = self.engine
        var clock = CheckpointClock(
            policy: checkpointPolicy, events: engine.progress.eventsReplayed, durability: { engine.lastCheckpointDurability })
        onProgress?(engine.progress, simulatedClock)
        func checkpointIfDue() throws {
            if clock.isDue(events: engine.progress.eventsReplayed),
                !clock.policy.isTimed || engine.firstCheckpointIsReady
            {
                try clock.take({ try engine.checkpoint() }, events: { engine.progress.eventsReplayed })
            }
        }
        if readsAhead && readAhead == nil { readAhead = DayReadAhead() }
        while engine.progress.nextDay <= lastDay {
            let day = engine.progress.nextDay
            guard try play(day, next: day < lastDay ? day.adding(1) : nil, shouldStop: shouldStop, checkpointIfDue: checkpointIfDue),
                pacer?.wait(untilSimulatedMs: engine.endOfDay(day), shouldStop: shouldStop, whileWaiting: reportWaiting) ?? true
            else { return try stop(.interrupted) }
            try engine.close(day)
            onProgress?(engine.progress, simulatedClock)
            if engine.progress.nextDay > lastDay { break }
            if let until, day >= until { return try stop(.reachedUntil(day)) }
            if shouldStop() { return try stop(.interrupted) }
            try checkpointIfDue()
        }
        return try finish(through: lastDay)
    }

    /// The order a day not yet begun is played in: time order when paced (each event waits for its time), else
    /// user order (``DayEventOrder``: the same records; on KuaiRec's big matrix the event loop's CPU ~20% less,
    /// each user's state staying in the cache while its events are folded).
    private var newDayOrder: DayEventOrder { pacer == nil ? .user : .time }

    /// Plays the open `day`'s bucket from where it stands, in chunks; false when a stop was requested
    /// before the day was played whole. A day begun before (a checkpoint's) goes on in the order it was begun
    /// in, else it is played in ``newDayOrder``. With ``readsAhead`` the `next` day is read meanwhile.
    private func play(
        _ day: CalendarDay, next: CalendarDay?, shouldStop: () -> Bool, checkpointIfDue: () throws -> Void
    ) throws -> Bool {
        let progress = engine.progress
        let kind = progress.dayEventOffset > 0 ? progress.dayEventOrder ?? .time : newDayOrder
        switch try readAhead?.take(day, by: kind, events: &dayEvents, order: &dayOrder) {
        case .streamed(let stream): dayStream = stream
        case .loaded: dayStream = nil
        case nil:
            dayStream = try DayFileStream.streamOrRead(
                file: try buckets.readableFile(of: day), by: kind, known: try buckets.knownOrder(of: day),
                events: &dayEvents, order: &dayOrder, scratch: &orderCheckBuffer)
        }
        engine.playOpenDay(in: kind)
        dayKind = kind
        if let readAhead, let next {
            let path = try buckets.readableFile(of: next)
            if DayBuckets.storedEvents(inFile: path) * Self.bufferedBytesPerEvent <= readAheadBudget {
                readAhead.start(next, path: path, by: newDayOrder, known: try buckets.knownOrder(of: next))
                daysReadAhead += 1
            } else {
                readAhead.release()
            }
        }
        let count = dayStream?.count ?? dayEvents.count
        // A paced replay reports progress every few hundred events: at --speed 3600 a chunk takes seconds.
        let step = pacer == nil ? chunkSize : min(chunkSize, 256)
        while engine.progress.dayEventOffset < count {
            let end = min(count, engine.progress.dayEventOffset + step)
            try play(to: end, shouldStop: shouldStop)
            if engine.progress.dayEventOffset < count {
                if shouldStop() { return false }
                onProgress?(engine.progress, simulatedClock)
                try checkpointIfDue()
            }
        }
        return true
    }

    /// Takes a checkpoint and waits for it to be durable, then returns `outcome`.
    private func stop(_ outcome: Outcome) throws -> Outcome {
        try engine.checkpoint(wait: true)
        return outcome
    }

    /// Every record final, and a last checkpoint.
    private func finish(through lastDay: CalendarDay?) throws -> Outcome {
        // Every day is played: the last one's buffers (the big matrix's largest day) are not held through the
        // final records and the last checkpoint.
        dayEvents = []
        dayOrder = []
        chunk = []
        orderCheckBuffer = []
        dayStream = nil
        readAhead?.release()
        try engine.finish(through: lastDay)
        return try stop(.finished)
    }

    /// Reports progress during a paced wait, with the simulated time the pacer's clock has reached.
    private func reportWaiting(_ simulatedMs: Int64) { onProgress?(engine.progress, simulatedMs) }

    /// The day being played in file order, read into the same buffer every day (~8 MB for KuaiRec's big
    /// matrix): a new one each day would be a fresh mmap and ~2,000 page faults (`run`'s 128 KiB mmap
    /// threshold). Freed once the last day is played, as are ``dayOrder`` and ``chunk``.
    private var dayEvents: [Interaction] = []
    /// The 1 MiB buffer a day's file is read through when its order is checked (``DayFileStream/ifInOrder(file:by:scratch:)``),
    /// kept from day to day. Freed once the last day is played.
    private var orderCheckBuffer: [Interaction] = []
    /// The order the day is played in: `dayOrder[i]` is the position in ``dayEvents`` of its i-th event played
    /// (8 bytes an event, its buffer reused across days); empty when that is the file order.
    private var dayOrder: [UInt64] = []
    /// The order of play ``dayOrder`` holds.
    private var dayKind = DayEventOrder.time
    /// The day when it is read as it is played (its file order is its order of play up to runs of equal user and time,
    /// ``DayFileStream``: ``dayEvents`` and ``dayOrder`` are empty), a chunk at a time into ``chunk``.
    private var dayStream: DayFileStream?
    /// The chunk being played, gathered from ``dayEvents`` along ``dayOrder`` (``ReplayOrderSort/gather(_:order:_:into:)``):
    /// at most ``chunkSize`` events (160 KB) and the run of equal events before them.
    private var chunk: [Interaction] = []

    /// Unix ms of the last event replayed in time order; in user order, of the latest replayed so far (the
    /// simulated clock).
    public private(set) var simulatedClock: Int64 = 0

    /// Plays the open day's events in their order from the engine's position up to `end`: read from the day's file
    /// into ``chunk`` when the day is streamed, in place when the file order is theirs, else gathered into
    /// ``chunk``. A paced replay waits for each event's time and plays it then (so its counts move as the simulated
    /// clock does), and stops early when a stop is requested during a wait.
    /// - Throws: what reading the day's file throws.
    private func play(to end: Int, shouldStop: () -> Bool) throws {
        let positions = engine.progress.dayEventOffset..<end
        let events: [Interaction]
        let range: Range<Int>
        if let dayStream {
            range = try dayStream.read(positions, into: &chunk)
            events = chunk
        } else if dayOrder.isEmpty {
            (events, range) = (dayEvents, positions)
        } else {
            range = ReplayOrderSort.gather(dayEvents, order: dayOrder, positions, into: &chunk)
            events = chunk
        }
        guard let pacer else {
            engine.play(events, range)
            noteClock(events[range])
            return
        }
        var next = range.lowerBound
        while next < range.upperBound,
            pacer.wait(untilSimulatedMs: events[next].timestampMs, shouldStop: shouldStop, whileWaiting: reportWaiting)
        {
            engine.play(events, next..<(next + 1))
            noteClock(events[next..<(next + 1)])
            next += 1
        }
    }

    /// Moves the simulated clock to the last timestamp among `played` (time order), or to the latest met so far
    /// (user order, where the timestamps go back at each user).
    private func noteClock(_ played: ArraySlice<Interaction>) {
        switch dayKind {
        case .time:
            if let last = played.last(where: { $0.timestampMs != Interaction.missingTimestamp }) {
                simulatedClock = last.timestampMs
            }
        case .user:
            for e in played where e.timestampMs != Interaction.missingTimestamp && e.timestampMs > simulatedClock {
                simulatedClock = e.timestampMs
            }
        }
    }
}
