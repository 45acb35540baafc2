import Foundation
import ReplayStream

/// The notebook's metadata tables, read from the same input as the interaction log:
/// `user_features.csv` (activity segment per user), `item_categories.csv` (category list per video)
/// and the first 150,000 rows of `item_daily_features.csv`.
public struct MetadataTables: Sendable {
    /// `user_active_degree` per `user_id` (nil = empty, NaN in pandas); nil when the file is absent.
    public var userActiveDegree: [Int32: String?]?
    /// `(category_count, first_category)` per `video_id`; nil when the file is absent.
    public var itemCategories: [Int32: (count: Int, first: Int?)]?
    /// `item_daily_summary`, computed over the first ``itemDailySampleRows`` rows.
    public var itemDailySummary: DiagnosticTable
    /// The notebook's two item-daily histograms (60 bins each): `show_cnt` and `item_play_rate` of the sample.
    public var itemDailyHistograms: [DiagnosticTable] = MetadataTables.itemDailyHistograms(showCounts: [], playRates: [])
    /// Why a file could not be read, per file name.
    public var problems: [String: String] = [:]

    /// The notebook's `ITEM_DAILY_SAMPLE_ROWS` (independent of `--rows`).
    public static let itemDailySampleRows = 150_000
    /// The columns the notebook reads from item_daily_features.csv (`daily_usecols`, without video_id and date).
    public static let itemDailyColumns = [
        "show_cnt", "show_user_num", "play_cnt", "play_user_num", "complete_play_cnt", "like_cnt", "comment_cnt",
        "share_cnt", "collect_cnt",
    ]
    /// `describe()` percentiles of item_daily_summary.
    public static let itemDailyPercentiles = [0.05, 0.25, 0.5, 0.75, 0.95]

    /// Starts ``read(input:)`` on a background thread (it needs only the input, so it runs beside the
    /// ingest pass); `wait()` returns the tables.
    ///
    /// Priority: the thread starts under Linux's `SCHED_IDLE` policy, so that it takes only the CPU the
    /// ingest pass's threads leave (the pass keeps both cores busy: a thread of normal priority beside it
    /// made the pass longer by about the ~0.25 s of CPU it took), and ``runAtNormalPriority()`` (called
    /// once the pass ends) gives it back the normal policy, so that it finishes while the replay starts,
    /// before the replay's memory is at its highest (its item-daily sample takes ~16 MB while it runs).
    public final class Pending: Sendable {
        private let done = DispatchSemaphore(value: 0)
        private let tables = TracedMutex<MetadataTables?>(nil)
        private let scheduling = Scheduling()
        private let schedulingQueue = DispatchQueue(label: "replay.metadata-scheduling")

        /// The reading thread while it reads (nil: not started, or done), and whether it runs at normal priority
        /// from now on. `@unchecked Sendable`: both are read and written only inside `schedulingQueue.sync`
        /// blocks (both threads change them at moments of their own), so never by two threads at once,
        /// and the thread is set to nil before it ends, so a policy is never set on a thread that has exited.
        private final class Scheduling: @unchecked Sendable {
            var thread: pthread_t?
            var normal = false
        }

        /// `idleFirst`: the thread starts under `SCHED_IDLE` (false: at normal priority, for a pass shorter
        /// than the tables' read, such as `--rows 300000`'s, which waits for them at its end).
        public init(input: String, idleFirst: Bool = true) {
            scheduling.normal = !idleFirst
            let thread = Thread { [self] in
                schedulingQueue.sync {
                    scheduling.thread = pthread_self()
                    if !scheduling.normal { Self.setPolicy(of: pthread_self(), idle: true) }
                }
                let read = MetadataTables.read(input: input)
                schedulingQueue.sync { scheduling.thread = nil }
                tables.withLock { $0 = read }
                done.signal()
            }
            thread.stackSize = 1 << 22
            thread.start()
        }

        /// Gives the reading thread the normal scheduling policy (the ingest pass has ended); idempotent.
        public func runAtNormalPriority() {
            schedulingQueue.sync {
                guard !scheduling.normal else { return }
                scheduling.normal = true
                if let thread = scheduling.thread { Self.setPolicy(of: thread, idle: false) }
            }
        }

        /// Sets `thread`'s policy to `SCHED_IDLE` or back to `SCHED_OTHER`. A failure leaves the policy as
        /// it was: it changes when the tables are read, never what they hold.
        private static func setPolicy(of thread: pthread_t, idle: Bool) {
            var parameters = sched_param(sched_priority: 0)
            _ = pthread_setschedparam(thread, idle ? schedIdle : Int32(SCHED_OTHER), &parameters)
        }

        /// Linux's `SCHED_IDLE` (`<sched.h>` defines it only under `_GNU_SOURCE`, which Swift's Glibc module does not).
        private static let schedIdle: Int32 = 5

        /// Blocks until the tables are read (at normal priority from then on: someone waits for them).
        public func wait() -> MetadataTables {
            runAtNormalPriority()
            done.wait()
            done.signal()
            return tables.withLock { $0 }!
        }
    }

    /// Reads the three tables from `input` (an archive, a folder, or a bare CSV, which has none).
    /// A missing or unreadable file leaves its part empty and says why in ``problems``: the
    /// interaction log was readable, so its diagnostics do not depend on these.
    public static func read(input: String) -> MetadataTables {
        var tables = MetadataTables(
            userActiveDegree: nil, itemCategories: nil,
            itemDailySummary: DescribedColumn.table(
                name: "item_daily_summary", rows: [], percentiles: itemDailyPercentiles))
        do {
            var degrees: [Int32: String?] = [:]
            try forEachRow(input: input, fileName: "user_features.csv", required: ["user_id", "user_active_degree"])
            { value, _ in
                guard let user = value(0).flatMap({ Int32($0) }) else { return }
                let degree = value(1)
                if degrees[user] == nil { degrees[user] = .some(degree.flatMap { $0.isEmpty ? nil : $0 }) }
            }
            tables.userActiveDegree = degrees
        } catch {
            tables.problems["user_features.csv"] = "\(error)"
        }
        do {
            var categories: [Int32: (count: Int, first: Int?)] = [:]
            try forEachRow(input: input, fileName: "item_categories.csv", required: ["video_id", "feat"]) { value, _ in
                guard let video = value(0).flatMap({ Int32($0) }) else { return }
                let list = parseCategoryList(value(1) ?? "")
                if categories[video] == nil { categories[video] = (list.count, list.first) }
            }
            tables.itemCategories = categories
        } catch {
            tables.problems["item_categories.csv"] = "\(error)"
        }
        do {
            // The sample in one allocation, column after column (column c's row r at `c * limit + r`): the
            // values written in place (appending to an array of arrays costs a uniqueness check, a runtime call,
            // per value: a tenth of this thread's time). Pages are touched only as rows are written.
            // Invariant: freed when this block ends; the tables computed from it keep values, no pointer into it.
            let width = itemDailyColumns.count, limit = itemDailySampleRows
            let sample = UnsafeMutableBufferPointer<Double>.allocate(capacity: (width + 2) * limit)
            defer { sample.deallocate() }
            var rows = 0
            try forEachRow(
                input: input, fileName: "item_daily_features.csv", required: itemDailyColumns, rowLimit: limit
            ) { _, number in
                guard rows < limit else { return }
                for i in 0..<width { sample[i * limit + rows] = number(i) ?? .nan }
                let show = sample[rows], play = sample[2 * limit + rows], like = sample[5 * limit + rows]
                sample[width * limit + rows] = show > 0 ? play / show : .nan
                sample[(width + 1) * limit + rows] = play > 0 ? like / play : .nan
                rows += 1
            }
            /// Column `c` of the rows read (valid while `sample` is).
            func column(_ c: Int) -> UnsafeBufferPointer<Double> {
                UnsafeBufferPointer(rebasing: sample[(c * limit)..<(c * limit + rows)])
            }
            let names = itemDailyColumns + ["item_play_rate", "item_like_rate_per_play"]
            tables.itemDailySummary = DescribedColumn.table(
                name: "item_daily_summary",
                rows: names.indices.map {
                    DescribedColumn.exact(column: names[$0], values: column($0), percentiles: itemDailyPercentiles)
                }, percentiles: itemDailyPercentiles)
            tables.itemDailyHistograms = itemDailyHistograms(showCounts: column(0), playRates: column(width))
        } catch {
            tables.problems["item_daily_features.csv"] = "\(error)"
            tables.itemDailySummary.note = "item_daily_features.csv: \(error)"
        }
        return tables
    }

    /// `item_show_count_histogram` and `item_play_rate_histogram`: `sns.histplot(item_daily, x=..., bins=60)`.
    static func itemDailyHistograms(showCounts: some Sequence<Double>, playRates: some Sequence<Double>) -> [DiagnosticTable] {
        [
            NumpyHistogram.of(showCounts, bins: 60).table(name: "item_show_count_histogram"),
            NumpyHistogram.of(playRates, bins: 60).table(name: "item_play_rate_histogram"),
        ]
    }

    /// The notebook's `parse_category_list` (``SideTableReader/parseCategoryList(_:)``).
    public static func parseCategoryList(_ text: String) -> [Int] { SideTableReader.parseCategoryList(text) }

    /// Calls `body` for each data row of `fileName` inside `input` with a lookup of the `required`
    /// columns' values (``SideTableReader/forEachRow(input:fileName:columns:rowLimit:_:)``).
    static func forEachRow(
        input: String, fileName: String, required: [String], rowLimit: Int? = nil,
        _ body: (_ value: (Int) -> String?, _ number: (Int) -> Double?) throws -> Void
    ) throws {
        try SideTableReader.forEachRow(input: input, fileName: fileName, columns: { _ in required }, rowLimit: rowLimit, body)
    }
}
