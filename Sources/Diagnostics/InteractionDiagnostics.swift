import CPrefetch
import Foundation
import ReplayStream

/// The notebook's interaction-level tables, final once the ingest pass has read every row:
/// `coverage_summary`, `missingness`, `engagement_summary`, `user_activity`, `item_activity`,
/// `metadata_diagnostics` (and its per-segment table), `item_daily_summary`.
public struct InteractionDiagnostics: Codable, Equatable, Sendable {
    /// The tables, in the notebook's order.
    public var tables: [DiagnosticTable]
    /// Rows the notebook would read but whose numbers do not parse (left out of these tables).
    public var rowsLeftOut: Int
    /// Rows these tables cover (the notebook's `len(interactions)`).
    public var rows: Int

    /// Creates the set of tables.
    public init(tables: [DiagnosticTable], rowsLeftOut: Int, rows: Int) {
        self.tables = tables
        self.rowsLeftOut = rowsLeftOut
        self.rows = rows
    }
}

/// Builds the interaction-level tables while the ingest pass reads the log (one call per row),
/// then finishes them with one more pass over the day buckets for the exact percentiles and the
/// two-pass standard deviations of `engagement_summary`.
///
/// Which rows count: every row the notebook would keep in `interactions` with its numeric columns
/// intact, i.e. every accepted row and every rejected row whose `user_id`, `video_id`, durations and
/// `watch_ratio` parse (rows without a date or time are such rows: 3.9% of small_matrix). Rows
/// whose numbers do not parse would change a column's dtype in pandas; they are left out and counted.
///
/// Memory: per user a few numbers, and the sets of the videos and dates its rows saw while its rows come: a
/// user's sets are spilled to a file beside the day buckets when its first stretch of rows ends
/// (``UserSetSpill``; KuaiRec's rows come grouped by user, so that the pass holds one user's sets), and held in
/// memory for a user whose rows come again later (a bit set over the videos, users × videos / 8 bytes at most,
/// and its dates). Per video three numbers; 3 × 4 MiB of percentile bins. Rejected rows that are kept are
/// spilled to a file beside the day buckets, not held in memory. A collector without a spill directory (a live
/// feed's) holds every user's sets.
public final class InteractionDiagnosticsCollector: IngestObserver {
    /// `describe()` percentiles of engagement_summary.
    public static let engagementPercentiles = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]
    /// The notebook's `interactions` columns, in its order (the missingness table's rows).
    public static let interactionColumns = [
        "user_id", "video_id", "play_duration", "video_duration", "time", "date", "timestamp", "watch_ratio",
        "event_date", "event_timestamp", "event_time_from_text", "event_time", "play_duration_sec",
        "video_duration_sec", "watch_ratio_capped_5",
    ]
    static let engagementColumns = ["play_duration_sec", "video_duration_sec", "watch_ratio", "watch_ratio_capped_5"]

    private var columns: InteractionColumns?
    /// Where kept rejected rows are spilled (nil: a collector that is only given rows' values, which spills none).
    private let spillURL: URL?
    private var spill: [Interaction] = []
    /// True once the spill's file was begun (emptied, then appended to) by ``flushSpill()``.
    private var spillBegun = false
    /// Where each user's sets go when its first stretch of rows ends (nil: held in memory).
    private let userSets: UserSetSpill?

    /// The rows counted, the time columns' missing values and the event-time range.
    private var tally = InteractionRowTally()

    // Engagement, pass 1 (sums, extremes, percentile bins) for the four columns, held in fixed fields and
    // one flat allocation rather than arrays of arrays: every row updates each of them, and an array element
    // mutated through a class property pays a uniqueness check each time.
    private var sums = CompensatedSums4()
    private var minima = SIMD4<Double>(repeating: .infinity)
    private var maxima = SIMD4<Double>(repeating: -.infinity)
    /// Three histograms of `binCount` bins each, one after the other. Invariant: allocated (zeroed, by
    /// ``zeroedBins()``) in `init`, used by this collector alone, never handed out; freed once, with `free`, by
    /// `finish` (which leaves it empty) or by `deinit`.
    private var bins: UnsafeMutableBufferPointer<UInt32>

    // Per user and per video.
    private var userSlots = DenseIDIndex()
    private var users: [UserTally] = []
    private var videoSlots = DenseIDIndex()
    private var videos: [VideoTally] = []
    /// The user of the last row, whose tally is `current` (-1: none).
    private var cachedUser: Int32 = -1
    /// The last row's user's tally, taken out of `users` while that user's rows come (they come grouped by
    /// user) so that each row updates it without going through the array; `users[currentSlot]` holds a
    /// placeholder meanwhile. ``storeCurrentUser()`` puts it back.
    private var current = UserTally(id: -1)
    private var currentSlot = -1
    /// The last date added to the current user's dates: rows come grouped by user and day.
    private var cachedUserDate = Int32.min
    /// The tables read from the users' video and date sets, built by ``concludeFirstPass()``, which frees the
    /// sets (nil: not yet).
    private(set) var repeatedMeasureTables: [DiagnosticTable]?
    /// The distinct users of each video's rows, by video slot: counted by ``concludeFirstPass()``.
    private var videoUsers: [Int] = []

    struct UserTally {
        var id: Int32
        var rows = 0
        var watchRatio = CompensatedSum()
        var playMs: Int64 = 0
        /// The videos (a bit set over video slots) and event dates of the rows not in the spill.
        var videoBits: [UInt64] = []
        var dates = Set<Int32>()
        /// True once the sets of the user's first stretch of rows are in the spill (``userSets``).
        var spilled = false
        /// Distinct videos and event dates of all the user's rows, counted by ``concludeFirstPass()``.
        var uniqueVideos = 0
        var activeDays = 0
    }

    struct VideoTally {
        var id: Int32
        var rows = 0
        var watchRatio = CompensatedSum()
        var playMs: Int64 = 0
    }

    /// Creates a collector whose kept-but-rejected rows are spilled into `spillDirectory`.
    public init(spillDirectory: URL) {
        spillURL = spillDirectory.appendingPathComponent("undated-rows.events")
        userSets = UserSetSpill(url: spillDirectory.appendingPathComponent("user-sets.spill"))
        bins = InteractionDiagnosticsCollector.zeroedBins()
    }

    /// A collector given the rows' values by ``tally(_:eventDate:)`` (a live feed's logged rows), whose row
    /// counts, missing values and event-time range are `tally`'s.
    init(restoring tally: InteractionRowTally) {
        spillURL = nil
        userSets = nil
        self.tally = tally
        bins = InteractionDiagnosticsCollector.zeroedBins()
    }

    deinit {
        if let base = bins.baseAddress { free(base) }
    }

    /// The three histograms' bins, zero, from `calloc`: an allocation this large is fresh pages from the
    /// kernel, already zero, so that only the pages of the bins a row lands in are ever touched (a few hundred
    /// KB of the 12 MiB on KuaiRec's columns; zeroing them all cost the ingest a page fault and a clear per
    /// page). Freed with `free`.
    private static func zeroedBins() -> UnsafeMutableBufferPointer<UInt32> {
        guard let raw = calloc(3 * binCount, MemoryLayout<UInt32>.stride) else {
            fatalError("out of memory allocating the diagnostics' percentile bins")
        }
        return UnsafeMutableBufferPointer(start: raw.assumingMemoryBound(to: UInt32.self), count: 3 * binCount)
    }

    static let binBits = 20
    /// Bins per histogram.
    static let binCount = 1 << binBits

    /// An order-preserving bin of a double: the top bits of its total-order key.
    @inline(__always)
    static func bin(_ x: Double) -> Int { Int(CountedValues.orderKey(x) >> UInt64(64 - binBits)) }

    public func begin(columns: InteractionColumns) throws {
        self.columns = columns
        if let spillURL { Self.removeSpillFiles(spillURL.path) }
        spillBegun = false
        userSets?.remove()
    }

    /// One row (a live feed's): the run of one row.
    public func observe(_ row: NotebookRow) throws {
        try withUnsafePointer(to: row) { try observe(UnsafeBufferPointer(start: $0, count: 1), run: 0..<1) }
    }

    /// The rows of `rows[run]` in order (the ingest pass hands them over a run at a time): the
    /// engagement sums and extremes and the row tally are kept in locals over the run, written back at its end.
    public func observe(_ rows: UnsafeBufferPointer<NotebookRow>, run: Range<Int>) throws {
        guard columns != nil else { return }
        var sums = self.sums, minima = self.minima, maxima = self.maxima
        // Moved out, not copied, so that its set of dates stays uniquely referenced.
        var tally = InteractionRowTally()
        swap(&tally, &self.tally)
        defer {
            (self.sums, self.minima, self.maxima) = (sums, minima, maxima)
            swap(&tally, &self.tally)
        }
        let last = rows.count - 1
        for i in run {
            let row = rows[i]
            guard row.isKept else {
                tally.leftOut += 1
                continue
            }
            if row.day == nil {
                spill.append(row.event)
                if spill.count >= 16_384 { try flushSpill() }
            }
            tally.add(row)
            Self.addEngagement(row.event, sums: &sums, minima: &minima, maxima: &maxima, bins: bins)
            tallyUserAndVideo(
                row.event, eventDate: row.eventDate,
                videoAhead: rows[Swift.min(i + Ingest.observerLookahead, last)].event.videoID)
            try userSets?.flushIfFull()
        }
    }

    /// Tallies a kept row's values: the engagement columns, and the per-user and per-video tallies. `videoAhead`
    /// is the video of a row a few rows later (-1: none), whose tally is prefetched.
    @inline(__always)
    func tally(_ event: Interaction, eventDate: CalendarDay?, videoAhead: Int32 = -1) {
        Self.addEngagement(event, sums: &sums, minima: &minima, maxima: &maxima, bins: bins)
        tallyUserAndVideo(event, eventDate: eventDate, videoAhead: videoAhead)
    }

    /// Adds a row's engagement columns to the sums, extremes and histogram bins given.
    @inline(__always)
    private static func addEngagement(
        _ event: Interaction, sums: inout CompensatedSums4, minima: inout SIMD4<Double>, maxima: inout SIMD4<Double>,
        bins: UnsafeMutableBufferPointer<UInt32>
    ) {
        let values = engagementValues(event)
        sums.add(values)
        // Lane by lane `if x < minimum { minimum = x }` (a NaN never replaces an extreme).
        minima.replace(with: values, where: values .< minima)
        maxima.replace(with: values, where: values .> maxima)
        let n = binCount
        bins[bin(values[0])] &+= 1
        bins[n + bin(values[1])] &+= 1
        bins[2 * n + bin(values[2])] &+= 1
    }

    /// Per-user and per-video tallies: rows, watch ratio, play time, distinct videos and dates.
    @inline(__always)
    private func tallyUserAndVideo(_ event: Interaction, eventDate: CalendarDay?, videoAhead: Int32) {
        if event.userID != cachedUser {
            storeCurrentUser()
            let slot = userSlots.slot(of: event.userID) { users.append(UserTally(id: event.userID)) }
            swap(&current, &users[slot])
            currentSlot = slot
            cachedUser = event.userID
        }
        let v = videoSlots.slot(of: event.videoID) { videos.append(VideoTally(id: event.videoID)) }
        let ahead = videoSlots.existingSlot(of: videoAhead)
        videos.withUnsafeMutableBufferPointer { videos in
            // The row's video tally is the one load of a row that misses the caches (the big matrix's 10,728
            // tallies, ~430 KB, do not stay in L2 beside the ingest's buffers: in `perf annotate` a third of
            // `observe`'s samples sat on it); the tally of a video a few rows ahead is fetched now, so that its
            // row finds it there.
            if let ahead { replay_prefetch_for_write(videos.baseAddress! + ahead) }
            videos[v].rows += 1
            videos[v].watchRatio.add(event.watchRatio)
            videos[v].playMs &+= event.playDurationMs
        }
        current.rows += 1
        current.watchRatio.add(event.watchRatio)
        current.playMs &+= event.playDurationMs
        let word = v >> 6
        if current.videoBits.count <= word {
            current.videoBits.append(contentsOf: repeatElement(0, count: word + 1 - current.videoBits.count))
        }
        current.videoBits[word] |= 1 << UInt64(v & 63)
        if let d = eventDate, d.rawValue != cachedUserDate {
            current.dates.insert(d.rawValue)
            cachedUserDate = d.rawValue
        }
    }

    /// Puts the current user's tally back into `users` (before a row of another user, and before `users`
    /// is read). The sets of a user's first stretch of rows go to the spill, when there is one.
    private func storeCurrentUser() {
        guard currentSlot >= 0 else { return }
        if let userSets, !current.spilled {
            userSets.append(slot: currentSlot, videoBits: current.videoBits, dates: current.dates)
            current.videoBits = []
            current.dates = []
            current.spilled = true
        }
        swap(&current, &users[currentSlot])
        currentSlot = -1
        cachedUser = -1
        cachedUserDate = Int32.min
    }

    /// `watch_ratio_capped_5` of a watch ratio (`clip(0, 5)`).
    @inline(__always)
    static func cappedWatchRatio(_ ratio: Double) -> Double { min(max(ratio, 0), 5) }

    /// play_duration_sec, video_duration_sec, watch_ratio, watch_ratio_capped_5 of a row, as pandas computes them.
    @inline(__always)
    static func engagementValues(_ e: Interaction) -> SIMD4<Double> {
        SIMD4(
            Double(e.playDurationMs) / 1_000, Double(e.videoDurationMs) / 1_000, e.watchRatio,
            cappedWatchRatio(e.watchRatio))
    }

    /// Removes the spill at `path` and its side file (``DayFileRecords/widePath(of:)``), where they exist.
    private static func removeSpillFiles(_ path: String) {
        unlink(path)
        unlink(DayFileRecords.widePath(of: path))
    }

    private func flushSpill() throws {
        guard !spill.isEmpty else { return }
        let path = spillURL!.path  // only a collector with a spill is shown rejected rows
        if !spillBegun {
            Self.removeSpillFiles(path)
            spillBegun = true
        }
        // The day files' layout (``DayFileRecords``), read back as they are (``DayBuckets/forEachChunk(inFile:buffer:_:)``).
        try spill.withUnsafeMutableBytes { try DayFileRecords.append($0, to: path) }
        spill.removeAll(keepingCapacity: true)
    }

    /// Calls `body` with the kept rows' events a chunk at a time: the day buckets' files, then the spill
    /// (``DayBuckets/forEachChunk(inFile:buffer:_:)``).
    private func forEachKeptEvent(dayFiles: [URL], _ body: (UnsafeBufferPointer<Interaction>) -> Void) throws {
        var files = dayFiles
        if let spillURL { files.append(spillURL) }
        var buffer: [Interaction] = []
        for url in files where FileManager.default.fileExists(atPath: url.path) {
            try DayBuckets.forEachChunk(inFile: url.path, buffer: &buffer, body)
        }
    }

    /// Ends the first pass: counts each user's distinct videos and dates and each video's distinct users (the
    /// spilled sets read back once, those of a user whose rows came again joined with the ones held), builds the
    /// tables read from them (`user_activity`, `item_activity`, the two user histograms) and frees the sets held.
    /// The run calls it on its own thread before the second pass starts beside the replay: sets freed while the
    /// replay's first days allocate would leave their holes under the replay's blocks (10-20 MB more at the
    /// every-revision outputs' peak). Later rows must not be observed; ``finish(metadata:keptRows:)`` calls it
    /// when the caller has not.
    /// - Throws: ``POSIXFileError`` when the spill cannot be written or read, ``DamagedFileError`` when it is cut.
    public func concludeFirstPass() throws {
        guard repeatedMeasureTables == nil else { return }
        storeCurrentUser()
        videoUsers = [Int](repeating: 0, count: videos.count)
        /// Counts `user`'s sets, whole.
        func count(_ user: Int, bits: [UInt64], dates: Int) {
            var unique = 0
            for (w, word) in bits.enumerated() where word != 0 {
                unique += word.nonzeroBitCount
                var rest = word
                while rest != 0 {
                    videoUsers[w * 64 + rest.trailingZeroBitCount] += 1
                    rest &= rest - 1
                }
            }
            users[user].uniqueVideos = unique
            users[user].activeDays = dates
        }
        if let userSets {
            defer { userSets.remove() }
            try userSets.finishWriting()
            try userSets.forEachRecord { slot, bits, dates in
                if users[slot].videoBits.isEmpty && users[slot].dates.isEmpty {
                    count(slot, bits: bits, dates: dates.count)
                    return
                }
                // The user's rows came again: its first stretch's sets join the ones held, counted below.
                if users[slot].videoBits.count < bits.count {
                    users[slot].videoBits.append(contentsOf: repeatElement(0, count: bits.count - users[slot].videoBits.count))
                }
                for w in bits.indices { users[slot].videoBits[w] |= bits[w] }
                users[slot].dates.formUnion(dates)
            }
        }
        for i in users.indices where !users[i].spilled || !users[i].videoBits.isEmpty || !users[i].dates.isEmpty {
            count(i, bits: users[i].videoBits, dates: users[i].dates.count)
            users[i].videoBits = []
            users[i].dates = []
        }
        repeatedMeasureTables = repeatedMeasures()
    }

    /// Finishes every table: one pass over the day buckets (spans `days`) and the spill for the
    /// percentiles and standard deviations, then the joins with the tables `metadata` returns (called once,
    /// after that pass: the side tables may still be being read meanwhile).
    /// - Throws: when a bucket or the spill cannot be read.
    public func finish(buckets: DayBuckets, days: ClosedRange<CalendarDay>?, metadata: () -> MetadataTables) throws
        -> InteractionDiagnostics
    {
        try finish(dayFiles: Self.dayFiles(of: buckets, days: days), metadata: metadata)
    }

    /// The day files of `buckets` over `days` in day order (nil: none), for ``finish(dayFiles:metadata:)``.
    public static func dayFiles(of buckets: DayBuckets, days: ClosedRange<CalendarDay>?) -> [URL] {
        guard let days else { return [] }
        var files: [URL] = []
        var d = days.lowerBound
        while d <= days.upperBound {
            files.append(buckets.fileURL(for: d))
            d = d.adding(1)
        }
        return files
    }

    /// Finishes every table: one pass over `dayFiles` (the day buckets in day order, as the first pass left
    /// them) and the spill, then the joins with the tables `metadata` returns (called once, after that pass).
    /// Reads files only: it may run on another thread while the buckets are read, not while they are written.
    /// - Throws: when a bucket or the spill cannot be read.
    public func finish(dayFiles: [URL], metadata: () -> MetadataTables) throws -> InteractionDiagnostics {
        try flushSpill()
        spillBegun = false
        let finished = try finish(metadata: metadata) { try forEachKeptEvent(dayFiles: dayFiles, $0) }
        if let spillURL { Self.removeSpillFiles(spillURL.path) }
        return finished
    }

    /// The bins holding the ranks the percentiles read, of the three histograms of ``bins``: histogram i's bin b
    /// is bit `j & 63` of `wanted[j >> 6]`, `j = i * binCount + b` (one flat bit set, 384 KB: the second pass reads
    /// it per value; a `[Bool]` would be 3 MB, all touched, beside the replay's first days), and `binStart[i][b]`
    /// is the rank of its first value.
    private func binsHoldingPercentiles(count n: Int) -> (wanted: [UInt64], binStart: [[Int: Int]]) {
        let ranks = Set(InteractionDiagnosticsCollector.engagementPercentiles.flatMap { NumpyQuantile.ranks($0, count: n) })
        var binStart = [[Int: Int]](repeating: [:], count: 3)
        let binCount = InteractionDiagnosticsCollector.binCount
        var wanted = [UInt64](repeating: 0, count: 3 * binCount / 64)
        for i in 0..<3 {
            let histogram = UnsafeBufferPointer(rebasing: bins[(i * binCount)..<((i + 1) * binCount)])
            var seen = 0
            let sortedRanks = ranks.sorted()
            var r = 0
            for (b, k) in histogram.enumerated() where k > 0 {
                let next = seen + Int(k)
                while r < sortedRanks.count, sortedRanks[r] < next {
                    let j = i * binCount + b
                    wanted[j >> 6] |= 1 << UInt64(j & 63)
                    binStart[i][b] = seen
                    r += 1
                }
                seen = next
            }
        }
        return (wanted, binStart)
    }

    /// `empty` (a histogram without values) with the values of the first pass's fine histogram `fine` counted, each
    /// through `transform` (never decreasing as its argument grows), for every fine bin whose values all fall in
    /// one of its bins: the values of a fine bin lie between the doubles of its lowest and highest keys, so when
    /// both ends fall in the same bin, so does every value between them. Also returns the other fine bins, holding
    /// values that may fall in two bins or outside the edges (or NaN): their values are left to the caller to add
    /// one by one.
    private func coarseHistogram(
        _ empty: NumpyHistogram, fromFine fine: Int, _ transform: (Double) -> Double
    ) -> (NumpyHistogram, Set<Int>) {
        var histogram = empty
        var straddling = Set<Int>()
        let shift = UInt64(64 - Self.binBits)
        for b in 0..<Self.binCount {
            let count = bins[fine * Self.binCount + b]
            guard count > 0 else { continue }
            let lowest = transform(CountedValues.value(ofKey: UInt64(b) << shift))
            let highest = transform(CountedValues.value(ofKey: UInt64(b) << shift | (1 << shift - 1)))
            if let bin = histogram.bin(of: lowest), histogram.bin(of: highest) == bin {
                histogram.add(count: Int(count), toBin: bin)
            } else {
                straddling.insert(b)
            }
        }
        return (histogram, straddling)
    }

    /// Finishes every table: one pass over the kept rows (`keptRows` calls its argument with them a run at a time,
    /// in the order the ingest's second pass reads them: by day, in the order they came, then the rejected ones) for
    /// the percentiles and standard deviations, then the joins with the tables `readMetadata` returns. Without
    /// side tables (nil: a live feed) the metadata tables say so in a note instead of holding rows.
    /// - Throws: `keptRows`' errors.
    func finish(
        metadata readMetadata: () -> MetadataTables?, keptRows: ((UnsafeBufferPointer<Interaction>) -> Void) throws -> Void
    ) throws -> InteractionDiagnostics {
        storeCurrentUser()
        let n = tally.rows
        let totals = sums.value
        let means = (0..<4).map { n == 0 ? Double.nan : totals[$0] / Double(n) }
        let binCount = InteractionDiagnosticsCollector.binCount
        var (wanted, binStart) = binsHoldingPercentiles(count: n)
        // The notebook's two engagement histograms (60 bins over each column's range): play seconds and capped watch
        // ratio, counted from the first pass's fine bins but for the fine bins that straddle an edge, whose values
        // the pass below adds one by one (as it collects the values of the bins holding percentiles: both are in
        // `wanted`).
        var (playHistogram, playStraddles) = coarseHistogram(
            NumpyHistogram(bins: 60, min: minima[0], max: maxima[0]), fromFine: 0, { $0 })
        var (watchHistogram, watchStraddles) = coarseHistogram(
            NumpyHistogram(bins: 60, min: minima[3], max: maxima[3]), fromFine: 2, Self.cappedWatchRatio)
        for b in playStraddles { wanted[b >> 6] |= 1 << UInt64(b & 63) }
        for b in watchStraddles { wanted[(2 * binCount + b) >> 6] |= 1 << UInt64(b & 63) }
        if let base = bins.baseAddress { free(base) }
        bins = UnsafeMutableBufferPointer(start: nil, count: 0)
        var collected = [[Int: CountedValues]](repeating: [:], count: 3)
        var squareSums = CompensatedSums4()
        let center = SIMD4(means[0], means[1], means[2], means[3])
        try wanted.withUnsafeBufferPointer { wanted in
            try keptRows { events in
                // The run's sums and histograms in locals for its loop (the closure's captures are read and written
                // through their addresses), each row added in order as one row at a time would.
                var sums = squareSums, watch = watchHistogram, play = playHistogram
                defer { (squareSums, watchHistogram, playHistogram) = (sums, watch, play) }
                for e in events {
                    let values = InteractionDiagnosticsCollector.engagementValues(e)
                    let d = values - center
                    sums.add(d * d)
                    for i in 0..<3 {
                        let b = InteractionDiagnosticsCollector.bin(values[i])
                        let j = i * binCount + b
                        guard wanted[j >> 6] >> UInt64(j & 63) & 1 != 0 else { continue }
                        if binStart[i][b] != nil { collected[i][b, default: CountedValues()].add(values[i]) }
                        if i == 0, playStraddles.contains(b) { play.add(values[0]) }
                        if i == 2, watchStraddles.contains(b) { watch.add(values[3]) }
                    }
                }
            }
        }
        var tables = [coverage(), missingness()]
        tables.append(
            engagementSummary(
                count: n, means: means, squares: squareSums.value, percentileBins: collected, binStart: binStart))
        collected = []
        tables.append(watchHistogram.table(name: "watch_ratio_histogram"))
        tables.append(playHistogram.table(name: "play_duration_histogram"))
        try concludeFirstPass()
        tables.append(contentsOf: repeatedMeasureTables ?? [])
        if let metadata = readMetadata() {
            tables.append(contentsOf: metadataJoin(metadata))
            tables.append(metadata.itemDailySummary)
            tables.append(contentsOf: metadata.itemDailyHistograms)
        } else {
            tables.append(contentsOf: InteractionDiagnosticsCollector.withoutSideTables)
        }
        return InteractionDiagnostics(tables: tables, rowsLeftOut: tally.leftOut, rows: tally.rows)
    }

    /// `engagement_summary`: each column's count, mean, standard deviation (from the `squares` of the deviations from
    /// `means`), extremes and percentiles, read from the values of the bins holding them (`percentileBins`, whose
    /// first ranks are `binStart`'s).
    private func engagementSummary(
        count n: Int, means: [Double], squares: SIMD4<Double>, percentileBins: [[Int: CountedValues]],
        binStart: [[Int: Int]]
    ) -> DiagnosticTable {
        let ordered = percentileBins.map { $0.mapValues { $0.ordered() } }
        func element(_ i: Int, _ rank: Int) -> Double {
            let b = binStart[i].filter { $0.value <= rank }.max { $0.value < $1.value }!.key
            return ordered[i][b]!.element(rank - binStart[i][b]!)
        }
        var described: [DescribedColumn] = []
        for i in 0..<4 {
            let source = min(i, 2)  // the capped column's order statistics are the ratio's, clipped
            let clip: (Double) -> Double = i == 3 ? { Self.cappedWatchRatio($0) } : { $0 }
            described.append(
                DescribedColumn(
                    column: InteractionDiagnosticsCollector.engagementColumns[i], count: n, mean: means[i],
                    std: n < 2 ? .nan : (squares[i] / Double(n - 1)).squareRoot(), min: n == 0 ? .nan : minima[i],
                    percentiles: InteractionDiagnosticsCollector.engagementPercentiles.map { q in
                        NumpyQuantile.linear(q, count: n) { clip(element(source, $0)) }
                    }, max: n == 0 ? .nan : maxima[i]))
        }
        return DescribedColumn.table(
            name: "engagement_summary", rows: described, percentiles: InteractionDiagnosticsCollector.engagementPercentiles)
    }

    /// What a live feed says in place of the tables that join the side tables of an archive (it has none).
    public static let sideTablesNeeded =
        "needs the archive's side tables (user_features.csv, item_categories.csv, item_daily_features.csv); a live feed has none"

    /// The metadata tables without side tables: no columns, and a note saying why.
    static var withoutSideTables: [DiagnosticTable] {
        DiagnosticsReport.metadataTableNames.map { DiagnosticTable(name: $0, columns: [], note: sideTablesNeeded) }
    }

    private func coverage() -> DiagnosticTable {
        let t = tally
        let sortedDates = t.dates.sorted()
        func day(_ raw: Int32?) -> DiagnosticValue {
            raw.map { .string("\(CalendarDay(rawValue: $0)) 00:00:00.000") } ?? .null
        }
        return DiagnosticTable(
            name: "coverage_summary", columns: ["metric", "value"],
            rows: [
                [.string("interaction_rows"), .count(t.rows)],
                [.string("unique_users"), .count(users.count)],
                [.string("unique_videos"), .count(videos.count)],
                [.string("unique_event_dates"), .count(t.dates.count)],
                [.string("first_event_date"), day(sortedDates.first)],
                [.string("last_event_date"), day(sortedDates.last)],
                [.string("first_event_time"), t.firstTime == .max ? .null : .string(NaiveTimeText.format(t.firstTime))],
                [.string("last_event_time"), t.lastTime == .min ? .null : .string(NaiveTimeText.format(t.lastTime))],
            ])
    }

    private func missingness() -> DiagnosticTable {
        let t = tally
        let n = Double(t.rows)
        let missing = [
            0, 0, 0, 0, t.missingTime, t.missingDate, t.missingTimestamp, 0, t.missingEventDate, t.missingEventTimestamp,
            t.missingTimeText, t.missingEventTime, 0, 0, 0,
        ]
        // sort_values(ascending=False); ties keep the notebook's column order here (pandas' order of
        // ties is its sort algorithm's; the differential test compares by column name).
        let order = missing.indices.sorted { missing[$0] != missing[$1] ? missing[$0] > missing[$1] : $0 < $1 }
        return DiagnosticTable(
            name: "missingness", columns: ["column", "missing_rate"],
            rows: order.map { [.string(InteractionDiagnosticsCollector.interactionColumns[$0]), .number(Double(missing[$0]) / n)] })
    }

    private func repeatedMeasures() -> [DiagnosticTable] {
        let userRows = [
            DescribedColumn.exact(column: "interactions", values: users.map { Double($0.rows) }, percentiles: [0.25, 0.5, 0.75]),
            DescribedColumn.exact(column: "unique_videos", values: users.map { Double($0.uniqueVideos) }, percentiles: [0.25, 0.5, 0.75]),
            DescribedColumn.exact(column: "active_days", values: users.map { Double($0.activeDays) }, percentiles: [0.25, 0.5, 0.75]),
            DescribedColumn.exact(
                column: "avg_watch_ratio", values: users.map { $0.watchRatio.value / Double($0.rows) }, percentiles: [0.25, 0.5, 0.75]),
            DescribedColumn.exact(
                column: "total_play_duration_sec", values: users.map { Double($0.playMs) / 1_000 }, percentiles: [0.25, 0.5, 0.75]),
        ]
        // sort_values("impressions", ascending=False).head(10); ties by video_id (pandas' order of ties
        // is its sort algorithm's; the differential test accepts any tied video).
        let top = videos.indices.sorted {
            videos[$0].rows != videos[$1].rows ? videos[$0].rows > videos[$1].rows : videos[$0].id < videos[$1].id
        }.prefix(10)
        let items = DiagnosticTable(
            name: "item_activity",
            columns: ["video_id", "impressions", "unique_users", "avg_watch_ratio", "avg_play_duration_sec"],
            rows: top.map { i in
                let v = videos[i]
                return [
                    .int(Int64(v.id)), .count(v.rows), .count(videoUsers[i]), .number(v.watchRatio.value / Double(v.rows)),
                    .number(Double(v.playMs) / 1_000 / Double(v.rows)),
                ]
            })
        return [
            DescribedColumn.table(name: "user_activity", rows: userRows, percentiles: [0.25, 0.5, 0.75]), items,
            NumpyHistogram.of(users.map { Double($0.rows) }, bins: 40).table(name: "user_interactions_histogram"),
            NumpyHistogram.of(users.map { Double($0.activeDays) }, bins: 30).table(name: "user_active_days_histogram"),
        ]
    }

    private func metadataJoin(_ metadata: MetadataTables) -> [DiagnosticTable] {
        let rows = tally.rows
        let n = Double(rows)
        var missingDegreeRows = 0
        var segments: [String: (rows: Int, users: Int, watch: CompensatedSum, playMs: Int64)] = [:]
        for u in users {
            guard let degree = metadata.userActiveDegree?[u.id] ?? nil else {
                missingDegreeRows += u.rows
                continue
            }
            var s = segments[degree] ?? (0, 0, CompensatedSum(), 0)
            s.rows += u.rows
            s.users += 1
            s.watch.add(u.watchRatio)
            s.playMs &+= u.playMs
            segments[degree] = s
        }
        var missingCategoryRows = 0
        var firstCategories = Set<Int>()
        for v in videos {
            guard let category = metadata.itemCategories?[v.id] else {
                missingCategoryRows += v.rows
                continue
            }
            if let first = category.first { firstCategories.insert(first) }
        }
        var notes: [String] = []
        for file in ["user_features.csv", "item_categories.csv"] {
            if let problem = metadata.problems[file] { notes.append("\(file): \(problem)") }
        }
        let note = notes.isEmpty ? nil : notes.joined(separator: "; ")
        let diagnostics = DiagnosticTable(
            name: "metadata_diagnostics", columns: ["metric", "value"],
            rows: [
                [.string("rows"), .count(rows)],
                [.string("missing_user_active_degree_rate"), .number(Double(missingDegreeRows) / n)],
                [.string("missing_item_category_rate"), .number(Double(missingCategoryRows) / n)],
                [.string("unique_user_activity_segments"), .count(segments.count)],
                [.string("unique_first_categories"), .count(firstCategories.count)],
            ], note: note)
        let ordered = segments.sorted { $0.value.rows != $1.value.rows ? $0.value.rows > $1.value.rows : $0.key < $1.key }
        let perSegment = DiagnosticTable(
            name: "metadata_segments",
            columns: ["user_active_degree", "rows", "users", "avg_watch_ratio", "avg_play_duration_sec"],
            rows: ordered.map { key, s in
                [
                    .string(key), .count(s.rows), .count(s.users), .number(s.watch.value / Double(s.rows)),
                    .number(Double(s.playMs) / 1_000 / Double(s.rows)),
                ]
            }, note: note)
        return [diagnostics, perSegment]
    }
}

/// What the interaction tables count row by row besides the rows' values: the rows kept and left out, the time
/// columns' missing values, the event dates and the event-time range. The ingest pass's collector keeps one; a
/// live feed stores one in every checkpoint (its caches are not stored: they only speed up the next row).
/// The values of one percentile bin (``InteractionDiagnosticsCollector/bin(_:)``) seen by the second pass, each
/// distinct value (bit for bit) with how many times it came: the bin's order statistics without holding every
/// value. A bin of a discrete column (durations in whole milliseconds) holds many repeats of few values; a bin
/// of KuaiRec's big matrix held ~5,000-20,000 values, four times as many with four times the rows.
struct CountedValues {
    /// Each value's count, by its total-order key (``orderKey(_:)``).
    private var counts: [UInt64: Int] = [:]

    /// Counts one more `value`.
    @inline(__always)
    mutating func add(_ value: Double) { counts[Self.orderKey(value), default: 0] += 1 }

    /// A key whose unsigned order is the values' order (negative values reversed below the positive ones;
    /// -0.0 before 0.0), and which gives the value back bit for bit (``value(ofKey:)``).
    @inline(__always)
    static func orderKey(_ x: Double) -> UInt64 {
        let bits = x.bitPattern
        return bits & (1 << 63) != 0 ? ~bits : bits | (1 << 63)
    }

    /// The value of `key` (``orderKey(_:)``'s inverse).
    static func value(ofKey key: UInt64) -> Double {
        Double(bitPattern: key & (1 << 63) != 0 ? key & ~(1 << 63) : ~key)
    }

    /// The distinct values in order, each with the rank after its last copy.
    func ordered() -> Ordered {
        var keys = Array(counts.keys)
        keys.sort()
        var ends: [Int] = []
        ends.reserveCapacity(keys.count)
        var seen = 0
        for k in keys {
            seen += counts[k]!
            ends.append(seen)
        }
        return Ordered(keys: keys, ends: ends)
    }

    /// A bin's values in order: ``keys`` ascending, ``ends`` the rank (from 0) after each value's copies.
    struct Ordered {
        let keys: [UInt64]
        let ends: [Int]

        /// The `rank`-th smallest value (from 0) of the bin, as a sorted array of all its values would hold it.
        func element(_ rank: Int) -> Double {
            var (low, high) = (0, ends.count - 1)
            while low < high {
                let mid = (low + high) / 2
                if ends[mid] <= rank { low = mid + 1 } else { high = mid }
            }
            return CountedValues.value(ofKey: keys[low])
        }
    }
}

struct InteractionRowTally: Codable, Sendable {
    var rows = 0
    var leftOut = 0
    // Missing counts of time, date, timestamp, event_date, event_timestamp, event_time_from_text, event_time.
    var missingTime = 0, missingDate = 0, missingTimestamp = 0
    var missingEventDate = 0, missingEventTimestamp = 0, missingTimeText = 0, missingEventTime = 0
    /// Whether pandas inferred a `time` format with a fraction (from the first non-empty value).
    var timeFormatHasFraction: Bool?
    var dates = Set<Int32>()
    /// The last date added to `dates` (rows come grouped by day, so most rows repeat it).
    private var lastDate = Int32.min
    var firstTime = Int64.max, lastTime = Int64.min

    private enum CodingKeys: String, CodingKey {
        case rows, leftOut, missingTime, missingDate, missingTimestamp, missingEventDate, missingEventTimestamp
        case missingTimeText, missingEventTime, timeFormatHasFraction, dates, firstTime, lastTime
    }

    /// Counts one kept row: the time fields' missingness and the event-time range.
    @inline(__always)
    mutating func add(_ row: NotebookRow) {
        rows += 1
        if row.timestampIsEmpty { missingTimestamp += 1 }
        let hasTimestamp = row.event.timestampMs != Interaction.missingTimestamp
        if !hasTimestamp { missingEventTimestamp += 1 }
        if row.dateIsEmpty { missingDate += 1 }
        if let d = row.eventDate {
            if d.rawValue != lastDate {
                dates.insert(d.rawValue)
                lastDate = d.rawValue
            }
        } else {
            missingEventDate += 1
        }
        var textTime: Int64?
        if row.timeIsEmpty {
            missingTime += 1
        } else {
            if timeFormatHasFraction == nil { timeFormatHasFraction = row.timeTextHasFraction }
            textTime = row.timeText(withFraction: timeFormatHasFraction!)
        }
        if textTime == nil { missingTimeText += 1 }
        // event_time: the text's wall clock, else the timestamp read as UTC.
        if let t = textTime ?? (hasTimestamp ? row.event.timestampMs : nil) {
            if t < firstTime { firstTime = t }
            if t > lastTime { lastTime = t }
        } else {
            missingEventTime += 1
        }
    }
}

/// Maps ids to dense slots in order of first appearance: an array lookup for ids below 2^24, a
/// dictionary above.
struct DenseIDIndex {
    private var small: [Int32] = []
    private var large: [Int32: Int] = [:]
    private(set) var count = 0

    /// The id's slot; calls `onNew` (which must append the slot's storage) the first time.
    @inline(__always)
    mutating func slot(of id: Int32, onNew: () -> Void) -> Int {
        if id >= 0, id < 1 << 24 {
            let i = Int(id)
            if i >= small.count { small.append(contentsOf: repeatElement(0, count: max(i + 1 - small.count, small.count))) }
            if small[i] != 0 { return Int(small[i]) - 1 }
            count += 1
            small[i] = Int32(count)
            onNew()
            return count - 1
        }
        if let s = large[id] { return s }
        count += 1
        large[id] = count - 1
        onNew()
        return count - 1
    }

    /// The id's slot if it has one (a dense id only: a sparse one is looked up in a dictionary, which costs
    /// more than the load it would tell the caller about).
    @inline(__always)
    func existingSlot(of id: Int32) -> Int? {
        guard id >= 0, Int(id) < small.count else { return nil }
        let s = small[Int(id)]
        return s == 0 ? nil : Int(s) - 1
    }
}
