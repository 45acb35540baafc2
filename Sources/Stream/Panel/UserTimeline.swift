internal import CPrefetch

/// One closed user-day kept for its pending revisions: everything but the leads, which come from the days after
/// it, and its `lag_1_*` values, which are the day before's (``ClosedDays/lag1(at:)``).
///
/// Kept small (112 bytes; every user holds eight): the day's sums, not its ``DailyValues`` (``daily(_:)``
/// computes them, the same bits as at its close), and the flags in bytes; the item context, when joined, is the
/// timeline's (``UserTimeline/itemContexts``). With its values and `lag_1_*` values a day would be 272 bytes.
struct ClosedDay: Equatable {
    var day: CalendarDay
    /// `treatment_high_intensity` and `treatment_high_watch_exposure` (0 or 1).
    private var treatments: (UInt8, UInt8) = (0, 0)
    /// True once the final revision is out.
    var finalized = false
    /// The revision number the next emission gets.
    var nextRevision: Int
    /// The day's sums.
    var totals: DayTotals
    /// `prior_3day_*`.
    var prior3: LagValues

    /// A day closed with these values.
    init(
        day: CalendarDay, totals: DayTotals, prior3: LagValues, treatmentHighIntensity: Int,
        treatmentHighWatchExposure: Int, nextRevision: Int, finalized: Bool
    ) {
        self.day = day
        self.totals = totals
        self.prior3 = prior3
        self.nextRevision = nextRevision
        self.finalized = finalized
        self.treatmentHighIntensity = treatmentHighIntensity
        self.treatmentHighWatchExposure = treatmentHighWatchExposure
    }

    /// `treatment_high_intensity` (0 or 1).
    var treatmentHighIntensity: Int {
        get { Int(treatments.0) }
        set { treatments.0 = newValue == 0 ? 0 : 1 }
    }
    /// `treatment_high_watch_exposure` (0 or 1).
    var treatmentHighWatchExposure: Int {
        get { Int(treatments.1) }
        set { treatments.1 = newValue == 0 ? 0 : 1 }
    }

    /// The day's values, as the notebook computes them from its sums, with `itemContext` (nil: not joined).
    func daily(_ itemContext: ItemContextValues? = nil) -> DailyValues { DailyValues(totals, itemContext: itemContext) }

    static func == (a: ClosedDay, b: ClosedDay) -> Bool {
        a.day == b.day && a.treatments == b.treatments && a.finalized == b.finalized && a.nextRevision == b.nextRevision
            && a.totals == b.totals && UserDayRecord.sameBits(a.prior3, b.prior3)
    }
}

/// A timeline's closed days, oldest first (index 0), in a ring: appending to a full ring overwrites its oldest day
/// in place, where an array would drop its first element and shift the seven others, a user a day, on the event
/// loop. Indices run from 0 to `count`, as an array's would.
///
/// A day's `lag_1_*` values are the day before's lag columns (``DayTotals/lagBase``, NaN as 0: the notebook's
/// `shift(1)` and `fillna(0)`), so they are not kept per day: ``lag1(at:)`` computes them from the day before, and
/// the ring keeps those of its oldest day (``oldestLag1``), whose day before it no longer holds.
struct ClosedDays: RandomAccessCollection, MutableCollection {
    /// The days; the oldest at `start` when the ring is full, at 0 otherwise.
    private var storage: [ClosedDay] = []
    /// The `lag_1_*` values of the oldest day: zeros until a day is dropped (a user's first day has no day before).
    private(set) var oldestLag1 = LagValues(repeating: 0)
    /// Where the oldest day is in `storage` (32 bits: the ring holds at most ``UserTimeline/maxHistoryLength``).
    private var start: Int32 = 0

    /// No days.
    init() {}

    /// No days; the first day appended gets `lag1` as its `lag_1_*` values (a timeline restored from a checkpoint).
    init(oldestLag1 lag1: LagValues) { oldestLag1 = lag1 }

    var startIndex: Int { 0 }
    var endIndex: Int { storage.count }

    subscript(position: Int) -> ClosedDay {
        get {
            precondition(position >= 0 && position < storage.count, "ClosedDays: index out of range")
            return storage[slot(position)]
        }
        // In place (Array's own `_modify`): a `set` copies the whole day out and back for a field's change.
        _modify {
            precondition(position >= 0 && position < storage.count, "ClosedDays: index out of range")
            yield &storage[slot(position)]
        }
    }

    /// `body` of the `position`-th oldest day, read in place. The getter copies the whole day out first, and for
    /// a field or two those copies were most of what revising a record cost (in `perf` of the big matrix under
    /// `--emit final`: `memcpy` under `PanelEngine.close`, a tenth of the event loop's samples).
    /// Asks the CPU to fetch the days' memory into its caches (``PanelEngine/close(_:)`` reads a user's days, and
    /// asks for those of the user a few places later in its order).
    @inline(__always)
    func prefetch() {
        storage.withUnsafeBytes { days in
            guard let base = days.baseAddress else { return }
            var offset = 0
            while offset < days.count {
                replay_prefetch_for_write(base + offset)
                offset += 64
            }
        }
    }

    @inline(__always)
    func reading<R>(_ position: Int, _ body: (borrowing ClosedDay) -> R) -> R {
        precondition(position >= 0 && position < storage.count, "ClosedDays: index out of range")
        return storage.withUnsafeBufferPointer { body($0[slot(position)]) }
    }

    /// The oldest day's date (nil when there is none), read in place.
    var oldestDay: CalendarDay? { storage.isEmpty ? nil : reading(0) { $0.day } }

    /// The lag columns of the newest day, NaN kept (what the next day's `prior_3day_*` sums push); nil when empty.
    var newestLagBase: LagValues? { storage.isEmpty ? nil : reading(storage.count - 1) { $0.totals.lagBase } }

    /// The `lag_1_*` values of the `position`-th oldest day.
    func lag1(at position: Int) -> LagValues {
        position == 0 ? oldestLag1 : reading(position - 1) { ClosedDays.lag1(after: $0) }
    }

    /// The `lag_1_*` values of the day after `day`: its lag columns with NaN as 0.
    private static func lag1(after day: borrowing ClosedDay) -> LagValues {
        var lag = day.totals.lagBase
        for c in 0..<LagValues.fixedCount where lag[c].isNaN { lag[c] = 0 }
        return lag
    }

    /// Where the `position`-th oldest day is in `storage`.
    @inline(__always)
    private func slot(_ position: Int) -> Int {
        let i = Int(start) + position
        return i < storage.count ? i : i - storage.count
    }

    /// Appends `day` as the newest, after dropping the oldest days so that at most `limit` (at least 1) are kept.
    /// A full ring of `limit` days takes it in place of its oldest; otherwise the storage holds `limit` days'
    /// room (it never grows past it).
    mutating func append(_ day: ClosedDay, keepingAtMost limit: Int) {
        if storage.count == limit {
            oldestLag1 = reading(0) { ClosedDays.lag1(after: $0) }
            storage[Int(start)] = day
            start = Int32(slot(1))
            return
        }
        linearize()
        if storage.count > limit {
            let dropped = storage.count - limit + 1
            oldestLag1 = lag1(at: dropped)
            storage.removeFirst(dropped)
        }
        if storage.capacity < limit { storage.reserveCapacity(limit) }
        storage.append(day)
    }

    /// Appends `day` as the newest, dropping none.
    mutating func append(_ day: ClosedDay) {
        linearize()
        storage.append(day)
    }

    /// Puts the oldest day at 0 in `storage`.
    private mutating func linearize() {
        guard start != 0 else { return }
        storage = Array(self)
        start = 0
    }
}

/// A user's rolling state: the open day, the lag and prior-3-day state, and the last eight closed
/// days (a record's leads need the seven days after it).
///
/// Its size does not depend on the log's length: ~1.8 KB a user with its heap blocks (the eight closed days, the
/// open day's video set). Every user has one, so its fields are laid out tight (the 32-bit ones together).
struct UserTimeline {
    var open = DayAggregate()
    var rolling = RollingSums()
    /// Closed days, oldest first, consecutive, at most ``historyLength``.
    var history = ClosedDays()
    /// ``historyLength``, in 32 bits beside the ring's own.
    private var keptDays = Int32(UserTimeline.leadHistoryLength)
    /// True when the timeline keeps each held day's rolling-sum snapshot (``rollingAfter``) for revisions.
    var keepsRevisionState = false
    /// The rolling sums right after each held day's push, by day (only when ``keepsRevisionState``: late rows
    /// may revise days): a revision of a day recomputes the following days' `prior_3day_*` from here, exactly as
    /// pandas' running sums would have gone with the revised value.
    var rollingAfter: [CalendarDay: RollingSums] = [:]
    /// The item context of the held days the join found something for (`--with-item-context`); empty otherwise.
    private(set) var itemContexts: [CalendarDay: ItemContextValues] = [:]

    /// Closed days kept: ``leadHistoryLength``, more when late rows may revise older days (a snapshot holds at most
    /// ``maxHistoryLength``; a length past 32 bits, which no run could fill, is kept as `Int32.max`).
    var historyLength: Int {
        get { Int(keptDays) }
        set { keptDays = Int32(clamping: max(1, newValue)) }
    }

    /// A record's leads need the seven days after it: eight closed days.
    static let leadHistoryLength = 8
    /// The most closed days a timeline may keep (the revise window is at most this minus 8).
    static let maxHistoryLength = 64

    /// Closes the open day as `day` with the sums `totals` and the item context `itemContext`, computing its
    /// `prior_3day_*` values and treatment flags (its `lag_1_*` values are the day before's lag columns).
    mutating func close(
        day: CalendarDay, totals: DayTotals, itemContext: ItemContextValues? = nil, thresholds: TreatmentThresholds
    ) {
        open.reset()
        let previous = history.newestLagBase
        var prior3 = LagValues(repeating: 0)
        for c in 0..<5 {
            let prior = rolling[c].push(previous?[c] ?? .nan)  // the notebook's shift(1)
            prior3[c] = prior.isNaN ? 0 : prior  // and fillna(0)
        }
        let (highIntensity, highWatchExposure) = UserTimeline.treatments(totals, thresholds)
        let closed = ClosedDay(
            day: day, totals: totals, prior3: prior3, treatmentHighIntensity: highIntensity,
            treatmentHighWatchExposure: highWatchExposure, nextRevision: 0, finalized: false)
        history.append(closed, keepingAtMost: historyLength)
        if keepsRevisionState { keepRollingSums(after: day) }
        setItemContext(itemContext, of: day)
    }

    /// Keeps `context` as `day`'s item context (none when nil or when the join found nothing), and drops those of
    /// days no longer held.
    mutating func setItemContext(_ context: ItemContextValues?, of day: CalendarDay) {
        if let context, context.isJoined { itemContexts[day] = context } else { itemContexts.removeValue(forKey: day) }
        guard !itemContexts.isEmpty, let oldest = history.oldestDay else { return }
        for kept in itemContexts.keys where kept < oldest { itemContexts.removeValue(forKey: kept) }
    }

    /// The values of the `position`-th oldest held day, item context included.
    func daily(at position: Int) -> DailyValues {
        history.reading(position) { $0.daily(itemContexts.isEmpty ? nil : itemContexts[$0.day]) }
    }

    /// The treatment flags of a closed day's sums under `thresholds` (0 on inactive days).
    static func treatments(_ totals: DayTotals, _ thresholds: TreatmentThresholds) -> (Int, Int) {
        let active = totals.isActive
        return (
            active && Double(totals.interactions) >= thresholds.highIntensity ? 1 : 0,
            active && totals.highWatchShare >= thresholds.highWatchShare ? 1 : 0
        )
    }

    /// Replaces a closed day's sums and item context (a late row arrived) and recomputes what depends on them
    /// within the user: its treatment flags, and the following days' `prior_3day_*` (the running sums restart
    /// from the day's snapshot; the next day's `lag_1_*` are computed from the day's sums when read). Leads are
    /// read from the history when records are built. False when the day is not held or its snapshot is missing.
    mutating func revise(
        day: CalendarDay, totals: DayTotals, itemContext: ItemContextValues? = nil, thresholds: TreatmentThresholds
    ) -> Bool {
        guard let index = heldIndex(of: day), var sums = rollingAfter[day] else { return false }
        history[index].totals = totals
        setItemContext(itemContext, of: day)
        (history[index].treatmentHighIntensity, history[index].treatmentHighWatchExposure) =
            UserTimeline.treatments(totals, thresholds)
        for j in (index + 1)..<max(index + 1, history.count) {
            let base = history.reading(j - 1) { $0.totals.lagBase }
            for c in 0..<5 {
                let prior = sums[c].push(base[c])
                history[j].prior3[c] = prior.isNaN ? 0 : prior
            }
            rollingAfter[history[j].day] = sums
        }
        rolling = sums
        return true
    }

    /// Keeps the rolling sums as they stand after `day`'s push, and drops those of days no longer held.
    private mutating func keepRollingSums(after day: CalendarDay) {
        rollingAfter[day] = rolling
        guard let oldest = history.oldestDay else { return }
        for kept in rollingAfter.keys where kept < oldest { rollingAfter.removeValue(forKey: kept) }
    }

    /// The values of a held closed day (nil when the day is not held).
    func closedDay(_ day: CalendarDay) -> ClosedDay? {
        heldIndex(of: day).map { history[$0] }
    }

    /// Gives a held day the treatment flags of `thresholds` (the day's thresholds were revised);
    /// true when a flag changed.
    mutating func applyThresholds(_ thresholds: TreatmentThresholds, to day: CalendarDay) -> Bool {
        guard let index = heldIndex(of: day) else { return false }
        let flags = UserTimeline.treatments(history[index].totals, thresholds)
        guard flags != (history[index].treatmentHighIntensity, history[index].treatmentHighWatchExposure) else { return false }
        (history[index].treatmentHighIntensity, history[index].treatmentHighWatchExposure) = flags
        return true
    }

    /// The position of `day` in the history; nil when the day is not held.
    private func heldIndex(of day: CalendarDay) -> Int? {
        guard let first = history.oldestDay else { return nil }
        let index = first.distance(to: day)
        return index >= 0 && index < history.count ? index : nil
    }

    /// The record of a held day with every lead known so far, as it stands (no revision taken).
    func currentRecord(of day: CalendarDay, userID: Int32) -> UserDayRecord? {
        guard let index = heldIndex(of: day) else { return nil }
        let (revision, finalized) = history.reading(index) { ($0.nextRevision, $0.finalized) }
        return record(at: index, userID: userID, revision: revision, isFinal: finalized)
    }

    /// The record of the held day at `index` with every lead known so far, numbered `revision`.
    @inline(__always)
    private func record(at index: Int, userID: Int32, revision: Int, isFinal: Bool) -> UserDayRecord {
        var leads = LeadValues(repeating: .nan)
        for h in PanelRules.leadHorizons where index + h < history.count {
            let (a, i, p) = history.reading(index + h) { $0.totals.leadBase }
            leads[h - 1] = a
            leads[7 + h - 1] = i
            leads[14 + h - 1] = p
        }
        let lag1 = history.lag1(at: index)
        let daily = self.daily(at: index)
        return history.reading(index) { c in
            UserDayRecord(
                userID: userID, day: c.day, daily: daily, lag1: lag1, prior3: c.prior3, leads: leads,
                treatmentHighIntensity: c.treatmentHighIntensity, treatmentHighWatchExposure: c.treatmentHighWatchExposure,
                revision: revision, isFinal: isFinal)
        }
    }

    /// A revised record: the next revision of a held day, final if it was already final.
    mutating func reissue(of day: CalendarDay, userID: Int32) -> UserDayRecord? {
        guard let record = currentRecord(of: day, userID: userID) else { return nil }
        history[heldIndex(of: day)!].nextRevision += 1
        return record
    }

    /// Takes the next revision of the record for `day` without building it, when it is neither the day's first
    /// revision nor final: true when it was taken (``emitNextRevision(of:userID:final:_:)`` would have emitted a
    /// non-final record of revision 1 or later); false, and nothing changed, otherwise.
    mutating func skipIntermediateRevision(of day: CalendarDay) -> Bool {
        guard let index = heldIndex(of: day), history.reading(index, { !$0.finalized && $0.nextRevision > 0 }) else {
            return false
        }
        history[index].nextRevision += 1
        return true
    }

    /// Takes the next revision of the record for `day`, final when `final`, and passes it, with every lead known
    /// so far, to `emit` (the record, a few hundred bytes, is built where `emit` reads it, not copied out as an
    /// optional); false, and nothing changed, when that day is not held or already final.
    @inline(__always) @discardableResult
    mutating func emitNextRevision(
        of day: CalendarDay, userID: Int32, final: Bool, _ emit: (UserDayRecord) throws -> Void
    ) rethrows -> Bool {
        guard let index = heldIndex(of: day) else { return false }
        let (revision, finalized) = history.reading(index) { ($0.nextRevision, $0.finalized) }
        guard !finalized else { return false }
        history[index].nextRevision += 1
        if final { history[index].finalized = true }
        try emit(record(at: index, userID: userID, revision: revision, isFinal: final))
        return true
    }
}

/// A timeline's five `prior_3day_*` running sums (one a lag column), held inline: 360 bytes in the timeline (an
/// array would be a heap block of 480 bytes a user).
struct RollingSums: Equatable {
    private var sums = InlineArray<5, PandasRollingSum>(repeating: PandasRollingSum())

    /// The number of sums.
    static let count = 5

    /// Fresh sums.
    init() {}

    /// The sum of lag column `column`.
    subscript(column: Int) -> PandasRollingSum {
        get { sums[column] }
        _modify { yield &sums[column] }
    }

    static func == (a: RollingSums, b: RollingSums) -> Bool {
        (0..<count).allSatisfy { a[$0] == b[$0] }
    }
}
