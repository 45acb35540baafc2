internal import CPrefetch
import Foundation
import Logging

/// The one fold of the panel: the users' timelines, the thresholds and the progress, and the only way
/// to change them. Every driver (the archive ``Replayer``, the ``LiveFeed``) calls it the same way: play a
/// day's events in replay order, close the day, revise a closed day for a late row, add a late user,
/// checkpoint.
///
/// It does not decide *when* a day closes or where events come from: the archive replay closes a day
/// when its bucket is played; the live feed when the watermark passes the day's midnight in the engine's
/// time zone. Its one reason to change is the notebook's panel rules as a fold over days.
final class PanelEngine {
    let mode: ThresholdsMode
    let sink: RecordSink
    let logger: Logger
    /// The zone whose midnights end days.
    let timeZone: TimeZone
    /// The whole log's distribution, for batch thresholds (nil when the mode is not batch). A live feed that holds
    /// every day to the end of its input sets it then, before the first day closes.
    var batchDistribution: ThresholdDistribution?
    /// Sees every emitted record (the live diagnostics); its state goes into every checkpoint.
    var observer: PanelObserver?
    /// `--with-item-context`: joined to each user-day as it closes or is revised (set before the first close).
    var itemContext: ItemContextTable?
    /// The other instances of a sharded job, whose active user-days join each day's expanding thresholds.
    var thresholdsExchange: ThresholdsExchange?
    /// The panel's users in the order they were added; ``emissionOrder`` lists them by id.
    private(set) var users: [Int32] = []
    private(set) var userIndex: [Int32: Int] = [:]
    /// ``userIndex`` for the ids `0..<denseIndex.count`, as index + 1 (0: not a user), read by ``play(_:_:dropDuplicates:)``
    /// for every event instead of hashing. It covers ids up to ``denseIndexLimit(users:)`` (KuaiRec's ids are
    /// 0 to 7,175: 28 KB); an id above it is found in the dictionary.
    private var denseIndex: [Int32] = []
    /// Indexes into ``users``/``timelines``, ascending by user id: the order records are written in.
    private(set) var emissionOrder: [Int] = []
    private(set) var timelines: [UserTimeline] = []
    /// The panel's first day (nil until known: a live feed learns it when its first day closes).
    private(set) var firstDay: CalendarDay?
    /// Closed days each timeline keeps (8 for the leads; more when late rows may revise older days).
    let historyLength: Int
    /// Closed days a late row may still revise (0: none).
    let reviseWindowDays: Int
    /// Thresholds each closed day was given, for the days a revision can still reach (day → thresholds).
    private(set) var dayThresholds: [CalendarDay: TreatmentThresholds] = [:]
    private(set) var progress: ReplayProgress
    /// Checkpoints made durable on a queue beside the fold.
    let committer: CheckpointCommitter
    /// The timeline snapshot's chunk buffer, kept from one checkpoint to the next (``writtenTimelines()``).
    private var snapshotChunk: [UInt8] = []

    /// An engine for `users` (more may be added), fresh or restored from `checkpoint`.
    /// `dayThresholds` restores the thresholds of the closed days a revision can still reach.
    /// - Throws: when a checkpoint's timelines cannot be decoded.
    init(
        users: [Int32], firstDay: CalendarDay?, mode: ThresholdsMode, batchDistribution: ThresholdDistribution?,
        timeZone: TimeZone, sink: RecordSink, state: StateBackend?, resumeFrom checkpoint: PanelCheckpoint?,
        reviseWindowDays: Int = 0, dayThresholds: [CalendarDay: TreatmentThresholds] = [:], logger: Logger
    ) throws {
        self.mode = mode
        self.batchDistribution = batchDistribution
        self.timeZone = timeZone
        self.sink = sink
        self.logger = logger
        self.firstDay = firstDay
        self.reviseWindowDays = reviseWindowDays
        self.dayThresholds = dayThresholds
        historyLength = UserTimeline.leadHistoryLength + reviseWindowDays
        committer = CheckpointCommitter(sink: sink, state: state, logger: logger)
        progress = checkpoint?.progress ?? ReplayProgress(nextDay: firstDay ?? CalendarDay(rawValue: 0))
        for user in users { _ = appendUser(user) }
        if let checkpoint {
            try checkpoint.timelines.forEach { user, bytes in
                let i = userIndex[user] ?? appendUser(user)
                timelines[i] = try UserTimeline(decoding: bytes, historyLength: historyLength)
            }
        }
    }

    /// True when timelines keep what a late-row revision needs (rolling-sum snapshots).
    var keepsRevisionState: Bool { reviseWindowDays > 0 }

    /// The instant (Unix ms) `day` ends: its next midnight in the engine's time zone.
    func endOfDay(_ day: CalendarDay) -> Int64 { day.endMilliseconds(in: timeZone) }

    /// The ids ``denseIndex`` may cover with `users` users: 16 slots (64 bytes) a user, 65,536 at least.
    static func denseIndexLimit(users: Int) -> Int { max(1 << 16, 16 * users) }

    /// Adds a user with an empty timeline; returns its index.
    private func appendUser(_ user: Int32) -> Int {
        let i = users.count
        users.append(user)
        userIndex[user] = i
        if user >= 0, Int(user) < PanelEngine.denseIndexLimit(users: users.count) {
            if Int(user) >= denseIndex.count { denseIndex += repeatElement(0, count: Int(user) + 1 - denseIndex.count) }
            denseIndex[Int(user)] = Int32(i + 1)
        }
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

    // MARK: The fold

    /// How many events ahead ``play(_:_:dropDuplicates:)`` prefetches a timeline.
    static let playPrefetchDistance = 8

    /// How many users ahead in ``emissionOrder`` ``close(_:)`` asks for a user's closed days (read for its lags
    /// and revisions; every user's are read once a day, so each user's are out of the caches: in `perf annotate`
    /// their first loads held about half of `close`'s samples).
    static let closePrefetchDistance = 4

    /// Sets the order the open day's events are played in (``ReplayProgress/dayEventOrder``), before its first.
    func playOpenDay(in order: DayEventOrder) {
        progress.dayEventOrder = order == .time ? nil : order
    }

    /// Folds `events[range]` into the open day (``ReplayProgress/nextDay``): the day's next `range.count` events
    /// in ``ReplayProgress/dayEventOrder`` from ``ReplayProgress/dayEventOffset`` (a day may be played in chunks),
    /// after which it stands. `events` before `range` holds at least the events just before them that equal the
    /// first in timestamp, user and video (the whole day in its order, or a chunk gathered by
    /// ``ReplayOrderSort/gather(_:order:_:into:)``). An exact duplicate of an earlier event of the day is
    /// dropped when `dropDuplicates`, else counted in ``ReplayProgress/duplicateRows``. Every event's user
    /// must have been added. Returns the duplicates met.
    ///
    /// The events are played in time order across users, so each one's timeline is likely out of the cache (in
    /// `perf annotate` its first load held ~14% of the loop's samples): the timeline of the event
    /// ``playPrefetchDistance`` ahead is prefetched.
    @discardableResult
    func play(_ events: [Interaction], _ range: Range<Int>, dropDuplicates: Bool = false) -> Int {
        var cachedUser: Int32 = -1
        var cachedIndex = 0
        var duplicates = 0
        let ahead = Self.playPrefetchDistance
        let denseIndex = self.denseIndex
        /// The timeline of a user with a dense index (nil for the others: no prefetch).
        @inline(__always) func denseTimeline(_ user: Int32) -> Int? {
            guard user >= 0, Int(user) < denseIndex.count else { return nil }
            let dense = Int(denseIndex[Int(user)])
            return dense > 0 ? dense - 1 : nil
        }
        timelines.withUnsafeMutableBufferPointer { timelines in
            for i in range {
                if i + ahead < range.upperBound, let k = denseTimeline(events[i + ahead].userID) {
                    replay_prefetch_for_write(timelines.baseAddress! + k)
                }
                let e = events[i]
                if Interaction.isExactDuplicateOfEarlier(events, at: i) {
                    duplicates += 1
                    if dropDuplicates { continue }
                }
                if e.userID != cachedUser {
                    cachedUser = e.userID
                    cachedIndex = denseTimeline(e.userID) ?? userIndex[e.userID]!
                    // The user's run of events from here (in user order, its day or the chunk's part of it): its
                    // set of videos grows once to hold that many, not step by step (growing from 16 slots through
                    // every size is ~5% of the event loop's samples on KuaiRec's big matrix).
                    var runEnd = i + 1
                    while runEnd < range.upperBound && events[runEnd].userID == e.userID { runEnd += 1 }
                    timelines[cachedIndex].open.videos.reserve(runEnd - i)
                }
                timelines[cachedIndex].open.add(e)
            }
        }
        if !dropDuplicates { progress.duplicateRows += duplicates }
        progress.eventsReplayed += range.count
        progress.dayEventOffset += range.count
        return duplicates
    }

    /// A user-day's item context: nil when the context is not joined or the user was inactive.
    private func itemContext(of aggregate: DayAggregate, on day: CalendarDay) -> ItemContextValues? {
        guard let itemContext, aggregate.interactions > 0 else { return nil }
        return itemContext.values(videos: aggregate.videos, day: day)
    }

    /// The thresholds for closing `day`, whose users' sums are their timelines' open days. Under expanding
    /// thresholds with a ``thresholdsExchange`` the day's active user-days of the job's other instances join the
    /// distribution first.
    /// - Throws: what the exchange throws (the state is not changed then).
    private func thresholds(closing day: CalendarDay) throws -> TreatmentThresholds {
        switch mode {
        case .batch:
            var distribution = batchDistribution ?? ThresholdDistribution()
            return progress.thresholds ?? distribution.thresholds()
        case .expanding:
            var own: [ActiveUserDay] = []
            for i in timelines.indices where timelines[i].open.interactions > 0 {
                own.append(
                    ActiveUserDay(interactions: timelines[i].open.interactions, highWatchCount: timelines[i].open.highWatchCount))
            }
            let others = try thresholdsExchange?.exchange(day: day, own: own) ?? []
            for a in own + others { progress.expanding.add(interactions: a.interactions, highWatchCount: a.highWatchCount) }
            return progress.expanding.thresholds()
        case .fixed(let a, let b):
            return TreatmentThresholds(highIntensity: a, highWatchShare: b)
        }
    }

    /// Closes `day` (the open day) for every user: the open aggregates become the day's values, each
    /// user's revision 0 is written, and the revisions of the days whose leads this day completes. The
    /// first day closed is the panel's first day when it was not known.
    func close(_ day: CalendarDay) throws {
        if firstDay == nil { firstDay = day }
        let thresholds = try thresholds(closing: day)
        progress.thresholds = thresholds
        // A sink that keeps final revisions only gets the intermediate ones counted, not built; and as it writes
        // nothing but the finals, each user's revisions are made right after its close, in one pass over the
        // timelines instead of four (the sink gets the same records in the same order: the day's finals in
        // ``emissionOrder``; the observer counts revision 0 and the finals in sums of their own).
        let buildsIntermediate = sink.takesIntermediateRevisions
        let order = emissionOrder
        for n in order.indices {
            if n + Self.closePrefetchDistance < order.count {
                timelines.withUnsafeBufferPointer { $0[order[n + Self.closePrefetchDistance]].history.prefetch() }
            }
            let i = order[n]
            let totals = timelines[i].open.totals, context = itemContext(of: timelines[i].open, on: day)
            timelines[i].close(day: day, totals: totals, itemContext: context, thresholds: thresholds)
            try timelines[i].emitNextRevision(of: day, userID: users[i], final: false) { try emit($0) }
            if !buildsIntermediate {
                for h in PanelRules.revisionHorizons { try emitRevision(of: i, horizon: h, closing: day, buildsIntermediate: false) }
            }
        }
        if buildsIntermediate {
            for h in PanelRules.revisionHorizons {
                for i in emissionOrder { try emitRevision(of: i, horizon: h, closing: day, buildsIntermediate: true) }
            }
        }
        progress.daysClosed += 1
        progress.nextDay = day.adding(1)
        progress.dayEventOffset = 0
        progress.dayEventOrder = nil
        if keepsRevisionState {
            dayThresholds[day] = thresholds
            let oldestRevisable = day.adding(1 - reviseWindowDays)
            for old in dayThresholds.keys where old < oldestRevisable { dayThresholds.removeValue(forKey: old) }
        }
    }

    /// The revision of user `i`'s record of `h` days before `day` that closing `day` makes due (next_day,
    /// future_3day, final at 7), emitted; an intermediate one only counted when the sink does not
    /// `buildsIntermediate`. Nothing before the first day.
    @inline(__always)
    private func emitRevision(of i: Int, horizon h: Int, closing day: CalendarDay, buildsIntermediate: Bool) throws {
        let target = day.adding(-h)
        guard let first = firstDay, target >= first else { return }
        let final = h == 7
        if !final && !buildsIntermediate && timelines[i].skipIntermediateRevision(of: target) {
            progress.recordsWritten += 1
        } else {
            try timelines[i].emitNextRevision(of: target, userID: users[i], final: final) { try emit($0) }
        }
    }

    /// End of input: every pending record through `lastDay` gets its final revision, day by day, user by
    /// user, and the progress is marked finished. `nil`: the input held no day.
    func finish(through lastDay: CalendarDay?) throws {
        if let first = firstDay, let lastDay {
            var day = max(first, lastDay.adding(-6))
            while day <= lastDay {
                for i in emissionOrder {
                    try timelines[i].emitNextRevision(of: day, userID: users[i], final: true) { try emit($0) }
                }
                day = day.adding(1)
            }
        }
        progress.finished = true
    }

    /// Adds a user first seen after days have closed: the dense panel holds every user on every day, so
    /// the user's earlier days are closed as inactive and their records written (final at once when
    /// all seven leads are known, else revision 0, revised as later days close). Returns its index.
    @discardableResult
    func addUser(_ user: Int32, closedThrough lastClosed: CalendarDay?) throws -> Int {
        if let i = userIndex[user] { return i }
        let i = appendUser(user)
        guard let first = firstDay, let last = lastClosed, first <= last else { return i }
        let inactive = DayTotals()
        var day = first
        while day <= last {
            // An inactive day's treatment flags are 0 whatever the thresholds.
            timelines[i].close(day: day, totals: inactive, thresholds: dayThresholds[day] ?? .never)
            // The day seven back now has all its leads: final at once.
            let complete = day.adding(-7)
            if complete >= first {
                try timelines[i].emitNextRevision(of: complete, userID: user, final: true) { try emit($0) }
            }
            day = day.adding(1)
        }
        day = max(first, last.adding(-6))
        while day <= last {
            try timelines[i].emitNextRevision(of: day, userID: user, final: false) { try emit($0) }
            day = day.adding(1)
        }
        return i
    }

    @inline(__always)
    func emit(_ record: UserDayRecord) throws {
        try sink.write(record)
        observer?.recordEmitted(record)
        progress.recordsWritten += 1
        if record.isFinal { progress.finalRecords += 1 }
    }

    // MARK: Checkpoints

    /// Recorded once, before the first checkpoint (``Replayer/beforeFirstCheckpoint``).
    var beforeFirstCheckpoint: FirstCheckpointPrerequisite?

    /// False while the first checkpoint would wait for ``beforeFirstCheckpoint``.
    var firstCheckpointIsReady: Bool { beforeFirstCheckpoint?.isReady() ?? true }

    /// Takes a checkpoint: snapshots the state now and makes it durable on the commit queue. `wait`
    /// blocks until it is durable (when the run stops). `payloads` are the driver's own states, stored
    /// beside the observer's.
    func checkpoint(wait: Bool = false, payloads: [String: [UInt8]] = [:]) throws {
        if let before = beforeFirstCheckpoint {
            try before.record()
            beforeFirstCheckpoint = nil
        }
        try committer.waitForPending()
        progress.outputBytes = try sink.flush()
        progress.outputFingerprint = try sink.durability.fingerprint(ofFirst: progress.outputBytes)
        progress.committedAt = Date().timeIntervalSince1970
        var payloads = payloads
        if let observer { payloads[observer.payloadName] = try observer.checkpointPayload() }
        let snapshot = PanelCheckpoint(
            progress: progress, timelines: committer.needsTimelines ? try writtenTimelines() : .empty, payloads: payloads)
        committer.commit(consume snapshot)
        if wait { try committer.waitForPending() }
    }

    /// Every timeline, serialized (see ``TimelineSnapshot``) and handed to the state backend's writer in
    /// chunks of ``snapshotChunkBytes`` (``StateBackend/startSnapshot()``).
    ///
    /// Memory: the chunks, not the snapshot (~2.4 KB a user, ~17 MB for KuaiRec's big matrix, four times that
    /// at four times the users), are what is resident: the whole snapshot in one buffer, kept from one checkpoint
    /// to the next, would be the largest single block of the replay phase's peak. The chunk buffer is reserved at twice the chunk
    /// size (a user's timeline is appended whole before the chunk is handed over), so it never grows.
    private func writtenTimelines() throws -> TimelineSnapshot {
        let writer = try committer.startSnapshot()
        do {
            var w = ByteWriter()
            swap(&w.bytes, &snapshotChunk)
            w.bytes.removeAll(keepingCapacity: true)
            w.bytes.reserveCapacity(2 * Self.snapshotChunkBytes)
            w.int(users.count)
            for i in timelines.indices {
                let length = timelines[i].encodedSize
                w.int(Int(users[i]))
                w.int(length)
                // Traps when `encodedSize` disagrees with what `encode(into:)` writes.
                w.append(exactly: length) { timelines[i].encode(into: &$0) }
                if w.bytes.count >= Self.snapshotChunkBytes {
                    try handOver(&w.bytes, to: writer)
                    w.bytes.reserveCapacity(2 * Self.snapshotChunkBytes)
                }
            }
            if !w.bytes.isEmpty { try handOver(&w.bytes, to: writer) }
            swap(&w.bytes, &snapshotChunk)
            return try writer.finish()
        } catch {
            writer.abandon()
            throw error
        }
    }

    /// Moves `chunk` to `writer` (this side keeps no reference to it, so that the writer may reuse it in place)
    /// and puts the empty buffer the writer returns in its place.
    private func handOver(_ chunk: inout [UInt8], to writer: any TimelineSnapshotWriter) throws {
        var full: [UInt8] = []
        swap(&full, &chunk)
        chunk = try writer.write(consume full)
    }

    /// The bytes of a timeline snapshot's chunk (``writtenTimelines()``).
    static let snapshotChunkBytes = 256 << 10

    /// Checkpoints committed.
    var checkpointsCommitted: Int { committer.committed }
    /// How long the last checkpoint that became durable took to, in seconds (0 before the first).
    var lastCheckpointDurability: Double { committer.lastDurabilitySeconds }

    /// Waits for the checkpoints in flight, ignoring their errors: a driver calls it on its way out (a
    /// failed run included), so that no checkpoint is still syncing the output when its owner closes it.
    func settleCheckpoints() { try? committer.waitForPending() }
}

// MARK: Late rows

/// Late rows: revising a closed day of one user, and everything that depends on it.
extension PanelEngine {
    /// A late row joined `user`'s closed `day`: `events` is that user's day, the late row included, in
    /// replay order; they are folded as ``play(_:_:dropDuplicates:)`` folds a day, and every record whose
    /// values change is written again with the next revision number: the day, the lags of the following
    /// days, the leads of the seven before, and, under expanding thresholds, the treatment flags of any
    /// user on a day from `day` on whose thresholds moved (the revised user-day is part of every later
    /// day's distribution). False when the day is beyond the revision window (nothing changes).
    func revise(
        user: Int32, day: CalendarDay, events: [Interaction], dropDuplicates: Bool, lastClosed: CalendarDay
    ) throws -> Bool {
        guard keepsRevisionState, let i = userIndex[user], let first = firstDay,
            let dayThreshold = dayThresholds[day]
        else { return false }
        var aggregate = DayAggregate()
        for (k, e) in events.enumerated()
        where !(dropDuplicates && Interaction.isExactDuplicateOfEarlier(events, at: k)) {
            aggregate.add(e)
        }
        let totals = aggregate.totals, context = itemContext(of: aggregate, on: day)
        let daily = DailyValues(totals, itemContext: context)
        let from = max(first, day.adding(-7))
        guard let before = currentRecords(of: i, from: from, through: lastClosed) else { return false }
        let old = before[day]!.daily
        guard timelines[i].revise(day: day, totals: totals, itemContext: context, thresholds: dayThreshold) else {
            return false
        }
        var changed: [CalendarDay: Set<Int>] = [:]
        // The records as they stood before, for the observer: the revised user's, then those whose flags move.
        var previous: [CalendarDay: [Int: UserDayRecord]] = [:]
        for (d, record) in before { previous[d] = [i: record] }
        if case .expanding = mode {
            changed = reviseExpandingThresholds(
                replacing: old, with: daily, from: day, through: lastClosed, previous: &previous)
        }
        var d = from
        while d <= lastClosed {
            if let now = timelines[i].currentRecord(of: d, userID: user), !now.hasSameValues(as: before[d]!) {
                changed[d, default: []].insert(i)
            }
            d = d.adding(1)
        }
        try reissue(changed, from: from, through: lastClosed, previous: previous)
        progress.eventsReplayed += 1
        return true
    }

    /// User `i`'s current records of the days `from...through` (nil when one is no longer kept).
    private func currentRecords(of i: Int, from: CalendarDay, through last: CalendarDay) -> [CalendarDay: UserDayRecord]? {
        var records: [CalendarDay: UserDayRecord] = [:]
        var d = from
        while d <= last {
            guard let record = timelines[i].currentRecord(of: d, userID: users[i]) else { return nil }
            records[d] = record
            d = d.adding(1)
        }
        return records
    }

    /// Expanding thresholds after one user-day's values went from `old` to `new`: each day from `day` on
    /// closed with the distribution of the user-days closed up to it, so the days are walked back from
    /// the last closed one, taking each day's active user-days out as we go. Returns the users whose
    /// treatment flags moved, by day; with an observer, their records as they stood before go into `previous`
    /// (where none is yet: the revised user's are there already).
    private func reviseExpandingThresholds(
        replacing old: DailyValues, with new: DailyValues, from day: CalendarDay, through lastClosed: CalendarDay,
        previous: inout [CalendarDay: [Int: UserDayRecord]]
    ) -> [CalendarDay: Set<Int>] {
        if old.activeDay == 1 {
            progress.expanding.remove(interactions: old.interactions, highWatchCount: old.highWatchCount)
        }
        if new.activeDay == 1 {
            progress.expanding.add(interactions: new.interactions, highWatchCount: new.highWatchCount)
        }
        var changed: [CalendarDay: Set<Int>] = [:]
        var asOf = progress.expanding
        var x = lastClosed
        while x >= day {
            let t = asOf.thresholds()
            if t != dayThresholds[x] {
                dayThresholds[x] = t
                for j in timelines.indices {
                    let before = observer == nil ? nil : timelines[j].currentRecord(of: x, userID: users[j])
                    guard timelines[j].applyThresholds(t, to: x) else { continue }
                    changed[x, default: []].insert(j)
                    if let before, previous[x]?[j] == nil { previous[x, default: [:]][j] = before }
                }
            }
            if x > day {
                for j in timelines.indices {
                    if let c = timelines[j].closedDay(x), c.totals.isActive {
                        asOf.remove(interactions: c.totals.interactions, highWatchCount: c.totals.highWatchCount)
                    }
                }
            }
            x = x.adding(-1)
        }
        progress.thresholds = dayThresholds[lastClosed]
        return changed
    }

    /// Writes the next revision of every changed record, day by day, users in emission order; the observer is
    /// told which record each replaces (`previous`).
    private func reissue(
        _ changed: [CalendarDay: Set<Int>], from: CalendarDay, through last: CalendarDay,
        previous: [CalendarDay: [Int: UserDayRecord]]
    ) throws {
        var d = from
        while d <= last {
            if let indexes = changed[d] {
                for j in emissionOrder where indexes.contains(j) {
                    guard let record = timelines[j].reissue(of: d, userID: users[j]) else { continue }
                    try sink.write(record)
                    if let observer {
                        if let old = previous[d]?[j] {
                            observer.recordRevised(record, replacing: old)
                        } else {
                            observer.recordEmitted(record)
                        }
                    }
                    progress.recordsWritten += 1
                    if record.isFinal { progress.finalRecords += 1 }
                }
            }
            d = d.adding(1)
        }
    }
}

/// One active user-day as the thresholds see it: its interactions and its rows with `watch_ratio >= 0.8`.
public struct ActiveUserDay: Codable, Sendable, Equatable {
    public var interactions: Int
    public var highWatchCount: Int

    /// The day a batch job's whole-log distribution is exchanged as (``ThresholdsExchange``): after every real day.
    public static let wholeLogDay = CalendarDay(yyyymmdd: 9999_12_31)!

    public init(interactions: Int, highWatchCount: Int) {
        self.interactions = interactions
        self.highWatchCount = highWatchCount
    }
}

/// The instances of one sharded job (each over some partitions of one topic) agree on expanding thresholds: closing
/// day D, each gives the others its day-D active user-days and waits for theirs, so every instance's day-D
/// distribution is the whole panel's, exactly as one instance over every partition would have it.
public protocol ThresholdsExchange: AnyObject {
    /// Hands over `own` (this instance's active user-days of `day`) and returns every other instance's for `day`,
    /// waiting until all are in.
    /// - Throws: when it cannot (the cluster fails, or a stop was asked while waiting).
    func exchange(day: CalendarDay, own: [ActiveUserDay]) throws -> [ActiveUserDay]
}

/// A stop was asked (SIGINT, SIGTERM) while a day waited for the job's other instances: the day is not closed, and
/// the last checkpoint stands.
public struct StoppedWhileWaiting: Error, CustomStringConvertible {
    /// The day that waited, and for whom.
    public var day: CalendarDay
    public var waitingFor: String

    public init(day: CalendarDay, waitingFor: String) {
        self.day = day
        self.waitingFor = waitingFor
    }

    public var description: String {
        "stopped while \(day) waited for \(waitingFor); the last checkpoint stands: rerun the same command to go on"
    }
}
