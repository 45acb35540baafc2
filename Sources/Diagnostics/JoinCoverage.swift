import ReplayStream

/// How well the joined side tables cover the panel (`--with-user-features`, `--with-item-context`): the
/// report's `join_coverage` table. Counted over each user-day as it closes (its revision 0; a revision for a late
/// row replaces what the record it revises counted).
public struct JoinCoverage: Codable, Equatable, Sendable {
    /// Which joins the run made.
    public var userFeatures: Bool
    public var itemContext: Bool
    /// User-days closed, and those whose user has no row in `user_features.csv`.
    public var userDays = 0
    public var userDaysWithoutUserFeatures = 0
    /// Active user-days, and those none of whose videos has an `item_daily_features` row on that date.
    public var activeUserDays = 0
    public var activeUserDaysWithoutItemDaily = 0
    /// Distinct videos of active user-days (a video counted once per user-day), those without an
    /// `item_daily_features` row on that date, and those without a row in `item_categories.csv`.
    public var userDayVideos = 0
    public var videosWithoutItemDaily = 0
    public var videosWithoutCategory = 0

    public init(userFeatures: Bool, itemContext: Bool) {
        self.userFeatures = userFeatures
        self.itemContext = itemContext
    }

    /// Counts a user-day's revision 0 (`sign` 1), or takes back what a revised record counted (`sign` -1);
    /// `hasUserFeatures` says whether its user has a row.
    @inline(__always)
    mutating func add(_ record: borrowing UserDayRecord, hasUserFeatures: Bool, sign: Int = 1) {
        userDays += sign
        if !hasUserFeatures { userDaysWithoutUserFeatures += sign }
        let d = record.daily
        guard d.activeDay == 1 else { return }
        activeUserDays += sign
        if d.itemContext.itemDailyMatched == 0 { activeUserDaysWithoutItemDaily += sign }
        userDayVideos += sign * d.uniqueVideos
        videosWithoutItemDaily += sign * (d.uniqueVideos - d.itemContext.itemDailyMatched)
        videosWithoutCategory += sign * (d.uniqueVideos - d.itemContext.itemCategoryMatched)
    }

    /// `join_coverage`: the missing-key rates of each join made.
    public var table: DiagnosticTable {
        func rate(_ part: Int, _ whole: Int) -> DiagnosticValue { whole == 0 ? .null : .number(Double(part) / Double(whole)) }
        var rows: [[DiagnosticValue]] = [[.string("user_days"), .count(userDays)]]
        if userFeatures {
            rows.append([.string("user_days_without_user_features"), .count(userDaysWithoutUserFeatures)])
            rows.append([.string("missing_user_features_rate"), rate(userDaysWithoutUserFeatures, userDays)])
        }
        if itemContext {
            rows += [
                [.string("active_user_days"), .count(activeUserDays)],
                [.string("active_user_days_without_item_daily_rate"), rate(activeUserDaysWithoutItemDaily, activeUserDays)],
                [.string("user_day_videos"), .count(userDayVideos)],
                [.string("missing_item_daily_rate"), rate(videosWithoutItemDaily, userDayVideos)],
                [.string("missing_item_category_rate"), rate(videosWithoutCategory, userDayVideos)],
            ]
        }
        return DiagnosticTable(name: "join_coverage", columns: ["metric", "value"], rows: rows)
    }
}

extension PanelDiagnostics {
    /// Counts the joins' coverage from now on: `userFeatureUsers` are the users with a row in
    /// `user_features.csv` (nil: user features are not joined). A restored state keeps its counts.
    public func observeJoins(userFeatureUsers: Set<Int32>?, itemContext: Bool) {
        guard userFeatureUsers != nil || itemContext else { return }
        joinedUsers = userFeatureUsers
        if state.joinCoverage == nil {
            state.joinCoverage = JoinCoverage(userFeatures: userFeatureUsers != nil, itemContext: itemContext)
        }
    }
}
