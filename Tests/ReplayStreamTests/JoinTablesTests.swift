import Foundation
import Testing
@testable import ReplayStream

/// The joined side tables: `ItemContextTable` (pandas' merge then `groupby().mean()` (numpy's reduceat) / `nunique()` over a
/// user-day's distinct videos) and `UserFeatureTable` (pandas' `read_csv` types and NA strings).
@Suite struct JoinTablesTests {
    let day = CalendarDay(yyyymmdd: 20200710)!

    /// Rows: video 1 twice on the day (both count, file order), video 2 with show_cnt 0 (its play rate NaN,
    /// skipped), video 3 on another day only, video 4 with show_cnt missing.
    func table() -> ItemContextTable {
        ItemContextTable(
            daily: [
                (1, day, 100, 50), (2, day, 0, 0), (1, day, 300, 30), (3, day.adding(1), 10, 10), (4, day, .nan, 5),
            ],
            categories: [(1, "[5, 9]"), (2, "[5]"), (3, "[]"), (1, "[7]"), (4, "not a list")])
    }

    @Test func meansAndCategoriesFollowPandasMergeAndGroupby() {
        let d = table().values(videos: [4, 3, 2, 1], day: day)
        // show_cnt over the matched rows 100, 300, 0 (video 4's is NaN, skipped): (100 + 300 + 0) / 3.
        #expect(d.itemMeanShowCount.bitPattern == (400.0 / 3).bitPattern)
        // item_play_rate 0.5, 0.1 (video 2's NaN, video 4's NaN skipped), numpy's segment sum in order.
        #expect(d.itemMeanPlayRate.bitPattern == ((0.5 + 0.1) / 2).bitPattern)
        // First categories: 5 (video 1's first row wins over [7]), 5 (video 2); video 3's list is empty and
        // video 4's is not a list: one distinct value.
        #expect(d.itemFirstCategories == 1)
        #expect(d.itemDailyMatched == 3, "videos 1, 2, 4 have a row on the day")
        #expect(d.itemCategoryMatched == 4)
    }

    /// numpy's `np.add.reduceat(x, [0])[0] / n` (what pandas 3.1's groupby mean gives a sorted, NaN-free
    /// frame), computed by numpy 2 for these values.
    @Test func segmentMeansAreNumpysReduceat() {
        func mean(_ values: [Double]) -> Double {
            var m = SegmentMean()
            for v in values { m.add(v) }
            return m.mean
        }
        #expect(mean([0.5862972669412205, 0.608843537414966, 0.7486033519553073]).bitPattern == 0.647914718770498.bitPattern)
        let x = (0..<150).map { Double(($0 * 7919) % 1000) / 997.0 + 1.0 / 3 }
        #expect(mean(x).bitPattern == 0.8269809428284854.bitPattern)
        #expect(mean(Array(x.prefix(20))).bitPattern == 0.8654296221999329.bitPattern)
        #expect(mean([.nan, 2, .nan]) == 2 && mean([.nan]).isNaN && mean([]).isNaN)
    }

    @Test func aDayWithoutRowsHasUnknownMeans() {
        let d = table().values(videos: [3, 99], day: day)
        #expect(d.itemMeanShowCount.isNaN && d.itemMeanPlayRate.isNaN)
        #expect(d.itemFirstCategories == 0 && d.itemDailyMatched == 0 && d.itemCategoryMatched == 1)
    }

    @Test func timelinesKeepTheItemContextThroughASnapshot() throws {
        var timeline = UserTimeline()
        var totals = DayTotals()
        totals.interactions = 2
        totals.uniqueVideos = 2
        let context = table().values(videos: [1, 2], day: day)
        let thresholds = TreatmentThresholds(highIntensity: 1, highWatchShare: 1)
        timeline.close(day: day, totals: totals, itemContext: context, thresholds: thresholds)
        timeline.close(day: day.adding(1), totals: DayTotals(), thresholds: thresholds)
        var w = ByteWriter()
        timeline.encode(into: &w)
        let decoded = try UserTimeline(decoding: w.bytes, historyLength: UserTimeline.leadHistoryLength)
        #expect(decoded.history.count == 2)
        #expect(decoded.itemContexts == [day: context], "the inactive day keeps none")
        #expect(decoded.daily(at: 0).hasSameBits(as: DailyValues(totals, itemContext: context)))
        #expect(decoded.daily(at: 1).hasSameBits(as: DailyValues()))
        #expect(!decoded.daily(at: 1).hasItemContext)
        // A context is dropped with its day.
        var later = decoded
        for k in 2...8 { later.close(day: day.adding(k), totals: DayTotals(), thresholds: thresholds) }
        #expect(later.itemContexts.isEmpty && later.history.oldestDay == day.adding(1))
    }

    @Test func userFeatureColumnsTakePandasTypes() {
        let table = UserFeatureTable(
            columns: ["segment", "count", "sparse", "ratio", "interactions"],
            rows: [
                (1, ["full_active", "3", "1", "0.5", "7"]), (2, ["NA", "007", nil, "2", "8"]), (1, ["other", "9", "9", "9", "9"]),
                (3, ["(0,10]", "-4", "null", "1e3", "9"]),
            ],
            reserved: ["interactions"])
        #expect(table.columns.map(\.kind) == [.text, .integer, .number, .number, .integer])
        #expect(table.columns.map(\.name) == ["segment", "count", "sparse", "ratio", "user_interactions"])
        #expect(table.rows[1]! == ["full_active", "3", "1", "0.5", "7"], "the first row of a user wins")
        #expect(table.rows[2]! == [nil, "007", nil, "2", "8"], "NA is missing")
        #expect(table.rows[3]![2] == nil)
    }
}
