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

    /// The day's sums, its distinct videos counted.
    public var totals: DayTotals {
        var t = DayTotals()
        t.interactions = interactions
        t.uniqueVideos = videos.count
        t.playDurationMs = playDurationMs
        t.videoDurationMs = videoDurationMs
        t.watchRatioSum = watchRatioSum
        t.highWatchCount = highWatchCount
        t.completeOrRewatchCount = completeOrRewatchCount
        return t
    }

    /// The day's values as the notebook computes them (zeros when inactive, its `fillna(0)`).
    public func dailyValues() -> DailyValues { DailyValues(totals) }
}

/// The sums one user-day's values are computed from (``DayAggregate``'s, its distinct videos counted). Every
/// column of ``DailyValues`` but the item context is a function of them, so a closed day keeps these 56 bytes
/// and not its 152-byte values (``DailyValues/init(_:itemContext:)`` computes those when a record is built).
public struct DayTotals: Sendable, Equatable {
    public var interactions = 0
    public var uniqueVideos = 0
    public var playDurationMs: Int64 = 0
    public var videoDurationMs: Int64 = 0
    /// The Kahan-compensated sum of `watch_ratio` (``DayAggregate/watchRatioSum``).
    public var watchRatioSum = 0.0
    public var highWatchCount = 0
    public var completeOrRewatchCount = 0

    /// No interactions.
    public init() {}

    /// True when the user had an interaction that day.
    @inline(__always) public var isActive: Bool { interactions > 0 }

    /// `avg_watch_ratio` (0 when inactive).
    @inline(__always) public var avgWatchRatio: Double { isActive ? watchRatioSum / Double(interactions) : 0 }
    /// `total_play_duration_sec` (0 when inactive).
    @inline(__always) public var totalPlayDurationSec: Double { isActive ? Double(playDurationMs) / 1_000 : 0 }
    /// `high_watch_share` (0 when inactive).
    @inline(__always) public var highWatchShare: Double { isActive ? Double(highWatchCount) / Double(interactions) : 0 }

    /// The five columns that get `lag_1_*` and `prior_3day_*`, in the notebook's order (active_day, interactions,
    /// total_play_duration_sec, avg_watch_ratio, high_watch_share).
    public var lagBase: LagValues {
        var base = LagValues(repeating: 0)
        base[0] = isActive ? 1 : 0
        base[1] = Double(interactions)
        base[2] = totalPlayDurationSec
        base[3] = avgWatchRatio
        base[4] = highWatchShare
        return base
    }

    /// The three columns that get leads (active_day, interactions, total_play_duration_sec).
    @inline(__always) public var leadBase: (Double, Double, Double) {
        (isActive ? 1 : 0, Double(interactions), totalPlayDurationSec)
    }

    /// Equal when every count is the other's and the ratio sum has the same bits (a NaN sum equals itself).
    public static func == (a: DayTotals, b: DayTotals) -> Bool {
        a.interactions == b.interactions && a.uniqueVideos == b.uniqueVideos && a.playDurationMs == b.playDurationMs
            && a.videoDurationMs == b.videoDurationMs && a.watchRatioSum.bitPattern == b.watchRatioSum.bitPattern
            && a.highWatchCount == b.highWatchCount && a.completeOrRewatchCount == b.completeOrRewatchCount
    }
}

/// A user-day's item context (`--with-item-context`): the columns ``ItemContextTable`` joins to the day's distinct
/// videos, and the join's coverage counts.
public struct ItemContextValues: Sendable, Equatable {
    /// `item_mean_show_cnt`.
    public var itemMeanShowCount = Double.nan
    /// `item_mean_play_rate`.
    public var itemMeanPlayRate = Double.nan
    /// `item_first_categories`.
    public var itemFirstCategories = 0
    /// The day's distinct videos found in `item_daily_features` on that date (the join's coverage; not written).
    public var itemDailyMatched = 0
    /// The day's distinct videos found in `item_categories` (the join's coverage; not written).
    public var itemCategoryMatched = 0

    /// No context: NaN means and zero counts (an inactive day's, or a run's without the join).
    public init() {}

    /// Equal when every value has the same bits (an unknown mean equals itself).
    public static func == (a: ItemContextValues, b: ItemContextValues) -> Bool {
        a.itemMeanShowCount.bitPattern == b.itemMeanShowCount.bitPattern
            && a.itemMeanPlayRate.bitPattern == b.itemMeanPlayRate.bitPattern
            && a.itemFirstCategories == b.itemFirstCategories && a.itemDailyMatched == b.itemDailyMatched
            && a.itemCategoryMatched == b.itemCategoryMatched
    }

    /// True when the join found something: a mean that is a number, or a match.
    public var isJoined: Bool {
        !itemMeanShowCount.isNaN || !itemMeanPlayRate.isNaN || itemFirstCategories != 0 || itemDailyMatched != 0
            || itemCategoryMatched != 0
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
    /// The item context: `item_mean_show_cnt`, `item_mean_play_rate`, `item_first_categories` and the join's
    /// coverage (``ItemContextTable``; NaN means and zero counts without `--with-item-context` or on an inactive
    /// day).
    public var itemContext = ItemContextValues()

    public init() {}

    /// The notebook's values of a user-day with these sums (zeros when inactive, its `fillna(0)`) and item context.
    public init(_ totals: DayTotals, itemContext: ItemContextValues? = nil) {
        if let itemContext { self.itemContext = itemContext }
        guard totals.isActive else { return }
        let n = Double(totals.interactions)
        interactions = totals.interactions
        uniqueVideos = totals.uniqueVideos
        totalPlayDurationMs = totals.playDurationMs
        avgPlayDurationMs = Double(totals.playDurationMs) / n
        avgVideoDurationMs = Double(totals.videoDurationMs) / n
        avgWatchRatio = totals.avgWatchRatio
        highWatchCount = totals.highWatchCount
        completeOrRewatchCount = totals.completeOrRewatchCount
        totalPlayDurationSec = totals.totalPlayDurationSec
        avgPlayDurationSec = avgPlayDurationMs / 1_000
        avgVideoDurationSec = avgVideoDurationMs / 1_000
        highWatchShare = totals.highWatchShare
        completeOrRewatchShare = Double(totals.completeOrRewatchCount) / n
        activeDay = 1
    }

    /// Equal when every value has the same bits (``hasSameBits(as:)``): an unknown item mean equals itself.
    public static func == (a: DailyValues, b: DailyValues) -> Bool { a.hasSameBits(as: b) }

    /// True when every value is `other`'s, bit for bit (NaN equals NaN, 0.0 differs from -0.0). `@inlinable`: the
    /// sink compares a kept rendering's values with every revision's, and a call across modules copies both
    /// 152-byte values first.
    @inlinable @inline(__always)
    public func hasSameBits(as other: DailyValues) -> Bool {
        @inline(__always) func same(_ x: Double, _ y: Double) -> Bool { x.bitPattern == y.bitPattern }
        return interactions == other.interactions && uniqueVideos == other.uniqueVideos
            && totalPlayDurationMs == other.totalPlayDurationMs && same(avgPlayDurationMs, other.avgPlayDurationMs)
            && same(avgVideoDurationMs, other.avgVideoDurationMs) && same(avgWatchRatio, other.avgWatchRatio)
            && highWatchCount == other.highWatchCount && completeOrRewatchCount == other.completeOrRewatchCount
            && same(totalPlayDurationSec, other.totalPlayDurationSec) && same(avgPlayDurationSec, other.avgPlayDurationSec)
            && same(avgVideoDurationSec, other.avgVideoDurationSec) && same(highWatchShare, other.highWatchShare)
            && same(completeOrRewatchShare, other.completeOrRewatchShare) && activeDay == other.activeDay
            && itemContext == other.itemContext
    }

    /// True when the item context was joined (a day with a value or a match).
    var hasItemContext: Bool { itemContext.isJoined }
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
///
/// 72 bytes (every user holds five): the counts are 32-bit. `observations` and `windowCount` are at most 3;
/// `consecutiveSameValue` and `length` count values pushed, one a closed day, and 2^31 days are not closed in a
/// run (a checkpoint's values are checked when read).
public struct PandasRollingSum: Sendable, Equatable {
    var sum = 0.0
    var compensationAdd = 0.0
    var compensationRemove = 0.0
    var previousValue = Double.nan
    /// The last three values of the shifted series, oldest first at index 0 (NaN where a value was NaN); the
    /// places from `windowCount` on hold 0.
    private(set) var windowStorage = InlineArray<3, Double>(repeating: 0)
    var observations: Int32 = 0
    var consecutiveSameValue: Int32 = 0
    /// How many values `windowStorage` holds (at most ``windowSize``).
    private(set) var windowCount: Int32 = 0
    /// Number of values pushed so far.
    var length: Int32 = 0

    static let windowSize: Int32 = 3
    static let minPeriods: Int32 = 1

    public init() {}

    /// Sets the window to `values`, oldest first; false (nothing changed) when they are more than ``windowSize``.
    mutating func setWindow(_ values: [Double]) -> Bool {
        guard values.count <= Int(Self.windowSize) else { return false }
        windowStorage = InlineArray(repeating: 0)
        for (i, v) in values.enumerated() { windowStorage[i] = v }
        windowCount = Int32(values.count)
        return true
    }

    public static func == (a: Self, b: Self) -> Bool {
        func same(_ x: Double, _ y: Double) -> Bool { x.bitPattern == y.bitPattern }
        guard same(a.sum, b.sum), same(a.compensationAdd, b.compensationAdd),
            same(a.compensationRemove, b.compensationRemove), a.observations == b.observations,
            a.consecutiveSameValue == b.consecutiveSameValue, same(a.previousValue, b.previousValue),
            a.windowCount == b.windowCount, a.length == b.length
        else { return false }
        for i in 0..<Int(a.windowCount) where !same(a.windowStorage[i], b.windowStorage[i]) { return false }
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
        windowStorage[Int(windowCount)] = value
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
