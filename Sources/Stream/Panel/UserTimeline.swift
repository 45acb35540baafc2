/// One closed user-day kept for its pending revisions: everything but the leads, which come
/// from the days after it.
struct ClosedDay: Equatable {
    var day: CalendarDay
    var daily: DailyValues
    var lag1: [Double]
    var prior3: [Double]
    var treatmentHighIntensity: Int
    var treatmentHighWatchExposure: Int
    /// The revision number the next emission gets.
    var nextRevision: Int
    /// True once the final revision is out.
    var finalized: Bool
}

/// A user's rolling state: the open day, the lag and prior-3-day state, and the last eight closed
/// days (a record's leads need the seven days after it).
///
/// Its size does not depend on the log's length.
struct UserTimeline: Equatable {
    var open = DayAggregate()
    var rolling = [PandasRollingSum](repeating: PandasRollingSum(), count: 5)
    /// The previous closed day's five lag columns (nil before the first closed day).
    var previousLagBase: [Double]?
    /// Closed days, oldest first, consecutive, at most ``historyLength``.
    var history: [ClosedDay] = []

    static let historyLength = 8

    static func == (a: UserTimeline, b: UserTimeline) -> Bool {
        a.rolling == b.rolling && a.previousLagBase == b.previousLagBase && a.history == b.history
            && a.open.interactions == b.open.interactions
    }

    /// Closes the open day as `day`, computing its lags and treatment flags; returns the day's values.
    mutating func close(day: CalendarDay, daily: DailyValues, thresholds: TreatmentThresholds) -> ClosedDay {
        open.reset()
        let base = daily.lagBase
        var lag1 = [Double](repeating: 0, count: 5)
        var prior3 = [Double](repeating: 0, count: 5)
        for c in 0..<5 {
            let shifted = previousLagBase?[c] ?? .nan
            let lag = shifted
            lag1[c] = lag.isNaN ? 0 : lag  // the notebook's fillna(0)
            let prior = rolling[c].push(shifted)
            prior3[c] = prior.isNaN ? 0 : prior
        }
        previousLagBase = base
        let active = daily.activeDay == 1
        let closed = ClosedDay(
            day: day, daily: daily, lag1: lag1, prior3: prior3,
            treatmentHighIntensity: active && Double(daily.interactions) >= thresholds.highIntensity ? 1 : 0,
            treatmentHighWatchExposure: active && daily.highWatchShare >= thresholds.highWatchShare ? 1 : 0,
            nextRevision: 0, finalized: false)
        history.append(closed)
        if history.count > UserTimeline.historyLength { history.removeFirst(history.count - UserTimeline.historyLength) }
        return closed
    }

    /// Emits the next revision of the record for `day` with every lead known so far; nil when that
    /// day is not held or already final.
    mutating func nextRevision(of day: CalendarDay, userID: Int32, final: Bool) -> UserDayRecord? {
        guard let first = history.first else { return nil }
        let index = first.day.distance(to: day)
        guard index >= 0, index < history.count, !history[index].finalized else { return nil }
        var leads = [Double](repeating: .nan, count: 21)
        for h in PanelRules.leadHorizons where index + h < history.count {
            let (a, i, p) = history[index + h].daily.leadBase
            leads[h - 1] = a
            leads[7 + h - 1] = i
            leads[14 + h - 1] = p
        }
        let c = history[index]
        let record = UserDayRecord(
            userID: userID, day: c.day, daily: c.daily, lag1: c.lag1, prior3: c.prior3, leads: leads,
            treatmentHighIntensity: c.treatmentHighIntensity, treatmentHighWatchExposure: c.treatmentHighWatchExposure,
            revision: c.nextRevision, isFinal: final)
        history[index].nextRevision += 1
        if final { history[index].finalized = true }
        return record
    }
}
