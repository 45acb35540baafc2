/// The notebook's fixed rules, in one place.
public enum PanelRules {
    /// `high_watch` = `watch_ratio >= 0.8`.
    public static let highWatchThreshold = 0.8
    /// `complete_or_rewatch` = `watch_ratio >= 1.0`.
    public static let completeOrRewatchThreshold = 1.0
    /// Lead horizons `lead_1_*` ... `lead_7_*`.
    public static let leadHorizons = 1...7
    /// Days after which a record's revisions are due: next_day, future_3day, future_7day (final).
    public static let revisionHorizons = [1, 3, 7]
}

/// The running sums of one user's open day (the notebook's groupby aggregates).
public struct DayAggregate: Sendable {
    /// Rows (exact duplicates included).
    public var interactions = 0
    /// Distinct `video_id`s.
    public var videos = VideoSet()
    /// Sum of `play_duration` (ms).
    public var playDurationMs: Int64 = 0
    /// Sum of `video_duration` (ms).
    public var videoDurationMs: Int64 = 0
    /// Kahan-compensated sum of `watch_ratio`, added in replay order (pandas' `group_mean`).
    public var watchRatioSum = 0.0
    var watchRatioCompensation = 0.0
    /// Rows with `watch_ratio >= 0.8`.
    public var highWatchCount = 0
    /// Rows with `watch_ratio >= 1.0`.
    public var completeOrRewatchCount = 0

    public init() {}

    /// The largest set of videos ``reset()`` keeps allocated.
    static let keptVideoCapacity = 48

    /// Adds one event (pandas' `group_mean` Kahan step for the ratio).
    @inline(__always)
    public mutating func add(_ e: Interaction) {
        interactions += 1
        videos.insert(e.videoID)
        playDurationMs &+= e.playDurationMs
        videoDurationMs &+= e.videoDurationMs
        let y = e.watchRatio - watchRatioCompensation
        let t = watchRatioSum + y
        watchRatioCompensation = t - watchRatioSum - y
        if watchRatioCompensation.isNaN { watchRatioCompensation = 0 }
        watchRatioSum = t
        if e.watchRatio >= PanelRules.highWatchThreshold { highWatchCount += 1 }
        if e.watchRatio >= PanelRules.completeOrRewatchThreshold { completeOrRewatchCount += 1 }
    }

    /// Empties the aggregate, keeping the set's storage.
    public mutating func reset() {
        interactions = 0
        // A set sized for a busy day is freed (kept, the 7,176 users' largest days' sets hold ~8 MB); a small
        // one keeps its buffer.
        videos.removeAll(keepingCapacity: videos.capacity <= DayAggregate.keptVideoCapacity)
        playDurationMs = 0
        videoDurationMs = 0
        watchRatioSum = 0
        watchRatioCompensation = 0
        highWatchCount = 0
        completeOrRewatchCount = 0
    }

    /// The day's values as the notebook computes them (zeros when inactive, its `fillna(0)`).
    public func dailyValues() -> DailyValues {
        guard interactions > 0 else { return DailyValues() }
        let n = Double(interactions)
        var d = DailyValues()
        d.interactions = interactions
        d.uniqueVideos = videos.count
        d.totalPlayDurationMs = playDurationMs
        d.avgPlayDurationMs = Double(playDurationMs) / n
        d.avgVideoDurationMs = Double(videoDurationMs) / n
        d.avgWatchRatio = watchRatioSum / n
        d.highWatchCount = highWatchCount
        d.completeOrRewatchCount = completeOrRewatchCount
        d.totalPlayDurationSec = Double(playDurationMs) / 1_000
        d.avgPlayDurationSec = d.avgPlayDurationMs / 1_000
        d.avgVideoDurationSec = d.avgVideoDurationMs / 1_000
        d.highWatchShare = Double(highWatchCount) / n
        d.completeOrRewatchShare = Double(completeOrRewatchCount) / n
        d.activeDay = 1
        return d
    }
}

/// One user-day's aggregates: the notebook's `user_day_observed` columns after densifying.
public struct DailyValues: Sendable, Equatable {
    public var interactions = 0
    public var uniqueVideos = 0
    public var totalPlayDurationMs: Int64 = 0
    public var avgPlayDurationMs = 0.0
    public var avgVideoDurationMs = 0.0
    public var avgWatchRatio = 0.0
    public var highWatchCount = 0
    public var completeOrRewatchCount = 0
    public var totalPlayDurationSec = 0.0
    public var avgPlayDurationSec = 0.0
    public var avgVideoDurationSec = 0.0
    public var highWatchShare = 0.0
    public var completeOrRewatchShare = 0.0
    public var activeDay = 0
    /// `item_mean_show_cnt`, `item_mean_play_rate`, `item_first_categories` (``ItemContextTable``; NaN, NaN
    /// and 0 without `--with-item-context` or on an inactive day).
    public var itemMeanShowCount = Double.nan
    public var itemMeanPlayRate = Double.nan
    public var itemFirstCategories = 0
    /// The day's distinct videos found in `item_daily_features` on that date, and in `item_categories`
    /// (the join's coverage; not written).
    public var itemDailyMatched = 0
    public var itemCategoryMatched = 0

    public init() {}

    /// Equal when every value has the same bits (``hasSameBits(as:)``): an unknown item mean equals itself.
    public static func == (a: DailyValues, b: DailyValues) -> Bool { a.hasSameBits(as: b) }

    /// True when every value is `other`'s, bit for bit (NaN equals NaN, 0.0 differs from -0.0).
    public func hasSameBits(as other: DailyValues) -> Bool {
        @inline(__always) func same(_ x: Double, _ y: Double) -> Bool { x.bitPattern == y.bitPattern }
        let a = self, b = other
        return a.interactions == b.interactions && a.uniqueVideos == b.uniqueVideos
            && a.totalPlayDurationMs == b.totalPlayDurationMs && same(a.avgPlayDurationMs, b.avgPlayDurationMs)
            && same(a.avgVideoDurationMs, b.avgVideoDurationMs) && same(a.avgWatchRatio, b.avgWatchRatio)
            && a.highWatchCount == b.highWatchCount && a.completeOrRewatchCount == b.completeOrRewatchCount
            && same(a.totalPlayDurationSec, b.totalPlayDurationSec) && same(a.avgPlayDurationSec, b.avgPlayDurationSec)
            && same(a.avgVideoDurationSec, b.avgVideoDurationSec) && same(a.highWatchShare, b.highWatchShare)
            && same(a.completeOrRewatchShare, b.completeOrRewatchShare) && a.activeDay == b.activeDay
            && same(a.itemMeanShowCount, b.itemMeanShowCount) && same(a.itemMeanPlayRate, b.itemMeanPlayRate)
            && a.itemFirstCategories == b.itemFirstCategories && a.itemDailyMatched == b.itemDailyMatched
            && a.itemCategoryMatched == b.itemCategoryMatched
    }

    /// True when the item context was joined (a day with a value or a match).
    var hasItemContext: Bool {
        !itemMeanShowCount.isNaN || !itemMeanPlayRate.isNaN || itemFirstCategories != 0 || itemDailyMatched != 0
            || itemCategoryMatched != 0
    }

    /// The five columns that get `lag_1_*` and `prior_3day_*`, in the notebook's order
    /// (active_day, interactions, total_play_duration_sec, avg_watch_ratio, high_watch_share).
    public var lagBase: LagValues {
        var base = LagValues(repeating: 0)
        base[0] = Double(activeDay)
        base[1] = Double(interactions)
        base[2] = totalPlayDurationSec
        base[3] = avgWatchRatio
        base[4] = highWatchShare
        return base
    }

    /// The three columns that get leads (active_day, interactions, total_play_duration_sec).
    public var leadBase: (Double, Double, Double) {
        (Double(activeDay), Double(interactions), totalPlayDurationSec)
    }
}

/// pandas' `roll_sum` for `shift(1).rolling(window=3, min_periods=1).sum()`, one value at a time, bit for bit.
///
/// pandas keeps a running Kahan sum over the whole series (separate compensation terms for adding
/// and removing values) and returns `value × count` when every value in the window equals the last
/// one added (GH#42064). The state is small and sequential, so a stream can carry it exactly.
///
/// The window is stored inline (no heap array): five sums a user are pushed on the event loop every day, where an
/// array's `removeFirst` and `append` cost a uniqueness check, a generic shift and a heap object per sum.
/// `==` compares the state bit for bit (a NaN equals the same NaN), since it answers "is this the same state".
public struct PandasRollingSum: Sendable, Equatable {
    var sum = 0.0
    var compensationAdd = 0.0
    var compensationRemove = 0.0
    var observations = 0
    var consecutiveSameValue = 0
    var previousValue = Double.nan
    /// The last three values of the shifted series, oldest first at index 0 (NaN where a value was NaN); the
    /// places from `windowCount` on hold 0.
    private(set) var windowStorage = InlineArray<3, Double>(repeating: 0)
    /// How many values `windowStorage` holds (at most ``windowSize``).
    private(set) var windowCount = 0
    /// Number of values pushed so far.
    var length = 0

    static let windowSize = 3
    static let minPeriods = 1

    public init() {}

    /// Sets the window to `values`, oldest first; false (nothing changed) when they are more than ``windowSize``.
    mutating func setWindow(_ values: [Double]) -> Bool {
        guard values.count <= Self.windowSize else { return false }
        windowStorage = InlineArray(repeating: 0)
        for (i, v) in values.enumerated() { windowStorage[i] = v }
        windowCount = values.count
        return true
    }

    public static func == (a: Self, b: Self) -> Bool {
        func same(_ x: Double, _ y: Double) -> Bool { x.bitPattern == y.bitPattern }
        guard same(a.sum, b.sum), same(a.compensationAdd, b.compensationAdd),
            same(a.compensationRemove, b.compensationRemove), a.observations == b.observations,
            a.consecutiveSameValue == b.consecutiveSameValue, same(a.previousValue, b.previousValue),
            a.windowCount == b.windowCount, a.length == b.length
        else { return false }
        for i in 0..<a.windowCount where !same(a.windowStorage[i], b.windowStorage[i]) { return false }
        return true
    }

    /// Pushes the next value of the (already shifted) series and returns the window's sum (NaN when empty).
    public mutating func push(_ value: Double) -> Double {
        if length == 0 {
            // pandas' setup branch for the first window.
            previousValue = value
            consecutiveSameValue = 0
            sum = 0
            compensationAdd = 0
            compensationRemove = 0
            observations = 0
            add(value)
        } else {
            if windowCount == PandasRollingSum.windowSize {
                remove(windowStorage[0])
                windowStorage[0] = windowStorage[1]
                windowStorage[1] = windowStorage[2]
                windowCount -= 1
            }
            add(value)
        }
        windowStorage[windowCount] = value
        windowCount += 1
        length += 1
        return result()
    }

    private mutating func add(_ value: Double) {
        guard !value.isNaN else { return }
        observations += 1
        let y = value - compensationAdd
        let t = sum + y
        compensationAdd = t - sum - y
        sum = t
        if value == previousValue {
            consecutiveSameValue += 1
        } else {
            consecutiveSameValue = 1
        }
        previousValue = value
    }

    private mutating func remove(_ value: Double) {
        guard !value.isNaN else { return }
        observations -= 1
        let y = -value - compensationRemove
        let t = sum + y
        compensationRemove = t - sum - y
        sum = t
    }

    private func result() -> Double {
        if observations == 0 && PandasRollingSum.minPeriods == 0 { return 0 }
        if observations >= PandasRollingSum.minPeriods {
            if consecutiveSameValue >= observations { return previousValue * Double(observations) }
            return sum
        }
        return .nan
    }
}
