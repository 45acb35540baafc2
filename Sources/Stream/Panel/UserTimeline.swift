/// One closed user-day kept for its pending revisions: everything but the leads, which come
/// from the days after it.
///
/// A plain value (numbers only, no reference): a user's days are copied into and read from the ring on the
/// event loop every day, as plain memory moves, with no reference count to keep.
struct ClosedDay: Equatable {
    var day: CalendarDay
    var daily: DailyValues
    var lag1: LagValues
    var prior3: LagValues
    var treatmentHighIntensity: Int
    var treatmentHighWatchExposure: Int
    /// The revision number the next emission gets.
    var nextRevision: Int
    /// True once the final revision is out.
    var finalized: Bool
}

/// A timeline's closed days, oldest first (index 0), in a ring: appending to a full ring overwrites its oldest day
/// in place, where an array would drop its first element and shift the seven others (~240 bytes each), a user a
/// day, on the event loop. Indices run from 0 to `count`, as an array's would.
struct ClosedDays: RandomAccessCollection, MutableCollection {
    /// The days; the oldest at `start` when the ring is full, at 0 otherwise.
    private var storage: [ClosedDay] = []
    private var start = 0

    /// No days.
    init() {}

    var startIndex: Int { 0 }
    var endIndex: Int { storage.count }

    subscript(position: Int) -> ClosedDay {
        get {
            precondition(position >= 0 && position < storage.count, "ClosedDays: index out of range")
            return storage[slot(position)]
        }
        // In place (Array's own `_modify`): a `set` copies the whole day (~280 bytes) out and back for a field's change.
        _modify {
            precondition(position >= 0 && position < storage.count, "ClosedDays: index out of range")
            yield &storage[slot(position)]
        }
    }

    /// `body` of the `position`-th oldest day, read in place. The getter copies the whole day (~280 bytes) out
    /// first, and for a field or two those copies were most of what revising a record cost (in `perf` of the big
    /// matrix under `--emit final`: `memcpy` under `PanelEngine.close`, a tenth of the event loop's samples).
    @inline(__always)
    func reading<R>(_ position: Int, _ body: (borrowing ClosedDay) -> R) -> R {
        precondition(position >= 0 && position < storage.count, "ClosedDays: index out of range")
        return storage.withUnsafeBufferPointer { body($0[slot(position)]) }
    }

    /// The oldest day's date (nil when there is none), read in place.
    var oldestDay: CalendarDay? { storage.isEmpty ? nil : reading(0) { $0.day } }

    /// Where the `position`-th oldest day is in `storage`.
    @inline(__always)
    private func slot(_ position: Int) -> Int {
        let i = start + position
        return i < storage.count ? i : i - storage.count
    }

    /// Appends `day` as the newest, after dropping the oldest days so that at most `limit` (at least 1) are kept.
    /// A full ring of `limit` days takes it in place of its oldest; otherwise the storage holds `limit` days'
    /// room (it never grows past it).
    mutating func append(_ day: ClosedDay, keepingAtMost limit: Int) {
        if storage.count == limit {
            storage[start] = day
            start = slot(1)
            return
        }
        linearize()
        if storage.count > limit { storage.removeFirst(storage.count - limit + 1) }
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
/// Its size does not depend on the log's length.
struct UserTimeline {
    var open = DayAggregate()
    var rolling = [PandasRollingSum](repeating: PandasRollingSum(), count: 5)
    /// The previous closed day's five lag columns (nil before the first closed day).
    var previousLagBase: LagValues?
    /// Closed days, oldest first, consecutive, at most ``historyLength``.
    var history = ClosedDays()
    /// Closed days kept: ``leadHistoryLength``, more when late rows may revise older days.
    var historyLength = UserTimeline.leadHistoryLength
    /// True when the timeline keeps each held day's rolling-sum snapshot (``rollingAfter``) for revisions.
    var keepsRevisionState = false
    /// The rolling sums right after each held day's push, by day (only when ``keepsRevisionState``: late rows
    /// may revise days): a revision of a day recomputes the following days' `prior_3day_*` from here, exactly as
    /// pandas' running sums would have gone with the revised value.
    var rollingAfter: [CalendarDay: [PandasRollingSum]] = [:]

    /// A record's leads need the seven days after it: eight closed days.
    static let leadHistoryLength = 8
    /// The most closed days a timeline may keep (the revise window is at most this minus 8).
    static let maxHistoryLength = 64

    /// Closes the open day as `day`, computing its lags and treatment flags; returns the day's values.
    mutating func close(day: CalendarDay, daily: DailyValues, thresholds: TreatmentThresholds) -> ClosedDay {
        open.reset()
        let base = daily.lagBase
        var lag1 = LagValues(repeating: 0)
        var prior3 = LagValues(repeating: 0)
        for c in 0..<5 {
            let shifted = previousLagBase?[c] ?? .nan
            let lag = shifted
            lag1[c] = lag.isNaN ? 0 : lag  // the notebook's fillna(0)
            let prior = rolling[c].push(shifted)
            prior3[c] = prior.isNaN ? 0 : prior
        }
        previousLagBase = base
        let (highIntensity, highWatchExposure) = UserTimeline.treatments(daily, thresholds)
        let closed = ClosedDay(
            day: day, daily: daily, lag1: lag1, prior3: prior3,
            treatmentHighIntensity: highIntensity, treatmentHighWatchExposure: highWatchExposure,
            nextRevision: 0, finalized: false)
        history.append(closed, keepingAtMost: historyLength)
        if keepsRevisionState { keepRollingSums(after: day) }
        return closed
    }

    /// The treatment flags of a closed day's values under `thresholds` (0 on inactive days).
    static func treatments(_ daily: DailyValues, _ thresholds: TreatmentThresholds) -> (Int, Int) {
        let active = daily.activeDay == 1
        return (
            active && Double(daily.interactions) >= thresholds.highIntensity ? 1 : 0,
            active && daily.highWatchShare >= thresholds.highWatchShare ? 1 : 0
        )
    }

    /// Replaces a closed day's values (a late row arrived) and recomputes what depends on them within
    /// the user: its treatment flags, and the following days' `lag_1_*` and `prior_3day_*` (the running
    /// sums restart from the day's snapshot). Leads are read from the history when records are built.
    /// False when the day is not held or its snapshot is missing.
    mutating func revise(day: CalendarDay, daily: DailyValues, thresholds: TreatmentThresholds) -> Bool {
        guard let index = heldIndex(of: day), var sums = rollingAfter[day] else { return false }
        history[index].daily = daily
        (history[index].treatmentHighIntensity, history[index].treatmentHighWatchExposure) =
            UserTimeline.treatments(daily, thresholds)
        for j in (index + 1)..<max(index + 1, history.count) {
            let base = history[j - 1].daily.lagBase
            for c in 0..<5 {
                history[j].lag1[c] = base[c].isNaN ? 0 : base[c]
                let prior = sums[c].push(base[c])
                history[j].prior3[c] = prior.isNaN ? 0 : prior
            }
            rollingAfter[history[j].day] = sums
        }
        rolling = sums
        previousLagBase = history[history.count - 1].daily.lagBase
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
        let flags = UserTimeline.treatments(history[index].daily, thresholds)
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
        var leads = LeadValues(repeating: .nan)
        for h in PanelRules.leadHorizons where index + h < history.count {
            let (a, i, p) = history.reading(index + h) { $0.daily.leadBase }
            leads[h - 1] = a
            leads[7 + h - 1] = i
            leads[14 + h - 1] = p
        }
        return history.reading(index) { c in
            UserDayRecord(
                userID: userID, day: c.day, daily: c.daily, lag1: c.lag1, prior3: c.prior3, leads: leads,
                treatmentHighIntensity: c.treatmentHighIntensity, treatmentHighWatchExposure: c.treatmentHighWatchExposure,
                revision: c.nextRevision, isFinal: c.finalized)
        }
    }

    /// A revised record: the next revision of a held day, final if it was already final.
    mutating func reissue(of day: CalendarDay, userID: Int32) -> UserDayRecord? {
        guard let record = currentRecord(of: day, userID: userID) else { return nil }
        history[heldIndex(of: day)!].nextRevision += 1
        return record
    }

    /// Takes the next revision of the record for `day` without building it, when it is neither the day's first
    /// revision nor final: true when it was taken (``nextRevision(of:userID:final:)`` would have returned a
    /// non-final record of revision 1 or later); false, and nothing changed, otherwise.
    mutating func skipIntermediateRevision(of day: CalendarDay) -> Bool {
        guard let index = heldIndex(of: day), history.reading(index, { !$0.finalized && $0.nextRevision > 0 }) else {
            return false
        }
        history[index].nextRevision += 1
        return true
    }

    /// Emits the next revision of the record for `day` with every lead known so far; nil when that
    /// day is not held or already final.
    mutating func nextRevision(of day: CalendarDay, userID: Int32, final: Bool) -> UserDayRecord? {
        guard var record = currentRecord(of: day, userID: userID), !record.isFinal else { return nil }
        let index = heldIndex(of: day)!
        record.isFinal = final
        history[index].nextRevision += 1
        if final { history[index].finalized = true }
        return record
    }
}
