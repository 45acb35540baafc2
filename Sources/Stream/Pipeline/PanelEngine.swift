import Foundation
import Logging

/// The part of the event loop that archive replay (``Replayer``) and live input (``LiveFeed``) share:
/// the users' timelines, closing a day for every user, emitting revisions, late-row revisions, and
/// committing checkpoints.
///
/// It does not decide *when* a day closes or where events come from: the archive replay closes a day
/// when its bucket is played; the live feed when the watermark passes the day's midnight.
final class PanelEngine {
    let mode: ThresholdsMode
    let sink: RecordSink
    let state: StateBackend?
    let logger: Logger
    /// The whole log's distribution, for batch thresholds (nil when the mode is not batch).
    let batchDistribution: ThresholdDistribution?
    /// Sees every emitted record (the live diagnostics); its state goes into every checkpoint.
    var observer: PanelObserver?
    /// The panel's users in the order they were added; ``emissionOrder`` lists them by id.
    private(set) var users: [Int32] = []
    private(set) var userIndex: [Int32: Int] = [:]
    /// Indexes into ``users``/``timelines``, ascending by user id: the order records are written in.
    private(set) var emissionOrder: [Int] = []
    var timelines: [UserTimeline] = []
    /// The panel's first day (nil until known: a live feed learns it when its first day closes).
    var firstDay: CalendarDay?
    /// Closed days each timeline keeps (8 for the leads; more when late rows may revise older days).
    let historyLength: Int
    /// True when timelines keep what a late-row revision needs (rolling-sum snapshots).
    let keepsRevisionState: Bool
    /// Thresholds each closed day was given, for the days a revision can still reach (day → thresholds).
    var dayThresholds: [CalendarDay: TreatmentThresholds] = [:]
    var progress: ReplayProgress
    private(set) var checkpointsCommitted = 0
    /// The last snapshot's size, to reserve the next one's buffer at once.
    private var lastSnapshotSize = 0

    /// Checkpoints are made durable (output fsync, LMDB commit) on this queue, one at a time, while
    /// the replay goes on: the fsync of a large output would otherwise stall the event loop.
    private let committer = DispatchQueue(label: "replay.checkpoint")
    private let pendingCommit = DispatchGroup()
    private let commitErrorLock = NSLock()
    private var commitError: Error?

    init(
        users: [Int32], firstDay: CalendarDay?, mode: ThresholdsMode, batchDistribution: ThresholdDistribution?,
        sink: RecordSink, state: StateBackend?, resumeFrom checkpoint: PanelCheckpoint?, reviseWindowDays: Int = 0,
        logger: Logger
    ) throws {
        self.mode = mode
        self.batchDistribution = batchDistribution
        self.sink = sink
        self.state = state
        self.logger = logger
        self.firstDay = firstDay
        historyLength = UserTimeline.leadHistoryLength + reviseWindowDays
        keepsRevisionState = reviseWindowDays > 0
        progress = checkpoint?.progress ?? ReplayProgress(nextDay: firstDay ?? CalendarDay(rawValue: 0))
        for user in users { _ = appendUser(user) }
        if let checkpoint {
            try checkpoint.timelines.forEach { user, bytes in
                let i = userIndex[user] ?? appendUser(user)
                timelines[i] = try UserTimeline(decoding: bytes, historyLength: historyLength)
            }
        }
    }

    /// Adds a user with an empty timeline; returns its index.
    private func appendUser(_ user: Int32) -> Int {
        let i = users.count
        users.append(user)
        userIndex[user] = i
        var timeline = UserTimeline()
        timeline.historyLength = historyLength
        timeline.keepsRevisionState = keepsRevisionState
        timelines.append(timeline)
        // Binary insertion keeps the emission order ascending by id (users mostly arrive in order).
        var low = 0, high = emissionOrder.count
        while low < high {
            let mid = (low + high) / 2
            if users[emissionOrder[mid]] < user { low = mid + 1 } else { high = mid }
        }
        emissionOrder.insert(i, at: low)
        return i
    }

    /// Adds a user first seen after days have closed: the dense panel holds every user on every day, so
    /// the user's earlier days are closed as inactive and their records written (final at once when
    /// all seven leads are known, else revision 0, revised as later days close). Returns its index.
    func addUser(_ user: Int32, closedThrough lastClosed: CalendarDay?) throws -> Int {
        if let i = userIndex[user] { return i }
        let i = appendUser(user)
        guard let first = firstDay, let last = lastClosed, first <= last else { return i }
        let inactive = DayAggregate().dailyValues()
        var day = first
        while day <= last {
            // An inactive day's treatment flags are 0 whatever the thresholds.
            _ = timelines[i].close(day: day, daily: inactive, thresholds: dayThresholds[day] ?? .never)
            // The day seven back now has all its leads: final at once.
            let complete = day.adding(-7)
            if complete >= first, let record = timelines[i].nextRevision(of: complete, userID: user, final: true) {
                try emit(record)
            }
            day = day.adding(1)
        }
        day = max(first, last.adding(-6))
        while day <= last {
            if let record = timelines[i].nextRevision(of: day, userID: user, final: false) { try emit(record) }
            day = day.adding(1)
        }
        return i
    }

    /// The thresholds for closing a day whose users' values are `dailies`.
    private func thresholds(closing dailies: [DailyValues]) -> TreatmentThresholds {
        switch mode {
        case .batch:
            var distribution = batchDistribution ?? ThresholdDistribution()
            return progress.thresholds ?? distribution.thresholds()
        case .expanding:
            for d in dailies where d.activeDay == 1 {
                progress.expanding.add(interactions: d.interactions, highWatchCount: d.highWatchCount)
            }
            return progress.expanding.thresholds()
        case .fixed(let a, let b):
            return TreatmentThresholds(highIntensity: a, highWatchShare: b)
        }
    }

    /// Closes `day` for every user (the open day's aggregates become the day's values), writes each
    /// user's revision 0, and the revisions of the days whose leads this day completes.
    func close(_ day: CalendarDay) throws {
        var dailies = [DailyValues]()
        dailies.reserveCapacity(users.count)
        for i in timelines.indices { dailies.append(timelines[i].open.dailyValues()) }
        let thresholds = thresholds(closing: dailies)
        progress.thresholds = thresholds
        if keepsRevisionState { dayThresholds[day] = thresholds }
        for i in emissionOrder {
            _ = timelines[i].close(day: day, daily: dailies[i], thresholds: thresholds)
            if let record = timelines[i].nextRevision(of: day, userID: users[i], final: false) {
                try emit(record)
            }
        }
        for h in PanelRules.revisionHorizons {
            let target = day.adding(-h)
            guard let first = firstDay, target >= first else { continue }
            for i in emissionOrder {
                if let record = timelines[i].nextRevision(of: target, userID: users[i], final: h == 7) {
                    try emit(record)
                }
            }
        }
        progress.daysClosed += 1
    }

    /// End of input: every pending record gets its final revision, day by day, user by user.
    func finishAll(lastDay: CalendarDay) throws {
        guard let first = firstDay else { return }
        var day = max(first, lastDay.adding(-6))
        while day <= lastDay {
            for i in emissionOrder {
                if let record = timelines[i].nextRevision(of: day, userID: users[i], final: true) {
                    try emit(record)
                }
            }
            day = day.adding(1)
        }
    }

    /// A late row's revision: `user`'s closed `day` gets the values `daily` (re-aggregated with the late
    /// row), and every record whose values change is written again with the next revision number: the
    /// day, the lags of the following days, the leads of the seven before, and, under expanding
    /// thresholds, the treatment flags of any user on a day from `day` on whose thresholds moved (the
    /// revised user-day is part of every later day's distribution). False when the day is beyond the
    /// revision window (nothing changes).
    func revise(user: Int32, day: CalendarDay, daily: DailyValues, lastClosed: CalendarDay) throws -> Bool {
        guard keepsRevisionState, let i = userIndex[user], let first = firstDay else { return false }
        guard let dayThreshold = dayThresholds[day] else { return false }
        let from = max(first, day.adding(-7))
        var before: [CalendarDay: UserDayRecord] = [:]
        var d = from
        while d <= lastClosed {
            guard let record = timelines[i].currentRecord(of: d, userID: user) else { return false }
            before[d] = record
            d = d.adding(1)
        }
        let old = before[day]!.daily
        guard timelines[i].revise(day: day, daily: daily, thresholds: dayThreshold) else { return false }
        var changed: [CalendarDay: Set<Int>] = [:]
        if case .expanding = mode {
            if old.activeDay == 1 {
                progress.expanding.remove(interactions: old.interactions, highWatchCount: old.highWatchCount)
            }
            if daily.activeDay == 1 {
                progress.expanding.add(interactions: daily.interactions, highWatchCount: daily.highWatchCount)
            }
            // Each day from `day` on closed with the distribution of the user-days closed up to it: walk
            // back from the last closed day, taking each day's active user-days out as we go.
            var asOf = progress.expanding
            var x = lastClosed
            while x >= day {
                let t = asOf.thresholds()
                if t != dayThresholds[x] {
                    dayThresholds[x] = t
                    for j in timelines.indices where timelines[j].applyThresholds(t, to: x) {
                        changed[x, default: []].insert(j)
                    }
                }
                if x > day {
                    for j in timelines.indices {
                        if let c = timelines[j].closedDay(x), c.daily.activeDay == 1 {
                            asOf.remove(interactions: c.daily.interactions, highWatchCount: c.daily.highWatchCount)
                        }
                    }
                }
                x = x.adding(-1)
            }
            progress.thresholds = dayThresholds[lastClosed]
        }
        d = from
        while d <= lastClosed {
            if let now = timelines[i].currentRecord(of: d, userID: user), !now.hasSameValues(as: before[d]!) {
                changed[d, default: []].insert(i)
            }
            d = d.adding(1)
        }
        // The sink's kept renderings of every changed record go first: a record's leads reuse later days' text.
        for (day, indexes) in changed { for j in indexes { sink.forget(userID: users[j], day: day) } }
        d = from
        while d <= lastClosed {
            if let indexes = changed[d] {
                for j in emissionOrder where indexes.contains(j) {
                    if let record = timelines[j].reissue(of: d, userID: users[j]) { try emit(record) }
                }
            }
            d = d.adding(1)
        }
        return true
    }

    @inline(__always)
    func emit(_ record: UserDayRecord) throws {
        try sink.write(record)
        observer?.recordEmitted(record)
        progress.recordsWritten += 1
        if record.isFinal { progress.finalRecords += 1 }
    }

    /// Takes a checkpoint: snapshots the state now, makes it durable on the checkpoint queue.
    /// `wait` blocks until it is durable (when the run stops). `live` is the live feed's own state.
    func checkpoint(wait: Bool = false, live: LiveFeedState? = nil) throws {
        try waitForPendingCommit()
        progress.outputBytes = try sink.flush()
        progress.committedAt = Date().timeIntervalSince1970
        var encoded = TimelineSnapshot.empty
        if state != nil {
            var w = ByteWriter()
            w.bytes.reserveCapacity(lastSnapshotSize + 4096)
            w.int(users.count)
            for i in timelines.indices {
                w.int(Int(users[i]))
                let lengthAt = w.bytes.count
                w.int(0)
                timelines[i].encode(into: &w)
                w.patch(w.bytes.count - lengthAt - 8, at: lengthAt)
            }
            lastSnapshotSize = w.bytes.count
            encoded = TimelineSnapshot(bytes: w.bytes)
        }
        let snapshot = PanelCheckpoint(
            progress: progress, timelines: encoded, diagnostics: observer?.checkpointState(), live: live)
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

/// Decides when a checkpoint is due under a ``CheckpointPolicy``.
struct CheckpointClock {
    var policy: CheckpointPolicy
    private var last = Date()
    private var eventsAtLast: Int

    init(policy: CheckpointPolicy, events: Int) {
        self.policy = policy
        eventsAtLast = events
    }

    /// True when the interval has passed since the last ``taken(events:)``.
    func isDue(events: Int) -> Bool {
        switch policy {
        case .seconds(let s): return Date().timeIntervalSince(last) >= s
        case .events(let n): return events - eventsAtLast >= n
        }
    }

    /// Notes a checkpoint taken now, at `events` replayed.
    mutating func taken(events: Int) {
        last = Date()
        eventsAtLast = events
    }
}
