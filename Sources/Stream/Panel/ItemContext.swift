import Foundation

/// `--with-item-context`: per user-day, what the videos the user consumed that day looked like on that
/// date, joined from `item_daily_features.csv` (on `video_id` and `date`) and `item_categories.csv` (on
/// `video_id`), both read whole, once, from the same archive.
///
/// For a user-day with distinct videos V (a video watched twice counts once):
/// - `item_mean_show_cnt`: the mean of `show_cnt` over the `item_daily_features` rows of V on that date;
/// - `item_mean_play_rate`: the mean of `item_play_rate` (`play_cnt / show_cnt`, NaN when `show_cnt` is 0,
///   the notebook's rule) over the same rows, NaN values skipped;
/// - `item_first_categories`: the number of distinct `first_category` values (the first id of an item's
///   `feat` list, the notebook's `parse_category_list`) among V.
/// A mean over no row is unknown (`null`); an inactive day has unknown means and 0 categories. The means are
/// pandas' `groupby(...).mean()` of the matched rows ordered by user, date, `video_id`, then file order
/// (``SegmentMean``: numpy's `reduceat`, the path pandas 3.1 takes for a frame sorted by its keys without NaN). A video with two rows for a date counts twice, as a merge would; a video with two category rows
/// takes the first.
public struct ItemContextTable: Sendable {
    /// The columns the join adds, in the order they are written.
    public static let columnNames = ["item_mean_show_cnt", "item_mean_play_rate", "item_first_categories"]

    /// `item_daily_features` rows ordered by (date, video, file order): `date << 32 | video`.
    private var keys: [UInt64] = []
    private var showCounts: [Double] = []
    private var playRates: [Double] = []
    /// Each categorized video's first category (nil for an empty list).
    private var firstCategory: [Int32: Int?] = [:]

    /// Rows of `item_daily_features.csv` read, and how many had no usable `video_id` or `date` (never matched).
    public private(set) var dailyRows = 0
    public private(set) var dailyRowsUnusable = 0
    /// Videos in `item_categories.csv`.
    public var categorizedVideos: Int { firstCategory.count }

    /// A table from rows already read (tests): `(video, date, show_cnt, play_cnt)` and `(video, feat)`.
    public init(daily: [(video: Int32, day: CalendarDay, showCount: Double, playCount: Double)], categories: [(Int32, String)]) {
        var rows: [(UInt64, Int, Double, Double)] = []
        for (n, r) in daily.enumerated() { rows.append((Self.key(r.day, r.video), n, r.showCount, r.playCount)) }
        self.init(sortedFrom: rows)
        dailyRows = daily.count
        for (video, feat) in categories where firstCategory[video] == nil {
            firstCategory[video] = .some(SideTableReader.parseCategoryList(feat).first)
        }
    }

    private init(sortedFrom rows: [(key: UInt64, order: Int, show: Double, play: Double)]) {
        let sorted = rows.sorted { ($0.key, $0.order) < ($1.key, $1.order) }
        keys = sorted.map(\.key)
        showCounts = sorted.map(\.show)
        playRates = sorted.map { $0.show > 0 ? $0.play / $0.show : .nan }
    }

    /// Reads both tables from `input` (an archive or a folder holding `KuaiRec 2.0/data/`).
    /// - Throws: ``InputError`` when a table is absent or lacks a column; archive and CSV errors.
    public static func load(input: String) throws -> ItemContextTable {
        var rows: [(key: UInt64, order: Int, show: Double, play: Double)] = []
        var unusable = 0
        try SideTableReader.forEachRow(
            input: input, fileName: "item_daily_features.csv", columns: { _ in ["video_id", "date", "show_cnt", "play_cnt"] }
        ) { _, number in
            guard let video = number(0).flatMap({ Int32(exactly: $0) }), let date = number(1).flatMap({ Int64(exactly: $0) }),
                let day = CalendarDay(yyyymmdd: date)
            else {
                unusable += 1
                return
            }
            rows.append((key(day, video), rows.count, number(2) ?? .nan, number(3) ?? .nan))
        }
        var table = ItemContextTable(sortedFrom: rows)
        table.dailyRows = rows.count + unusable
        table.dailyRowsUnusable = unusable
        try SideTableReader.forEachRow(
            input: input, fileName: "item_categories.csv", columns: { _ in ["video_id", "feat"] }
        ) { value, _ in
            guard let video = value(0).flatMap({ Int32($0) }), table.firstCategory[video] == nil else { return }
            table.firstCategory[video] = .some(SideTableReader.parseCategoryList(value(1) ?? "").first)
        }
        return table
    }

    @inline(__always)
    private static func key(_ day: CalendarDay, _ video: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: day.rawValue)) << 32 | UInt64(UInt32(bitPattern: video))
    }

    /// The first row at or after `key`.
    private func lowerBound(_ key: UInt64) -> Int {
        var low = 0, high = keys.count
        while low < high {
            let mid = (low + high) / 2
            if keys[mid] < key { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// The item context of a user-day on `day` whose distinct videos are `videos`.
    public func values(videos: VideoSet, day: CalendarDay) -> ItemContextValues {
        var show = SegmentMean(), play = SegmentMean()
        var categories = Set<Int>()
        var matched = 0, categorized = 0
        for video in videos.sorted() {
            var row = lowerBound(Self.key(day, video))
            let key = Self.key(day, video)
            if row < keys.count, keys[row] == key { matched += 1 }
            while row < keys.count, keys[row] == key {
                show.add(showCounts[row])
                play.add(playRates[row])
                row += 1
            }
            if let first = firstCategory[video] {
                categorized += 1
                if let first { categories.insert(first) }
            }
        }
        var context = ItemContextValues()
        context.itemMeanShowCount = show.mean
        context.itemMeanPlayRate = play.mean
        context.itemFirstCategories = categories.count
        context.itemDailyMatched = matched
        context.itemCategoryMatched = categorized
        return context
    }
}

/// The mean pandas 3.1 gives a group of a frame sorted by its keys with no NaN in the column (the matched rows
/// only): `np.add.reduceat` over the group's values, divided by their count. numpy reduces a segment as its
/// first value plus the pairwise sum of the rest (``pairwiseSum(_:)``, numpy's `pairwise_sum`). NaN values are
/// left out (they are the rows the notebook's `dropna` drops); no value gives NaN.
struct SegmentMean {
    private(set) var values: [Double] = []

    @inline(__always)
    mutating func add(_ value: Double) { if !value.isNaN { values.append(value) } }

    var mean: Double {
        guard let first = values.first else { return .nan }
        return (first + Self.pairwiseSum(values[1...])) / Double(values.count)
    }

    /// numpy's `pairwise_sum` (loops_utils.h): below 8 values a plain loop from 0; up to 128, eight running sums
    /// combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)) and the remainder added in order; above, the two halves
    /// (the first a multiple of 8 long) summed apart.
    static func pairwiseSum(_ x: ArraySlice<Double>) -> Double {
        let n = x.count, base = x.startIndex
        if n < 8 {
            var sum = 0.0
            for v in x { sum += v }
            return sum
        }
        if n <= 128 {
            var r = (x[base], x[base + 1], x[base + 2], x[base + 3], x[base + 4], x[base + 5], x[base + 6], x[base + 7])
            var i = 8
            while i < n - n % 8 {
                r.0 += x[base + i]; r.1 += x[base + i + 1]; r.2 += x[base + i + 2]; r.3 += x[base + i + 3]
                r.4 += x[base + i + 4]; r.5 += x[base + i + 5]; r.6 += x[base + i + 6]; r.7 += x[base + i + 7]
                i += 8
            }
            var sum = ((r.0 + r.1) + (r.2 + r.3)) + ((r.4 + r.5) + (r.6 + r.7))
            while i < n {
                sum += x[base + i]
                i += 1
            }
            return sum
        }
        var half = n / 2
        half -= half % 8
        return pairwiseSum(x[base..<(base + half)]) + pairwiseSum(x[(base + half)...])
    }
}
