import Foundation
import Logging

/// The event loop: replays the ordered events day by day through each user's timeline, closes each
/// user-day at the day boundary, emits revision 0 at once and later revisions as leads mature, and
/// commits checkpoints.
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
    /// Number of checkpoints committed.
    public var checkpointsCommitted: Int { engine.checkpointsCommitted }

    /// Prepares a replay of the ingested log, from the start or from a checkpoint.
    /// - Throws: when a checkpoint's user state cannot be decoded.
    public init(
        summary: IngestSummary, buckets: DayBuckets, mode: ThresholdsMode, sink: RecordSink, state: StateBackend?,
        resumeFrom checkpoint: PanelCheckpoint?, checkpointPolicy: CheckpointPolicy = .seconds(1), logger: Logger
    ) throws {
        self.summary = summary
        self.buckets = buckets
        self.checkpointPolicy = checkpointPolicy
        engine = try PanelEngine(
            users: summary.users, firstDay: summary.firstDay, mode: mode, batchDistribution: summary.distribution,
            sink: sink, state: state, resumeFrom: checkpoint, logger: logger)
    }

    /// Paces the replay to event time (`--speed`); nil replays as fast as possible.
    public var pacer: Pacer?
    /// The instant (Unix ms) a day ends: the replay's clock must pass it before the day closes when paced.
    public var endOfDay: (CalendarDay) -> Int64 = { Int64($0.adding(1).rawValue) * 86_400_000 }
    /// Called every few thousand events and after each closed day, with the progress and the
    /// simulated clock (Unix ms of the last event replayed). For progress lines.
    public var onProgress: ((ReplayProgress, Int64) -> Void)?
    /// Events replayed between checks for a stop request or a due checkpoint inside a day.
    public var chunkSize = 4096

    /// Replays from the current position until the end, the `until` day, or a stop request.
    ///
    /// Checkpoints are taken inside a day too (the open day's aggregates are part of each user's
    /// state), so a stop or a crash loses at most one checkpoint interval even when a paced day lasts long.
    public func run(until: CalendarDay? = nil, shouldStop: () -> Bool = { false }) throws -> Outcome {
        guard !engine.progress.finished else { return .finished }
        guard summary.firstDay != nil, let lastDay = summary.lastDay else {
            engine.progress.finished = true
            try engine.checkpoint(wait: true)
            return .finished
        }
        var clock = CheckpointClock(policy: checkpointPolicy, events: engine.progress.eventsReplayed)
        func checkpointIfDue() throws {
            if clock.isDue(events: engine.progress.eventsReplayed) {
                try engine.checkpoint()
                clock.taken(events: engine.progress.eventsReplayed)
            }
        }
        while engine.progress.nextDay <= lastDay {
            let day = engine.progress.nextDay
            let events = try buckets.sortedEvents(for: day)
            while engine.progress.dayEventOffset < events.count {
                let end = min(events.count, engine.progress.dayEventOffset + chunkSize)
                let reached = replay(events, from: engine.progress.dayEventOffset, to: end, shouldStop: shouldStop)
                engine.progress.dayEventOffset = reached
                if reached < events.count {
                    if shouldStop() {
                        try engine.checkpoint(wait: true)
                        return .interrupted
                    }
                    onProgress?(engine.progress, simulatedClock)
                    try checkpointIfDue()
                }
            }
            if let pacer, !pacer.wait(untilSimulatedMs: endOfDay(day), shouldStop: shouldStop) {
                try engine.checkpoint(wait: true)
                return .interrupted
            }
            try engine.close(day)
            engine.progress.nextDay = day.adding(1)
            engine.progress.dayEventOffset = 0
            onProgress?(engine.progress, simulatedClock)
            if engine.progress.nextDay > lastDay { break }
            if let until, day >= until {
                try engine.checkpoint(wait: true)
                return .reachedUntil(day)
            }
            if shouldStop() {
                try engine.checkpoint(wait: true)
                return .interrupted
            }
            try checkpointIfDue()
        }
        try engine.finishAll(lastDay: lastDay)
        engine.progress.finished = true
        try engine.checkpoint(wait: true)
        return .finished
    }

    /// Unix ms of the last event replayed (the simulated clock).
    public private(set) var simulatedClock: Int64 = 0

    /// Replays `events[from..<to]`; returns where it stopped (before `to` only when a paced wait was
    /// interrupted by a stop request).
    private func replay(_ events: [Interaction], from: Int, to: Int, shouldStop: () -> Bool) -> Int {
        var cachedUser: Int32 = -1
        var cachedIndex = 0
        var i = from
        var duplicates = 0
        while i < to {
            let e = events[i]
            if let pacer, !pacer.wait(untilSimulatedMs: e.timestampMs, shouldStop: shouldStop) { break }
            if Interaction.isExactDuplicateOfEarlier(events, at: i) { duplicates += 1 }
            if e.userID != cachedUser {
                cachedUser = e.userID
                cachedIndex = engine.userIndex[e.userID]!
            }
            engine.timelines[cachedIndex].open.add(e)
            if e.timestampMs != Interaction.missingTimestamp { simulatedClock = e.timestampMs }
            i += 1
        }
        engine.progress.duplicateRows += duplicates
        engine.progress.eventsReplayed += i - from
        return i
    }
}
