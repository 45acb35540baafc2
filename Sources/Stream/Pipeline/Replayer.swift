import Foundation
import Logging

/// How often the replay commits a checkpoint. Checkpoints are taken at day boundaries, the first
/// boundary after the interval has passed.
public enum CheckpointPolicy: Equatable, Sendable {
    /// At least this many seconds of wall time apart.
    case seconds(Double)
    /// At least this many replayed events apart.
    case events(Int)

    /// Parses `1`, `0.5s`, `500ms` (seconds) or `100000ev` / `100000events`.
    public init?(argument text: String) {
        for suffix in ["events", "ev"] where text.hasSuffix(suffix) {
            guard let n = Int(text.dropLast(suffix.count)), n > 0 else { return nil }
            self = .events(n)
            return
        }
        if text.hasSuffix("ms"), let v = Double(text.dropLast(2)), v > 0 {
            self = .seconds(v / 1000)
        } else if text.hasSuffix("s"), let v = Double(text.dropLast()), v > 0 {
            self = .seconds(v)
        } else if let v = Double(text), v > 0 {
            self = .seconds(v)
        } else {
            return nil
        }
    }
}

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
    private let mode: ThresholdsMode
    private let sink: RecordSink
    private let state: StateBackend?
    private let logger: Logger
    /// How often to checkpoint (a checkpoint is also taken whenever the run stops).
    public var checkpointPolicy: CheckpointPolicy
    private let users: [Int32]
    private let userIndex: [Int32: Int]
    private var timelines: [UserTimeline]
    /// Progress so far (counters, positions).
    public private(set) var progress: ReplayProgress
    /// Checkpoints are made durable (output fsync, LMDB commit) on this queue, one at a time, while
    /// the replay goes on: the fsync of a large output would otherwise stall the event loop.
    private let committer = DispatchQueue(label: "replay.checkpoint")
    private let pendingCommit = DispatchGroup()
    private let commitErrorLock = NSLock()
    private var commitError: Error?
    /// Sees every emitted record (the live diagnostics); its state goes into every checkpoint.
    public var observer: PanelObserver?
    /// Number of checkpoints committed.
    public private(set) var checkpointsCommitted = 0

    /// Prepares a replay of the ingested log, from the start or from a checkpoint.
    /// - Throws: when a checkpoint's user state cannot be decoded.
    public init(
        summary: IngestSummary, buckets: DayBuckets, mode: ThresholdsMode, sink: RecordSink, state: StateBackend?,
        resumeFrom checkpoint: PanelCheckpoint?, checkpointPolicy: CheckpointPolicy = .seconds(1), logger: Logger
    ) throws {
        self.summary = summary
        self.buckets = buckets
        self.mode = mode
        self.sink = sink
        self.state = state
        self.logger = logger
        self.checkpointPolicy = checkpointPolicy
        users = summary.users
        userIndex = Dictionary(uniqueKeysWithValues: summary.users.enumerated().map { ($0.element, $0.offset) })
        timelines = [UserTimeline](repeating: UserTimeline(), count: summary.users.count)
        if let checkpoint {
            progress = checkpoint.progress
            for (user, bytes) in checkpoint.timelines {
                guard let i = userIndex[user] else { continue }
                timelines[i] = try UserTimeline(decoding: bytes)
            }
        } else {
            progress = ReplayProgress(nextDay: summary.firstDay ?? CalendarDay(rawValue: 0))
        }
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
        guard !progress.finished else { return .finished }
        guard let firstDay = summary.firstDay, let lastDay = summary.lastDay else {
            progress.finished = true
            try checkpoint(wait: true)
            return .finished
        }
        _ = firstDay
        var lastCheckpoint = Date()
        var eventsAtLastCheckpoint = progress.eventsReplayed
        func checkpointIfDue() throws {
            let due: Bool
            switch checkpointPolicy {
            case .seconds(let s): due = Date().timeIntervalSince(lastCheckpoint) >= s
            case .events(let n): due = progress.eventsReplayed - eventsAtLastCheckpoint >= n
            }
            if due {
                try checkpoint()
                lastCheckpoint = Date()
                eventsAtLastCheckpoint = progress.eventsReplayed
            }
        }
        while progress.nextDay <= lastDay {
            let day = progress.nextDay
            let events = try buckets.sortedEvents(for: day)
            while progress.dayEventOffset < events.count {
                let end = min(events.count, progress.dayEventOffset + chunkSize)
                let reached = replay(events, from: progress.dayEventOffset, to: end, shouldStop: shouldStop)
                progress.dayEventOffset = reached
                if reached < events.count {
                    if shouldStop() {
                        try checkpoint(wait: true)
                        return .interrupted
                    }
                    onProgress?(progress, simulatedClock)
                    try checkpointIfDue()
                }
            }
            if let pacer, !pacer.wait(untilSimulatedMs: endOfDay(day), shouldStop: shouldStop) {
                try checkpoint(wait: true)
                return .interrupted
            }
            try close(day)
            progress.nextDay = day.adding(1)
            progress.dayEventOffset = 0
            onProgress?(progress, simulatedClock)
            if progress.nextDay > lastDay { break }
            if let until, day >= until {
                try checkpoint(wait: true)
                return .reachedUntil(day)
            }
            if shouldStop() {
                try checkpoint(wait: true)
                return .interrupted
            }
            try checkpointIfDue()
        }
        try finishAll(lastDay: lastDay)
        progress.finished = true
        try checkpoint(wait: true)
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
        while i < to {
            let e = events[i]
            if let pacer, !pacer.wait(untilSimulatedMs: e.timestampMs, shouldStop: shouldStop) { break }
            if Interaction.isExactDuplicateOfEarlier(events, at: i) { progress.duplicateRows += 1 }
            if e.userID != cachedUser {
                cachedUser = e.userID
                cachedIndex = userIndex[e.userID]!
            }
            timelines[cachedIndex].open.add(e)
            if e.timestampMs != Interaction.missingTimestamp { simulatedClock = e.timestampMs }
            i += 1
        }
        progress.eventsReplayed += i - from
        return i
    }

    private func close(_ day: CalendarDay) throws {
        var dailies = [DailyValues]()
        dailies.reserveCapacity(users.count)
        for i in timelines.indices { dailies.append(timelines[i].open.dailyValues()) }
        let thresholds: TreatmentThresholds
        switch mode {
        case .batch:
            var distribution = summary.distribution
            thresholds = progress.thresholds ?? distribution.thresholds()
        case .expanding:
            for d in dailies where d.activeDay == 1 {
                progress.expanding.add(interactions: d.interactions, highWatchCount: d.highWatchCount)
            }
            thresholds = progress.expanding.thresholds()
        case .fixed(let a, let b):
            thresholds = TreatmentThresholds(highIntensity: a, highWatchShare: b)
        }
        progress.thresholds = thresholds
        for i in timelines.indices {
            _ = timelines[i].close(day: day, daily: dailies[i], thresholds: thresholds)
            if let record = timelines[i].nextRevision(of: day, userID: users[i], final: false) {
                try emit(record)
            }
        }
        for h in PanelRules.revisionHorizons {
            let target = day.adding(-h)
            guard let first = summary.firstDay, target >= first else { continue }
            for i in timelines.indices {
                if let record = timelines[i].nextRevision(of: target, userID: users[i], final: h == 7) {
                    try emit(record)
                }
            }
        }
        progress.daysClosed += 1
    }

    /// End of input: every pending record gets its final revision, day by day, user by user.
    private func finishAll(lastDay: CalendarDay) throws {
        guard let first = summary.firstDay else { return }
        var day = max(first, lastDay.adding(-6))
        while day <= lastDay {
            for i in timelines.indices {
                if let record = timelines[i].nextRevision(of: day, userID: users[i], final: true) {
                    try emit(record)
                }
            }
            day = day.adding(1)
        }
    }

    @inline(__always)
    private func emit(_ record: UserDayRecord) throws {
        try sink.write(record)
        observer?.recordEmitted(record)
        progress.recordsWritten += 1
        if record.isFinal { progress.finalRecords += 1 }
    }

    /// Takes a checkpoint: snapshots the state now, makes it durable on the checkpoint queue.
    /// `wait` blocks until it is durable (when the run stops).
    private func checkpoint(wait: Bool = false) throws {
        try waitForPendingCommit()
        progress.outputBytes = try sink.flush()
        progress.committedAt = Date().timeIntervalSince1970
        var encoded: [Int32: [UInt8]] = [:]
        if state != nil {
            encoded.reserveCapacity(users.count)
            for i in timelines.indices { encoded[users[i]] = timelines[i].encoded() }
        }
        let snapshot = PanelCheckpoint(progress: progress, timelines: encoded, diagnostics: observer?.checkpointState())
        let sink = self.sink, state = self.state, logger = self.logger
        pendingCommit.enter()
        committer.async { [self] in
            do {
                // The output first: the checkpoint must never promise bytes that are not on disk.
                try sink.sync()
                try state?.commit(snapshot)
                logger.debug(
                    "checkpoint",
                    metadata: ["next_day": "\(snapshot.progress.nextDay)", "output_bytes": "\(snapshot.progress.outputBytes)"])
            } catch {
                commitErrorLock.lock()
                commitError = commitError ?? error
                commitErrorLock.unlock()
            }
            pendingCommit.leave()
        }
        checkpointsCommitted += 1
        if wait { try waitForPendingCommit() }
    }

    private func waitForPendingCommit() throws {
        pendingCommit.wait()
        commitErrorLock.lock()
        defer { commitErrorLock.unlock() }
        if let error = commitError { throw error }
    }
}
