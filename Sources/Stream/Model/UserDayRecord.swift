/// One revision of one row of the notebook's `user_day` panel, as the replay emits it.
///
/// Revision 0 is written when the day closes: aggregates, lagged state and treatment flags are
/// final from then on, leads are unknown (NaN, written as `null`). Later revisions fill the leads
/// as the following days close; the last revision has `isFinal == true`.
public struct UserDayRecord: Sendable, Equatable {
    /// `user_id`.
    public var userID: Int32
    /// `event_date`.
    public var day: CalendarDay
    /// The day's aggregates.
    public var daily: DailyValues
    /// `lag_1_{active_day, interactions, total_play_duration_sec, avg_watch_ratio, high_watch_share}`.
    public var lag1: LagValues
    /// `prior_3day_{...}` for the same five columns.
    public var prior3: LagValues
    /// `lead_{h}_{active_day, interactions, total_play_duration_sec}`: index `column * 7 + (h - 1)`; NaN = unknown.
    public var leads: LeadValues
    /// `treatment_high_intensity`.
    public var treatmentHighIntensity: Int
    /// `treatment_high_watch_exposure`.
    public var treatmentHighWatchExposure: Int
    /// 0 for the first emission, then 1, 2, ...
    public var revision: Int
    /// True on the record's last revision.
    public var isFinal: Bool

    public init(
        userID: Int32, day: CalendarDay, daily: DailyValues, lag1: LagValues, prior3: LagValues, leads: LeadValues,
        treatmentHighIntensity: Int, treatmentHighWatchExposure: Int, revision: Int, isFinal: Bool
    ) {
        self.userID = userID
        self.day = day
        self.daily = daily
        self.lag1 = lag1
        self.prior3 = prior3
        self.leads = leads
        self.treatmentHighIntensity = treatmentHighIntensity
        self.treatmentHighWatchExposure = treatmentHighWatchExposure
        self.revision = revision
        self.isFinal = isFinal
    }

    /// `lead_h_column` (column 0 = active_day, 1 = interactions, 2 = total_play_duration_sec).
    /// `@inlinable`, like `future`: the sink reads both for every revision it writes, and a call across modules
    /// each time was ~4% of a cached replay's samples.
    @inlinable @inline(__always)
    public func lead(_ h: Int, column: Int) -> Double { leads[column * 7 + h - 1] }

    /// `future_kday_*` = `lead_1 + ... + lead_k` left to right, NaN if any is NaN (`sum(axis=1, min_count=k)`).
    @inlinable
    public func future(_ k: Int, column: Int) -> Double {
        var total = lead(1, column: column)
        if k > 1 { for h in 2...k { total = total + lead(h, column: column) } }
        return total
    }

    /// The notebook's `user_day` column names, in its order (user_id, event_date first).
    public static let columnNames: [String] = {
        var names = [
            "user_id", "event_date", "interactions", "unique_videos", "total_play_duration_ms",
            "avg_play_duration_ms", "avg_video_duration_ms", "avg_watch_ratio", "high_watch_count",
            "complete_or_rewatch_count", "total_play_duration_sec", "avg_play_duration_sec",
            "avg_video_duration_sec", "high_watch_share", "complete_or_rewatch_share", "active_day",
        ]
        for c in lagColumns { names += ["lag_1_\(c)", "prior_3day_\(c)"] }
        for c in leadColumns { for h in PanelRules.leadHorizons { names.append("lead_\(h)_\(c)") } }
        names += [
            "next_day_active", "next_day_interactions", "next_day_play_duration_sec",
            "future_3day_active_days", "future_3day_interactions", "future_3day_play_duration_sec",
            "future_7day_active_days", "future_7day_interactions", "future_7day_play_duration_sec",
            "treatment_high_intensity", "treatment_high_watch_exposure",
        ]
        return names
    }()

    /// True when both records carry the same key and values, bit for bit (NaN equals NaN; revision
    /// and finality not compared).
    public func hasSameValues(as other: UserDayRecord) -> Bool {
        hasSameStateAndTreatment(as: other) && UserDayRecord.sameBits(leads, other.leads)
    }

    /// True when both records carry the same key, aggregates, `lag_1_*`, `prior_3day_*` and treatment
    /// flags, bit for bit (NaN equals NaN): everything but the leads, revision and finality.
    public func hasSameStateAndTreatment(as other: UserDayRecord) -> Bool {
        userID == other.userID && day == other.day && daily.hasSameBits(as: other.daily)
            && UserDayRecord.sameBits(lag1, other.lag1) && UserDayRecord.sameBits(prior3, other.prior3)
            && treatmentHighIntensity == other.treatmentHighIntensity
            && treatmentHighWatchExposure == other.treatmentHighWatchExposure
    }

    /// True when both hold the same values, bit for bit (NaN equals NaN, 0.0 differs from -0.0).
    @inlinable
    public static func sameBits<Values: Collection<Double>>(_ a: Values, _ b: Values) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
    }

    /// The columns with `lag_1_*` and `prior_3day_*`.
    public static let lagColumns = [
        "active_day", "interactions", "total_play_duration_sec", "avg_watch_ratio", "high_watch_share",
    ]
    /// The columns with `lead_h_*`.
    public static let leadColumns = ["active_day", "interactions", "total_play_duration_sec"]
}
