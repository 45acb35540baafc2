import Foundation
import Logging

/// What to do with a row whose day has already closed.
public enum LatePolicy: String, Sendable, CaseIterable, Codable {
    /// Write it to the rejects file with reason `late`, how late it was and its day.
    case reject
    /// Put it into its day and write every record that changes again, with a higher revision.
    case revise
}

/// Where a live feed's rejected rows go (a JSON lines file in the sink module).
public protocol LiveRejectWriter: RejectWriter {
    /// Records a row whose day had closed: `reason` is ``RejectReason/late`` (then `latenessMs` is how far
    /// behind the newest event time it was; nil without a timestamp) or ``RejectReason/idleClosed`` (then
    /// `latenessMs` is how long after the idle close of its day it arrived, in wall-clock ms); `note` says
    /// why it could not be revised (nil under the reject policy).
    func rejectLate(
        line: Int64, raw: UnsafeRawBufferPointer, reason: RejectReason, day: CalendarDay, latenessMs: Int64?, note: String?
    ) throws
    /// Hands buffered rows to the operating system; returns the file's length in bytes.
    func flush() throws -> Int64
    /// Makes flushed rows durable (fsync).
    func sync() throws
}

/// The options of a live feed.
public struct LiveOptions: Sendable, Equatable {
    /// A day closes when the newest event time minus this passes the day's midnight.
    public var allowedLatenessMs: Int64 = 0
    /// Also close the open days after this many wall seconds without a row (nil: never).
    public var idleCloseSeconds: Double?
    /// What happens to late rows.
    public var latePolicy: LatePolicy = .reject
    /// Under `revise`: how many of the most recently closed days a late row may still revise.
    public var reviseWindowDays = 7
    /// The zone whose midnights close days (and whose calendar days rows without a date fall on).
    public var timeZone: TimeZone
    /// Drop exact duplicates (`--dedupe`).
    public var dedupe = false
    /// Skip this many data rows of the input first (rows a previous run already consumed); it must be the
    /// count the state consumed. Nil: a feed re-sent from its start is recognised and skipped by itself.
    public var skipRows: Int?
    /// The most days the panel may span; a row this far or further from the first day is rejected
    /// `outside_panel_span`.
    public var maxPanelDays = IngestOptions.defaultMaxPanelDays
    /// The input keeps its own position (a partitioned log read from a checkpoint's offsets): a resumed feed
    /// reads on from exactly where the consumed rows end, and no row is skipped or compared with them.
    public var inputKeepsItsPosition = false

    /// The most days `reviseWindowDays` may be.
    public static let maxReviseWindowDays = UserTimeline.maxHistoryLength - UserTimeline.leadHistoryLength

    public init(timeZone: TimeZone) { self.timeZone = timeZone }

    /// The options as text, for the state folder's identity (a resumed run must use the same).
    public var identity: String {
        var text = "lateness=\(allowedLatenessMs)ms late-policy=\(latePolicy.rawValue)"
        if latePolicy == .revise { text += " revise-window=\(reviseWindowDays)" }
        return text
    }

    /// Closed days a late row may still revise (0 under `reject`).
    var revisableDays: Int { latePolicy == .revise ? reviseWindowDays : 0 }
}

/// A live feed's own state, committed with every checkpoint beside the timelines.
public struct LiveFeedState: Codable, Sendable, Equatable {
    /// The last day closed (nil before the first close).
    public var lastClosed: CalendarDay?
    /// The panel's first day (the first day closed).
    public var firstDay: CalendarDay?
    /// The newest event time seen (Unix ms); the watermark is this minus the allowed lateness.
    public var maxEventMs: Int64?
    /// The latest day of an accepted row.
    public var maxDay: CalendarDay?
    /// Data rows read, over every run of this state folder.
    public var rowsRead = 0
    /// The digest of every data row read (``RowDigest``; nil in a state folder made before it was kept).
    public var rowsDigest: UInt64?
    /// The digest of the first data row read (nil before one was read, or in an older state folder).
    public var firstRowDigest: UInt64?
    /// Rows in the panel.
    public var rowsAccepted = 0
    /// Rows rejected, by reason (`late` included).
    public var rejected: [String: Int] = [:]
    /// Late rows (rejected as `late`, or revised in).
    public var lateRows = 0
    /// Late rows put into their day under `--late-policy revise`.
    public var revisedRows = 0
    /// Accepted rows whose date label differs from their timestamp's day.
    public var dateLabelDisagreements = 0
    /// Events in each day file kept in the state folder (open days, and closed days a revision may reach).
    public var dayEvents: [CalendarDay: Int] = [:]
    /// The thresholds each revisable closed day was given.
    public var dayThresholds: [CalendarDay: TreatmentThresholds] = [:]
    /// Bytes of the rejects file committed.
    public var rejectsBytes: Int64 = 0
    /// True once the end of the input was seen and every record written final.
    public var ended = false
    /// The last input line consumed, counted over every input the feed was given (a run given the rest of
    /// the feed numbers its lines on from here; a feed re-sent from its start numbers them as before). Nil
    /// in a state folder made before it was kept.
    public var linesRead: Int64?
    /// Days `--idle-close` closed before the watermark passed them, with the wall-clock time of that close
    /// (Unix ms); a day leaves once the watermark passes it. Nil when none.
    public var idleClosedAtMs: [CalendarDay: Int64]?

    public init() {}

    /// The name a checkpoint stores this state under.
    public static let payloadName = "live"

    /// The state a checkpoint holds (nil when it holds none: an archive run's, or none yet).
    /// - Throws: when the stored state cannot be decoded.
    public init?(checkpoint: PanelCheckpoint?) throws {
        try self.init(payload: checkpoint?.payloads[LiveFeedState.payloadName])
    }

    /// The state stored as `payload` (nil when none is).
    /// - Throws: when the stored state cannot be decoded.
    public init?(payload: [UInt8]?) throws {
        guard let payload else { return nil }
        self = try JSONDecoder().decode(LiveFeedState.self, from: Data(payload))
    }

    /// This state as a checkpoint payload.
    func payload() throws -> [UInt8] { Array(try JSONEncoder().encode(self)) }

    /// Rows rejected, all reasons together.
    public var rowsRejected: Int { rejected.values.reduce(0, +) }
}

/// The live event loop: rows arrive from a pipe in arrival order; each day closes when the watermark
/// (newest event time minus the allowed lateness) passes its midnight in the time zone, or when the
/// feed has been quiet for `--idle-close`; late rows are rejected or revised in; end of input closes
/// every day and writes every record final.
///
/// A closing day's events are sorted exactly as the archive replay sorts a day bucket (timestamp, user,
/// video, arrival order) and played through the same ``PanelEngine``, so a feed that arrives within
/// the allowed lateness gives the archive replay's panel.
public final class LiveFeed {
    /// Why ``run(input:shouldStop:)`` returned.
    public enum Outcome: Equatable, Sendable {
        /// The input ended; every record is final.
        case finished
        /// Stopped at a safe point because a stop was requested (the end of input was not declared).
        case interrupted
    }

    private let options: LiveOptions
    private let engine: PanelEngine
    private let buckets: DayBuckets
    private let rejects: LiveRejectWriter
    /// How often to checkpoint.
    public var checkpointPolicy: CheckpointPolicy
    /// The feed's counters and positions.
    public private(set) var live: LiveFeedState
    /// The replay's counters (records written, days closed, ...).
    public var progress: ReplayProgress { engine.progress }
    /// The panel's users so far, ascending.
    public var users: [Int32] { engine.emissionOrder.map { engine.users[$0] } }
    /// Called after each read and each closed day, for progress lines.
    public var onProgress: ((ReplayProgress, LiveFeedState) -> Void)?
    /// `--with-item-context`: the table joined to each user-day as it closes (set before running).
    public var itemContext: ItemContextTable? {
        get { engine.itemContext }
        set { engine.itemContext = newValue }
    }
    /// A sharded job's exchange of each day's active user-days (expanding thresholds agreed across instances).
    public var thresholdsExchange: ThresholdsExchange? {
        get { engine.thresholdsExchange }
        set { engine.thresholdsExchange = newValue }
    }
    /// The input's own position and watermark bound (a partitioned log; ``LiveOptions/inputKeepsItsPosition``):
    /// stored in every checkpoint, and the watermark trails its bound instead of the newest event time.
    public var positionedInput: PositionedFeedInput?
    /// Sees every row the feed takes (not the rows of a re-sent feed it skips), in arrival order; its state
    /// goes into every checkpoint.
    public var rowObserver: LiveRowObserver?
    /// Sees every record the feed emits (``PanelObserver``); its state goes into every checkpoint.
    public var panelObserver: PanelObserver? {
        get { engine.observer }
        set { engine.observer = newValue }
    }
    /// The columns ``rowObserver`` was last told of.
    private var observedColumns: InteractionColumns?
    /// How the input's first rows are taken on a resume: a feed re-sent from its start is skipped (and
    /// checked) up to the rows already consumed; one that continues where it stopped is read as it comes.
    private enum Resumption {
        /// Until the first row: a row that digests as the feed's first row means a re-sent feed.
        case undecided
        /// Re-sent from the start: `remaining` rows to skip, digested as they go by.
        case skipping(remaining: Int, digest: RowDigest)
        /// Every row is new.
        case reading
    }
    private var resumption: Resumption
    /// The running digest of the rows consumed (nil while continuing an older state folder that kept none).
    private var rowsDigest: RowDigest?
    /// Closed days retired since the last checkpoint: their files go once a checkpoint without them is durable.
    private var retiredSinceCheckpoint: [CalendarDay] = []
    /// Days retired before the checkpoint being committed (whose commit may not be durable yet).
    private var retiredBeforeInFlightCheckpoint: [CalendarDay] = []
    /// Measures the idle close and the checkpoint interval.
    private let clock: any WallClock
    /// When the last bytes arrived (``WallClock/now()``).
    private var lastArrival = 0.0
    /// True when this input is the rest of a feed earlier runs read: its lines are numbered on from theirs.
    private var continuesFeed = false
    /// The last line the feed's earlier runs consumed (the state's, when this run started).
    private let linesReadBefore: Int64

    /// Prepares a feed, fresh or from a checkpoint (the day files in `buckets` are cut back to it). The idle
    /// close and a checkpoint interval in seconds are measured on `clock`.
    /// - Throws: when the checkpoint cannot be restored.
    public init(
        options: LiveOptions, mode: ThresholdsMode, sink: RecordSink, state: StateBackend?, buckets: DayBuckets,
        rejects: LiveRejectWriter, resumeFrom checkpoint: PanelCheckpoint?, checkpointPolicy: CheckpointPolicy = .auto,
        logger: Logger, clock: any WallClock = SystemClock()
    ) throws {
        self.options = options
        self.clock = clock
        self.buckets = buckets
        self.rejects = rejects
        self.checkpointPolicy = checkpointPolicy
        live = try LiveFeedState(checkpoint: checkpoint) ?? LiveFeedState()
        engine = try PanelEngine(
            users: [], firstDay: live.firstDay, mode: mode, batchDistribution: nil, timeZone: options.timeZone,
            sink: sink, state: state, resumeFrom: checkpoint, reviseWindowDays: options.revisableDays,
            dayThresholds: live.dayThresholds, logger: logger)
        try buckets.restore(counts: live.dayEvents)
        (resumption, rowsDigest) = try LiveFeed.resumption(
            of: live, skipRows: options.skipRows, keepsPosition: options.inputKeepsItsPosition)
        linesReadBefore = live.linesRead ?? 0
        if case .reading = resumption { continuesFeed = live.rowsRead > 0 }
    }

    /// How a run with `skipRows` takes its input after `live`, and the digest it goes on from.
    /// - Throws: ``FeedPositionError`` when `skipRows` is not the count of rows consumed.
    private static func resumption(
        of live: LiveFeedState, skipRows: Int?, keepsPosition: Bool
    ) throws -> (Resumption, RowDigest?) {
        let digest: RowDigest?
        if live.rowsRead == 0 {
            digest = RowDigest()
        } else if let stored = live.rowsDigest {
            var restored = RowDigest()
            restored.restore(stored)
            digest = restored
        } else {
            digest = nil  // an older state folder: no digest to check against or go on from
        }
        if keepsPosition { return (.reading, digest) }
        if let skip = skipRows {
            guard skip == live.rowsRead else {
                throw FeedPositionError(.skipRowsMismatch(given: skip, consumed: live.rowsRead))
            }
            return (skip == 0 ? .reading : .skipping(remaining: skip, digest: RowDigest()), digest)
        }
        return (live.rowsRead > 0 && live.firstRowDigest != nil ? .undecided : .reading, digest)
    }

    /// The instant (Unix ms) a day ends: its next midnight in the time zone.
    public func endOfDay(_ day: CalendarDay) -> Int64 { engine.endOfDay(day) }

    /// Reads `input` until it ends or a stop is requested.
    public func run(input: LiveInput, shouldStop: () -> Bool = { false }) throws -> Outcome {
        defer { engine.settleCheckpoints() }
        if live.ended { return try refuseRowsAfterTheEnd(input: input, shouldStop: shouldStop) }
        let engine = self.engine
        var checkpoints = CheckpointClock(
            policy: checkpointPolicy, events: engine.progress.eventsReplayed, clock: clock,
            durability: { engine.lastCheckpointDurability })
        lastArrival = clock.now()
        while true {
            if shouldStop() {
                try checkpoint(wait: true)
                return .interrupted
            }
            let timeout = pollTimeoutMs()
            let poll = try input.pump(timeoutMs: timeout) { outcome, raw, line in
                try handle(outcome, raw: raw, line: line, input: input)
            }
            switch poll {
            case .data:
                lastArrival = clock.now()
            case .idle:
                // A positioned input's bound moves without rows (a partition falls idle).
                if positionedInput != nil { try advanceWatermark() }
                if !holdsDaysToTheEnd, let idle = options.idleCloseSeconds, clock.now() - lastArrival >= idle,
                    let maxDay = live.maxDay, live.lastClosed.map({ $0 < maxDay }) ?? true
                {
                    try closeDays(through: maxDay, forIdleness: true)
                }
            case .end:
                if holdsDaysToTheEnd, live.lastClosed == nil { try takeWholeLogDistribution() }
                if let maxDay = live.maxDay { try closeDays(through: maxDay) }
                try engine.finish(through: live.lastClosed)
                live.ended = true
                try checkpoint(wait: true)
                onProgress?(engine.progress, live)
                return .finished
            }
            onProgress?(engine.progress, live)
            if checkpoints.isDue(events: engine.progress.eventsReplayed) {
                try checkpoints.take({ try checkpoint() }, events: { engine.progress.eventsReplayed })
            }
        }
    }

    /// A feed that ended takes no more rows. A rerun of the finished command sends an empty input, or the whole
    /// feed again: the rows it consumed are recognised and skipped, as on a resume (``skipsConsumedRow(_:)``).
    /// - Throws: ``FeedPositionError``: `.feedEnded` at the first row the feed did not consume,
    ///   `.resentFeedDiffers` when a feed re-sent from its start is not the one consumed.
    private func refuseRowsAfterTheEnd(input: LiveInput, shouldStop: () -> Bool) throws -> Outcome {
        while !shouldStop() {
            let poll = try input.pump(timeoutMs: 250) { _, raw, _ in
                if try !skipsConsumedRow(raw) { throw FeedPositionError(.feedEnded(consumed: live.rowsRead)) }
            }
            if poll == .end { return .finished }
        }
        return .finished
    }

    /// Short waits (a stop request or a due checkpoint is noticed within a quarter second), and no
    /// longer than the idle close needs.
    private func pollTimeoutMs() -> Int32 {
        var ms = 250.0
        if let idle = options.idleCloseSeconds {
            let left = idle - (clock.now() - lastArrival)
            ms = min(ms, max(1, left * 1000))
        }
        return Int32(ms)
    }

    /// Takes one row; `inputLine` is its line in `input`, whose CSV header (if any) was `input.headerLine`. A
    /// run given the rest of the feed numbers its rows on from the earlier runs' last line, as lines of one
    /// feed (its repeated header not counted); a feed re-sent from its start keeps its own numbers. The row
    /// observer is shown each row with the outcome the feed gives it.
    private func handle(
        _ outcome: InteractionDecoder.Outcome, raw: UnsafeRawBufferPointer, line inputLine: Int64, input: LiveInput
    ) throws {
        positionedInput?.rowTaken(line: inputLine)
        if try skipsConsumedRow(raw) {
            live.linesRead = inputLine
            return
        }
        func observe(_ shown: InteractionDecoder.Outcome) throws {
            if let rowObserver { try input.show(currentRowTo: rowObserver, outcome: shown, begun: &observedColumns) }
        }
        let line = continuesFeed ? linesReadBefore + inputLine - (input.headerLine ?? 0) : inputLine
        live.linesRead = line
        live.rowsRead += 1
        if rowsDigest != nil {
            rowsDigest!.add(raw)
            live.rowsDigest = rowsDigest!.value
            if live.rowsRead == 1 { live.firstRowDigest = RowDigest.of(raw) }
        }
        switch outcome {
        case .rejected(let reason):
            try observe(outcome)
            try reject(line: line, reason: reason, raw: raw)
        case .accepted(let event, let day, let disagrees):
            if let first = live.firstDay ?? live.dayEvents.keys.min(),
                abs(first.distance(to: day)) >= options.maxPanelDays
            {
                try observe(.rejected(.outsidePanelSpan))
                try reject(line: line, reason: .outsidePanelSpan, raw: raw)
                return
            }
            if let lastClosed = live.lastClosed, day <= lastClosed {
                try late(event, day: day, lastClosed: lastClosed, raw: raw, line: line, disagrees: disagrees) {
                    try observe($0.map { .rejected($0) } ?? outcome)
                }
                return
            }
            try observe(outcome)
            try engine.addUser(event.userID, closedThrough: live.lastClosed)
            try buckets.append(event, day: day)
            live.dayEvents[day, default: 0] += 1
            live.rowsAccepted += 1
            if disagrees { live.dateLabelDisagreements += 1 }
            if live.maxDay.map({ day > $0 }) ?? true { live.maxDay = day }
            if event.timestampMs != Interaction.missingTimestamp, live.maxEventMs.map({ event.timestampMs > $0 }) ?? true {
                live.maxEventMs = event.timestampMs
                try advanceWatermark()
            }
        }
    }

    /// True when `raw` is a row the feed already consumed (a feed re-sent from its start); checks, once the
    /// last of them went by, that they were the rows consumed.
    /// - Throws: ``FeedPositionError`` when a re-sent feed's first rows differ from the ones consumed.
    private func skipsConsumedRow(_ raw: UnsafeRawBufferPointer) throws -> Bool {
        if case .undecided = resumption {
            resumption = RowDigest.of(raw) == live.firstRowDigest
                ? .skipping(remaining: live.rowsRead, digest: RowDigest()) : .reading
            if case .reading = resumption { continuesFeed = true }
        }
        guard case .skipping(let remaining, var digest) = resumption else { return false }
        digest.add(raw)
        if remaining > 1 {
            resumption = .skipping(remaining: remaining - 1, digest: digest)
            return true
        }
        resumption = .reading
        if let expected = live.rowsDigest, digest.value != expected {
            throw FeedPositionError(.resentFeedDiffers(consumed: live.rowsRead))
        }
        return true
    }

    private func reject(line: Int64, reason: RejectReason, raw: UnsafeRawBufferPointer) throws {
        live.rejected[reason.rawValue, default: 0] += 1
        try rejects.reject(line: line, reason: reason, raw: raw)
    }

    /// A row for a closed day: revised in when the policy and the window allow, else rejected `late`.
    /// `observe` is told first how it is taken: nil when revised in, else the reason it is rejected for.
    private func late(
        _ event: Interaction, day: CalendarDay, lastClosed: CalendarDay, raw: UnsafeRawBufferPointer, line: Int64,
        disagrees: Bool, observe: (RejectReason?) throws -> Void
    ) throws {
        live.lateRows += 1
        let idleClosedAt = live.idleClosedAtMs?[day]
        let reason: RejectReason = idleClosedAt == nil ? .late : .idleClosed
        let lateness: Int64?
        if let idleClosedAt {
            lateness = max(0, clock.calendarMs() - idleClosedAt)
        } else {
            lateness = event.timestampMs == Interaction.missingTimestamp ? nil : live.maxEventMs.map { $0 - event.timestampMs }
        }
        var note: String? = nil
        if options.latePolicy == .revise {
            if let first = live.firstDay, day < first {
                note = "its day is before the panel's first day \(first)"
            } else if day.distance(to: lastClosed) >= options.reviseWindowDays {
                note = "its day is older than the revise window (the last \(options.reviseWindowDays) closed days)"
            } else {
                try observe(nil)
                try revise(with: event, day: day, lastClosed: lastClosed)
                live.revisedRows += 1
                live.rowsAccepted += 1
                if disagrees { live.dateLabelDisagreements += 1 }
                return
            }
        }
        try observe(reason)
        live.rejected[reason.rawValue, default: 0] += 1
        try rejects.rejectLate(line: line, raw: raw, reason: reason, day: day, latenessMs: lateness, note: note)
    }

    /// Puts a late event into its closed day (kept in the day's file) and re-aggregates the user's day
    /// in replay order, as the archive replay would have.
    private func revise(with event: Interaction, day: CalendarDay, lastClosed: CalendarDay) throws {
        let user = event.userID
        try engine.addUser(user, closedThrough: lastClosed)
        try buckets.append(event, day: day)
        live.dayEvents[day, default: 0] += 1
        try buckets.flush()
        let events = try buckets.sortedEvents(for: day, user: user)
        guard try engine.revise(user: user, day: day, events: events, dropDuplicates: options.dedupe, lastClosed: lastClosed)
        else { preconditionFailure("a day inside the revise window must be revisable") }
    }

    /// The event time the watermark trails: the newest seen, or the bound of a positioned input's partitions
    /// (nil: nothing may close yet).
    private var watermarkEventMs: Int64? {
        guard let positionedInput else { return live.maxEventMs }
        return positionedInput.eventTimeBound(fallback: live.maxEventMs)
    }

    /// Batch thresholds need the whole log: such a feed (a topic read to its end) closes no day before its input ends.
    private var holdsDaysToTheEnd: Bool { engine.mode == .batch }

    /// Closes every day whose midnight the watermark has passed.
    private func advanceWatermark() throws {
        guard !holdsDaysToTheEnd, let newest = watermarkEventMs else { return }
        let watermark = newest - options.allowedLatenessMs
        while let next = nextDayToClose(), endOfDay(next) <= watermark {
            try close(next)
        }
        if let idleClosed = live.idleClosedAtMs {
            // A day the watermark has passed is one it would have closed: a row for it is late in event time.
            let kept = idleClosed.filter { endOfDay($0.key) > watermark }
            live.idleClosedAtMs = kept.isEmpty ? nil : kept
        }
    }

    /// The batch thresholds' distribution, taken when the input has ended and before any day closes: every held day's
    /// active user-days (their interactions and high-watch rows, as the engine folds them), and a job's other
    /// instances' (``ThresholdsExchange``, exchanged as ``ActiveUserDay/wholeLogDay``).
    /// - Throws: reading the held days, and what the exchange throws.
    private func takeWholeLogDistribution() throws {
        try buckets.flush()
        var own: [ActiveUserDay] = []
        for day in live.dayEvents.keys.sorted() {
            let events = try buckets.sortedEvents(for: day)
            var perUser: [Int32: ActiveUserDay] = [:]
            for (i, e) in events.enumerated() where !(options.dedupe && Interaction.isExactDuplicateOfEarlier(events, at: i)) {
                perUser[e.userID, default: ActiveUserDay(interactions: 0, highWatchCount: 0)].interactions += 1
                if e.watchRatio >= PanelRules.highWatchThreshold { perUser[e.userID]!.highWatchCount += 1 }
            }
            own += perUser.keys.sorted().map { perUser[$0]! }
        }
        let others = try thresholdsExchange?.exchange(day: ActiveUserDay.wholeLogDay, own: own) ?? []
        var distribution = ThresholdDistribution()
        for a in own + others { distribution.add(interactions: a.interactions, highWatchCount: a.highWatchCount) }
        engine.batchDistribution = distribution
    }

    /// Closes every day up to and including `target` (end of input; an idle close, which records the days
    /// the watermark had not passed and when).
    private func closeDays(through target: CalendarDay, forIdleness: Bool = false) throws {
        let watermark = watermarkEventMs.map { $0 - options.allowedLatenessMs } ?? Int64.min
        while let next = nextDayToClose(), next <= target {
            try close(next)
            if forIdleness && endOfDay(next) > watermark {
                live.idleClosedAtMs = (live.idleClosedAtMs ?? [:]).merging([next: clock.calendarMs()]) { $1 }
            }
        }
    }

    /// The day after the last closed one; before the first close, the earliest day with events.
    private func nextDayToClose() -> CalendarDay? {
        if let last = live.lastClosed { return last.adding(1) }
        return live.dayEvents.keys.min()
    }

    /// Plays `day`'s events through the engine and closes it; day files a revision can no longer reach
    /// are retired (deleted once a checkpoint that no longer lists them is durable).
    private func close(_ day: CalendarDay) throws {
        if live.firstDay == nil { live.firstDay = day }
        if live.dayEvents[day] != nil { try buckets.flush() }
        let events = live.dayEvents[day] == nil ? [] : try buckets.sortedEvents(for: day)
        let duplicates = engine.play(events, events.indices, dropDuplicates: options.dedupe)
        if options.dedupe {
            live.rejected[RejectReason.duplicate.rawValue, default: 0] += duplicates
            live.rowsAccepted -= duplicates
        }
        try engine.close(day)
        live.lastClosed = day
        let oldestKept = day.adding(1 - options.revisableDays)
        for old in live.dayEvents.keys where old < oldestKept {
            buckets.retireDay(old)
            live.dayEvents.removeValue(forKey: old)
            retiredSinceCheckpoint.append(old)
        }
        onProgress?(engine.progress, live)
    }

    /// Commits a checkpoint: the day files and the rejects made durable first, then the timelines,
    /// the output length and this feed's state in one transaction.
    private func checkpoint(wait: Bool = false) throws {
        try buckets.flushAndSync()
        live.rejectsBytes = try rejects.flush()
        try rejects.sync()
        live.dayThresholds = engine.dayThresholds
        let retired = retiredSinceCheckpoint
        retiredSinceCheckpoint = []
        var payloads = [LiveFeedState.payloadName: try live.payload()]
        if let rowObserver { payloads[rowObserver.payloadName] = try rowObserver.checkpointPayload() }
        if let positionedInput { payloads[positionedInput.payloadName] = try positionedInput.checkpointPayload() }
        try engine.checkpoint(wait: wait, payloads: payloads)
        // engine.checkpoint waited for the previous checkpoint before queuing this one (and for this one too
        // when `wait`): the files that only checkpoints before those listed can go now.
        try deleteDayFiles(retiredBeforeInFlightCheckpoint)
        retiredBeforeInFlightCheckpoint = retired
        if wait {
            try deleteDayFiles(retiredBeforeInFlightCheckpoint)
            retiredBeforeInFlightCheckpoint = []
        }
    }

    private func deleteDayFiles(_ days: [CalendarDay]) throws {
        for day in days { try buckets.deleteFile(of: day) }
    }
}

/// A live feed's input that keeps its own position, as a partitioned log does (offsets per partition): the feed
/// stores the position in every checkpoint, beside the rows it has taken, and its watermark trails the input's
/// bound (the slowest partition's newest event time) instead of the newest event time seen.
public protocol PositionedFeedInput: AnyObject {
    /// The checkpoint payload's name.
    var payloadName: String { get }
    /// The feed takes the row of the input's line `line` (its lines counted from 1 since the input was made): the
    /// position and the bound move past it and the lines before it.
    func rowTaken(line: Int64)
    /// The position after every row taken so far.
    func checkpointPayload() throws -> [UInt8]
    /// The event time every part of the input has reached (nil: a part that holds the watermark has sent
    /// nothing yet); `fallback`, the feed's newest event time, when no part holds it.
    func eventTimeBound(fallback: Int64?) -> Int64?
}
