import Foundation
import Logging
import ReplayTestSupport
import Testing

@testable import ReplayStream

/// A pipe that a ``LiveInput`` reads; the test writes whole lines into it between the feed's reads.
final class FeedPipe {
    let readEnd: Int32
    private var writeEnd: Int32?

    init() {
        var ends: [Int32] = [-1, -1]
        precondition(pipe(&ends) == 0, "pipe failed: errno \(errno)")
        readEnd = ends[0]
        writeEnd = ends[1]
    }

    /// Writes `lines`, each with a line end. Nothing reads while the test writes, so they must fit the pipe's
    /// buffer (64 KiB).
    func send(_ lines: [String]) {
        guard let writeEnd else { preconditionFailure("the input already ended") }
        let bytes = Array(lines.map { $0 + "\n" }.joined().utf8)
        precondition(bytes.count <= 60_000, "one turn's rows must fit the pipe's buffer")
        guard !bytes.isEmpty else { return }
        let written = bytes.withUnsafeBytes { write(writeEnd, $0.baseAddress!, $0.count) }
        precondition(written == bytes.count, "write to the pipe failed")
    }

    /// Ends the input: the feed reads the end once the pipe is empty.
    func endInput() {
        if let writeEnd { close(writeEnd) }
        writeEnd = nil
    }

    deinit {
        if let writeEnd { close(writeEnd) }
        close(readEnd)
    }
}

/// One run of a live feed in process: rows through a ``FeedPipe``, records into a ``CollectingSink``,
/// checkpoints into a ``MemoryState``, rejects into ``CollectingRejects``, time on a ``ManualClock``.
final class FeedRun {
    let pipe = FeedPipe()
    let sink = CollectingSink()
    let state = MemoryState()
    let rejects = CollectingRejects()
    let clock: ManualClock
    let buckets: DayBuckets
    let input: LiveInput
    let feed: LiveFeed

    /// A feed keeping its day files in `eventsDirectory`, fresh or from `checkpoint`. The default checkpoint
    /// interval is an hour of the manual clock: no checkpoint but the ones a stop or the end takes.
    init(
        options: LiveOptions, mode: ThresholdsMode, eventsDirectory: URL, resumeFrom checkpoint: PanelCheckpoint? = nil,
        checkpointPolicy: CheckpointPolicy = .seconds(3600), clock: ManualClock = ManualClock()
    ) throws {
        self.clock = clock
        buckets = try DayBuckets(directory: eventsDirectory)
        feed = try LiveFeed(
            options: options, mode: mode, sink: sink, state: state, buckets: buckets, rejects: rejects,
            resumeFrom: checkpoint, checkpointPolicy: checkpointPolicy, logger: Logger(label: "test"), clock: clock)
        input = LiveInput(fd: pipe.readEnd, format: nil, timeZone: options.timeZone)
    }

    /// Runs the feed. Before each of its reads (from its stop check) `turn(n)`, n = 0, 1, ..., may send rows,
    /// move the clock, check what the feed did so far and end the input; true stops the feed (it commits a
    /// checkpoint). A feed still running after 100 turns is stopped and the test fails.
    func drive(_ turn: (Int) -> Bool) throws -> LiveFeed.Outcome {
        var n = 0
        return try feed.run(input: input) {
            defer { n += 1 }
            guard n < 100 else {
                Issue.record("the feed was still running after 100 turns")
                return true
            }
            return turn(n)
        }
    }

    /// Sends `chunks`, one per read, then ends the input, or stops the feed when `stop`.
    func drive(sending chunks: [[String]], thenStop stop: Bool = false) throws -> LiveFeed.Outcome {
        try drive { n in
            if n < chunks.count {
                pipe.send(chunks[n])
            } else if stop {
                return true
            } else {
                pipe.endInput()
            }
            return false
        }
    }
}

/// The live feed's contract, driven in process through in-memory sinks and a manual clock: it gives the
/// archive replay's panel for the same rows, closes days at the watermark's midnight and on the idle close,
/// rejects or revises late rows, rejects malformed rows with their reasons, and resumes from a checkpoint
/// with the records of an uninterrupted feed.
@Suite struct LiveFeedContractTests {
    static let header = "user_id,video_id,play_duration,video_duration,time,date,timestamp,watch_ratio"
    static let utc = TimeZone(identifier: "UTC")!
    /// 2020-07-05, and the instants (Unix ms) of its UTC hours.
    static let day = CalendarDay(yyyymmdd: 20200705)!
    static let dayStartMs: Int64 = 1_593_907_200_000
    static let hourMs: Int64 = 3_600_000
    let logger = Logger(label: "test")

    /// One interaction as a KuaiRec CSV row labelled `day` (the timestamp in seconds with milliseconds).
    static func csv(_ e: Interaction, day: CalendarDay) -> String {
        let ms = String(1000 + e.timestampMs % 1000).dropFirst()
        return "\(e.userID),\(e.videoID),\(e.playDurationMs),\(e.videoDurationMs),x,\(day.yyyymmdd),"
            + "\(e.timestampMs / 1000).\(ms),\(e.watchRatio)"
    }

    /// An interaction of `user` at `ms` (Unix ms).
    static func event(user: Int32, video: Int32 = 1, at ms: Int64, play: Int64 = 1500) -> Interaction {
        Interaction(
            timestampMs: ms, userID: user, videoID: video, playDurationMs: play, videoDurationMs: 2000,
            watchRatio: Double(play) / 2000)
    }

    /// `user`'s interaction at `hour` (UTC) of the day `offset` days after ``day``, with that day.
    static func at(user: Int32, dayOffset offset: Int, hour: Double, video: Int32 = 1) -> (CalendarDay, Interaction) {
        let ms = dayStartMs + Int64(offset) * 24 * hourMs + Int64(hour * Double(hourMs))
        return (day.adding(offset), event(user: user, video: video, at: ms))
    }

    /// The archive replay of `events` (each with its day), over day buckets in `dir`: every record, in order.
    func archiveRecords(_ events: [(CalendarDay, Interaction)], mode: ThresholdsMode, dir: URL) throws -> [UserDayRecord] {
        var summary = IngestSummary()
        summary.firstDay = events.map(\.0).min()
        summary.lastDay = events.map(\.0).max()
        summary.users = Set(events.map(\.1.userID)).sorted()
        summary.rowsRead = events.count
        summary.rowsAccepted = events.count
        let buckets = try DayBuckets(directory: dir)
        for (d, e) in events { try buckets.append(e, day: d) }
        try buckets.flush()
        let sink = CollectingSink()
        let replayer = try Replayer(
            summary: summary, buckets: buckets, mode: mode, timeZone: Self.utc, sink: sink, state: nil, resumeFrom: nil,
            logger: logger)
        #expect(try replayer.run() == .finished)
        return sink.records
    }

    struct Key: Hashable, Comparable, CustomStringConvertible {
        var user: Int32
        var day: CalendarDay
        static func < (a: Key, b: Key) -> Bool { (a.day, a.user) < (b.day, b.user) }
        var description: String { "\(user)/\(day)" }
    }

    /// The last revision of every (user, day).
    static func panel(_ records: [UserDayRecord]) -> [Key: UserDayRecord] {
        var last: [Key: UserDayRecord] = [:]
        for r in records { last[Key(user: r.userID, day: r.day)] = r }
        return last
    }

    /// Expects `live` to hold the panel of `archive`: the same keys, the same values in each key's last
    /// revision, every one of them final; and each key's revisions numbered 0, 1, 2, ... in order.
    static func expectSamePanel(
        _ live: [UserDayRecord], _ archive: [UserDayRecord], _ comment: Comment,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let a = panel(live), b = panel(archive)
        #expect(!a.isEmpty && Set(a.keys) == Set(b.keys), "\(comment): \(a.count) keys, \(b.count) in the archive", sourceLocation: sourceLocation)
        let differing = a.keys.filter { key in b[key].map { !a[key]!.hasSameValues(as: $0) } ?? false }.sorted()
        #expect(differing.isEmpty, "\(comment): \(differing.count) keys differ, first \(differing.prefix(3))", sourceLocation: sourceLocation)
        let pending = a.values.filter { !$0.isFinal }.map { Key(user: $0.userID, day: $0.day) }.sorted()
        #expect(pending.isEmpty, "\(comment): not final: \(pending.prefix(3))", sourceLocation: sourceLocation)
        var next: [Key: Int] = [:]
        var misnumbered: [String] = []
        for r in live {
            let key = Key(user: r.userID, day: r.day)
            if r.revision != next[key, default: 0] { misnumbered.append("\(key) revision \(r.revision)") }
            next[key] = r.revision + 1
        }
        #expect(misnumbered.isEmpty, "\(comment): \(misnumbered.prefix(3))", sourceLocation: sourceLocation)
    }

    /// `rows` in chunks of `size`, the header first in the first.
    static func chunks(_ rows: [String], of size: Int) -> [[String]] {
        var out = stride(from: 0, to: rows.count, by: size).map { Array(rows[$0..<min(rows.count, $0 + size)]) }
        if out.isEmpty { out = [[]] }
        out[0].insert(header, at: 0)
        return out
    }

    /// A random log's rows in an arrival order: each row arrives up to `maxDelayMs` after its event time, a
    /// share `lateShare` of them up to `lateDelayMs` after it instead.
    static func arrivalOrder(
        _ log: RandomLog, seed: UInt64, maxDelayMs: Double, lateShare: Double = 0, lateDelayMs: Double = 0
    ) -> [String] {
        var random = SeededGenerator(seed: seed)
        let keyed = log.events.enumerated().map { i, event -> (Int64, Int, String) in
            let delay = random.unit() < lateShare ? random.unit() * lateDelayMs : random.unit() * maxDelayMs
            return (event.1.timestampMs + Int64(delay), i, csv(event.1, day: event.0))
        }
        return keyed.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map(\.2)
    }

    func withDirectory<T>(_ body: (URL) throws -> T) throws -> T {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        return try body(dir)
    }

    // MARK: The archive's panel

    @Test(arguments: [ThresholdsMode.expanding, .fixed(interactions: 5, highWatchShare: 0.4)])
    func aFeedWithinTheAllowedLatenessGivesTheArchivePanel(mode: ThresholdsMode) throws {
        try withDirectory { dir in
            let seed = testSeed(default: 31)
            let log = RandomLog(seed: seed, users: 10, days: 14)
            let archive = try archiveRecords(log.events, mode: mode, dir: dir.appendingPathComponent("archive"))
            // Rows arrive up to ten minutes after their event time; an hour of allowed lateness covers that.
            let arrival = Self.arrivalOrder(log, seed: seed, maxDelayMs: 600_000)
            #expect(arrival != log.events.sorted { $0.1.timestampMs < $1.1.timestampMs }.map { Self.csv($0.1, day: $0.0) })
            var options = LiveOptions(timeZone: Self.utc)
            options.allowedLatenessMs = Self.hourMs
            let run = try FeedRun(options: options, mode: mode, eventsDirectory: dir.appendingPathComponent("live"))
            #expect(try run.drive(sending: Self.chunks(arrival, of: 40)) == .finished, "seed \(seed)")
            Self.expectSamePanel(run.sink.records, archive, "seed \(seed)")
            let live = run.feed.live
            #expect(live.rowsRead == log.events.count && live.rowsAccepted == log.events.count, "seed \(seed)")
            #expect(live.lateRows == 0 && run.rejects.rows.isEmpty, "seed \(seed): \(run.rejects.rows.prefix(2))")
            let first = try #require(log.summary.firstDay), last = try #require(log.summary.lastDay)
            #expect(live.firstDay == first && live.lastClosed == last && live.ended, "seed \(seed)")
            #expect(run.feed.progress.daysClosed == first.distance(to: last) + 1 && run.feed.progress.finished)
            #expect(run.feed.users == log.summary.users)
        }
    }

    // MARK: Closing days

    /// Midnight ending 2020-07-05 in each zone: UTC, and Beijing (UTC+8, 16:00 UTC).
    @Test(arguments: [("UTC", 0), ("Asia/Shanghai", 600_000)] as [(String, Int64)])
    func aDayClosesWhenTheWatermarkPassesItsMidnight(zoneName: String, latenessMs: Int64) throws {
        try withDirectory { dir in
            let zone = try #require(TimeZone(identifier: zoneName))
            let d = Self.day, midnight: Int64 = zoneName == "UTC" ? 1_593_993_600_000 : 1_593_964_800_000
            var options = LiveOptions(timeZone: zone)
            options.allowedLatenessMs = latenessMs
            let run = try FeedRun(options: options, mode: .fixed(interactions: 2, highWatchShare: 0.5), eventsDirectory: dir)
            // One millisecond short of the lateness past midnight: the last instant the day stays open.
            let short = midnight + latenessMs - 1
            let shortDay = short < midnight ? d : d.adding(1)
            let outcome = try run.drive { turn in
                switch turn {
                case 0:
                    run.pipe.send([
                        Self.header, Self.csv(Self.event(user: 1, at: midnight - 14 * Self.hourMs), day: d),
                        Self.csv(Self.event(user: 2, at: midnight - 1), day: d),
                    ])
                case 1:
                    #expect(run.sink.records.isEmpty && run.feed.live.lastClosed == nil)
                    run.pipe.send([Self.csv(Self.event(user: 1, video: 2, at: short), day: shortDay)])
                case 2:
                    #expect(run.sink.records.isEmpty && run.feed.live.lastClosed == nil, "\(run.sink.records.count) records")
                    run.pipe.send([Self.csv(Self.event(user: 3, at: midnight + latenessMs), day: d.adding(1))])
                case 3:
                    // The day closed for every user of the panel (user 3 came with the row that closed it).
                    let closed = run.sink.records.map { "\($0.userID) \($0.day) r\($0.revision) n\($0.daily.interactions) \($0.isFinal)" }
                    let first = latenessMs == 0 ? 2 : 1
                    #expect(closed == ["1 \(d) r0 n\(first) false", "2 \(d) r0 n1 false", "3 \(d) r0 n0 false"])
                    #expect(run.feed.live.lastClosed == d && run.feed.live.maxDay == d.adding(1))
                    run.pipe.endInput()
                default:
                    break
                }
                return false
            }
            #expect(outcome == .finished)
            // The end of input closes the next day and writes every record final.
            let panel = Self.panel(run.sink.records)
            #expect(panel.keys.sorted().map(\.description) == ["1/\(d)", "2/\(d)", "3/\(d)", "1/\(d.adding(1))", "2/\(d.adding(1))", "3/\(d.adding(1))"])
            #expect(panel.values.allSatisfy { $0.isFinal })
            #expect(panel[Key(user: 1, day: d.adding(1))]?.daily.interactions == (latenessMs == 0 ? 0 : 1))
            #expect(panel[Key(user: 3, day: d.adding(1))]?.daily.interactions == 1)
        }
    }

    @Test func aQuietFeedClosesItsOpenDaysAfterTheIdleTime() throws {
        try withDirectory { dir in
            let d = Self.day
            var options = LiveOptions(timeZone: Self.utc)
            options.allowedLatenessMs = 2 * Self.hourMs
            options.idleCloseSeconds = 30
            let run = try FeedRun(options: options, mode: .expanding, eventsDirectory: dir)
            let late = Self.at(user: 2, dayOffset: 0, hour: 12)
            let outcome = try run.drive { turn in
                switch turn {
                case 0:
                    // Two open days: the 6th's row at 00:30 leaves the watermark before the 5th's midnight.
                    let rows = [Self.at(user: 1, dayOffset: 0, hour: 10), Self.at(user: 2, dayOffset: 1, hour: 0.5)]
                    run.pipe.send([Self.header] + rows.map { Self.csv($0.1, day: $0.0) })
                case 1:
                    // 20 s later a row arrives: the quiet time starts again.
                    run.clock.advance(by: 20)
                    let row = Self.at(user: 1, dayOffset: 0, hour: 23)
                    run.pipe.send([Self.csv(row.1, day: row.0)])
                case 2:
                    // 49.9375 s since the start, 29.9375 s of quiet: both days stay open.
                    run.clock.advance(by: 29.9375)
                case 3:
                    #expect(run.sink.records.isEmpty && run.feed.live.lastClosed == nil, "\(run.sink.records.count) records")
                    run.clock.advance(by: 0.0625)  // 30 s of quiet
                case 4:
                    let closed = run.sink.records.map { "\($0.userID) \($0.day) r\($0.revision) n\($0.daily.interactions)" }
                    let next = d.adding(1)
                    #expect(closed == ["1 \(d) r0 n2", "2 \(d) r0 n0", "1 \(next) r0 n0", "2 \(next) r0 n1", "1 \(d) r1 n2", "2 \(d) r1 n0"])
                    #expect(run.feed.live.lastClosed == next && run.state.commits == 0)
                    // A row for a day the idle close closed (the watermark had not passed it), 5 s after the close.
                    run.clock.advance(by: 5)
                    run.pipe.send([Self.csv(late.1, day: late.0)])
                case 5:
                    #expect(run.rejects.rows.map(\.reason) == ["idle_closed"] && run.rejects.rows.first?.day == d)
                    #expect(run.rejects.rows.first?.latenessMs == 5000)
                    run.pipe.endInput()
                default:
                    break
                }
                return false
            }
            #expect(outcome == .finished)
            #expect(run.feed.live.lateRows == 1 && run.feed.live.rowsAccepted == 3)
            #expect(Self.panel(run.sink.records).count == 4 && Self.panel(run.sink.records).values.allSatisfy { $0.isFinal })
        }
    }

    // MARK: Late rows

    @Test func aLateRowIsRejectedWithItsDayAndLatenessUnderTheRejectPolicy() throws {
        try withDirectory { dir in
            let rows = [
                Self.at(user: 1, dayOffset: 0, hour: 10), Self.at(user: 1, dayOffset: 1, hour: 10),
                Self.at(user: 2, dayOffset: 2, hour: 10),
            ]
            let late = Self.at(user: 2, dayOffset: 0, hour: 12)
            let run = try FeedRun(options: LiveOptions(timeZone: Self.utc), mode: .expanding, eventsDirectory: dir.appendingPathComponent("live"))
            var before = 0
            let outcome = try run.drive { turn in
                switch turn {
                case 0: run.pipe.send([Self.header] + rows.map { Self.csv($0.1, day: $0.0) })
                case 1:
                    #expect(run.feed.live.lastClosed == Self.day.adding(1))
                    before = run.sink.records.count
                    run.pipe.send([Self.csv(late.1, day: late.0)])
                case 2:
                    #expect(run.sink.records.count == before, "a rejected late row changes no record")
                    run.pipe.endInput()
                default: break
                }
                return false
            }
            #expect(outcome == .finished)
            let expected = CollectingRejects.Row(
                line: 5, reason: "late", raw: Self.csv(late.1, day: late.0), day: Self.day, latenessMs: 46 * Self.hourMs,
                note: nil)
            #expect(run.rejects.rows == [expected])
            #expect(run.feed.live.lateRows == 1 && run.feed.live.rejected == ["late": 1] && run.feed.live.revisedRows == 0)
            let archive = try archiveRecords(rows, mode: .expanding, dir: dir.appendingPathComponent("archive"))
            Self.expectSamePanel(run.sink.records, archive, "late row rejected")
        }
    }

    @Test(arguments: [ThresholdsMode.fixed(interactions: 2, highWatchShare: 0.5), .expanding])
    func aLateRowInsideTheReviseWindowRevisesItsDay(mode: ThresholdsMode) throws {
        try withDirectory { dir in
            let rows = [
                Self.at(user: 1, dayOffset: 0, hour: 10), Self.at(user: 1, dayOffset: 1, hour: 10),
                Self.at(user: 2, dayOffset: 1, hour: 11), Self.at(user: 1, dayOffset: 2, hour: 10),
                Self.at(user: 2, dayOffset: 3, hour: 9),
            ]
            let late = Self.at(user: 1, dayOffset: 1, hour: 12, video: 2)
            var options = LiveOptions(timeZone: Self.utc)
            options.latePolicy = .revise
            options.reviseWindowDays = 3
            let run = try FeedRun(options: options, mode: mode, eventsDirectory: dir.appendingPathComponent("live"))
            var before = 0
            let outcome = try run.drive { turn in
                switch turn {
                case 0: run.pipe.send([Self.header] + rows.map { Self.csv($0.1, day: $0.0) })
                case 1:
                    #expect(run.feed.live.lastClosed == Self.day.adding(2))
                    before = run.sink.records.count
                    run.pipe.send([Self.csv(late.1, day: late.0)])
                case 2:
                    expectRevisions(Array(run.sink.records[before...]), mode: mode)
                    run.pipe.endInput()
                default: break
                }
                return false
            }
            #expect(outcome == .finished)
            #expect(run.rejects.rows.isEmpty && run.feed.live.lateRows == 1 && run.feed.live.revisedRows == 1)
            #expect(run.feed.live.rowsAccepted == rows.count + 1)
            let archive = try archiveRecords(rows + [late], mode: mode, dir: dir.appendingPathComponent("archive"))
            Self.expectSamePanel(run.sink.records, archive, "late row revised in")
        }
    }

    /// The records a late row of user 1 on the 6th writes again (user 1: a row on the 5th, 6th and 7th; the
    /// 5th's record had revisions 0 and 1, the 6th's 0 and 1, the 7th's 0): the 6th's values, the 5th's
    /// leads, the 7th's lags, each with the next revision number.
    func expectRevisions(_ revised: [UserDayRecord], mode: ThresholdsMode) {
        let d = Self.day
        let own = revised.filter { $0.userID == 1 }
        #expect(own.map { "\($0.day) r\($0.revision)" } == ["\(d) r2", "\(d.adding(1)) r2", "\(d.adding(2)) r1"])
        #expect(own.map(\.isFinal) == [false, false, false])
        guard own.count == 3 else { return }
        #expect(own[0].lead(1, column: 1) == 2, "the 5th's next-day interactions")
        #expect(own[1].daily.interactions == 2 && own[1].daily.uniqueVideos == 2)
        #expect(own[2].lag1[1] == 2 && own[2].prior3[1] == 3, "the 7th's lag_1 and prior_3day interactions")
        if case .fixed = mode {
            #expect(own[1].treatmentHighIntensity == 1, "2 interactions reach the fixed threshold")
            #expect(revised.count == 3, "under fixed thresholds no other user's record changes")
        }
    }

    @Test func lateRowsBeyondTheReviseWindowOrBeforeThePanelAreRejectedWithWhy() throws {
        try withDirectory { dir in
            var options = LiveOptions(timeZone: Self.utc)
            options.latePolicy = .revise
            options.reviseWindowDays = 2
            let rows = (0..<4).map { Self.at(user: 1, dayOffset: $0, hour: 10) }
            let tooOld = Self.at(user: 1, dayOffset: 0, hour: 11)
            let beforeFirst = Self.at(user: 1, dayOffset: -1, hour: 11)
            let inside = Self.at(user: 1, dayOffset: 1, hour: 11)
            let run = try FeedRun(options: options, mode: .expanding, eventsDirectory: dir)
            let lines = [Self.header] + (rows + [tooOld, beforeFirst, inside]).map { Self.csv($0.1, day: $0.0) }
            #expect(try run.drive(sending: [lines]) == .finished)
            #expect(run.rejects.rows.map(\.line) == [6, 7])
            #expect(run.rejects.rows.map(\.day) == [Self.day, Self.day.adding(-1)])
            #expect(
                run.rejects.rows.map(\.note) == [
                    "its day is older than the revise window (the last 2 closed days)",
                    "its day is before the panel's first day \(Self.day)",
                ])
            #expect(run.feed.live.lateRows == 3 && run.feed.live.revisedRows == 1 && run.feed.live.rejected == ["late": 2])
            #expect(Self.panel(run.sink.records)[Key(user: 1, day: Self.day.adding(1))]?.daily.interactions == 2)
        }
    }

    // MARK: Rejected rows

    @Test func malformedRowsAreRejectedWithTheirReasons() throws {
        try withDirectory { dir in
            let good = [Self.at(user: 1, dayOffset: 0, hour: 10), Self.at(user: 2, dayOffset: 0, hour: 11)]
            let far = Self.at(user: 1, dayOffset: 4000, hour: 10)
            let t = "x,20200705,1593943200.000"  // time, date, timestamp of a good row
            let bad: [(String, String)] = [
                ("1,2,3", "wrong_field_count"),
                ("-1,2,3,4,\(t),0.5", "invalid_id"),
                ("1,2,3,4,\"x\"y,20200705,1593943200.000,0.5", "malformed_quotes"),
                ("7162,2267,11908,5467,,,,2.1781", "missing_time"),
                ("1,2,3,4,\(t),nan", "invalid_watch_ratio"),
                ("1,2,3,0,\(t),inf", "zero_video_duration"),
                (Self.csv(far.1, day: far.0), "outside_panel_span"),  // 4000 days after the panel's first day
            ]
            let run = try FeedRun(options: LiveOptions(timeZone: Self.utc), mode: .expanding, eventsDirectory: dir.appendingPathComponent("csv"))
            let lines = [Self.header, Self.csv(good[0].1, day: good[0].0)] + bad.map(\.0) + [Self.csv(good[1].1, day: good[1].0)]
            #expect(try run.drive(sending: [lines]) == .finished)
            #expect(run.rejects.rows.map { "\($0.line) \($0.reason) \($0.raw)" } == bad.enumerated().map { "\($0 + 3) \($1.1) \($1.0)" })
            #expect(run.feed.live.rejected == Dictionary(uniqueKeysWithValues: bad.map { ($0.1, 1) }))
            #expect(run.feed.live.rowsRead == bad.count + 2 && run.feed.live.rowsAccepted == 2)
            #expect(Self.panel(run.sink.records).keys.sorted().map(\.description) == ["1/\(Self.day)", "2/\(Self.day)"])

            // JSON lines: a line that is not a flat object is `malformed_json`; the others as in CSV.
            let json = try FeedRun(options: LiveOptions(timeZone: Self.utc), mode: .expanding, eventsDirectory: dir.appendingPathComponent("json"))
            let jsonLines = [
                #"{"user_id":1,"video_id":2,"play_duration":3,"video_duration":4,"date":20200705,"timestamp":1593943200.0,"watch_ratio":0.5}"#,
                #"[1,2,3]"#,
                #"{"user_id":{"id":1}}"#,
                #"{"user_id":1,"video_id":2,"play_duration":3,"video_duration":4,"watch_ratio":0.5}"#,
            ]
            #expect(try json.drive(sending: [jsonLines]) == .finished)
            #expect(json.input.format == .jsonl)
            #expect(json.rejects.rows.map { "\($0.line) \($0.reason)" } == ["2 malformed_json", "3 malformed_json", "4 missing_time"])
            #expect(json.feed.live.rowsAccepted == 1 && Self.panel(json.sink.records).count == 1)
        }
    }

    // MARK: Stop and resume

    @Test func stoppingAndResumingFromEachCheckpointGivesTheUninterruptedRecords() throws {
        try withDirectory { dir in
            let seed = testSeed(default: 32)
            let log = RandomLog(seed: seed, users: 8, days: 10)
            // Up to ten minutes late, and 3% up to two days late: some rows are revised in.
            let arrival = Self.arrivalOrder(log, seed: seed, maxDelayMs: 600_000, lateShare: 0.03, lateDelayMs: 2 * 86_400_000)
            var options = LiveOptions(timeZone: Self.utc)
            options.allowedLatenessMs = 600_000
            options.latePolicy = .revise
            let chunks = Self.chunks(arrival, of: 40)
            let reference = try FeedRun(options: options, mode: .expanding, eventsDirectory: dir.appendingPathComponent("ref"))
            #expect(try reference.drive(sending: chunks) == .finished)
            #expect(reference.feed.live.revisedRows > 0, "seed \(seed): the arrival order has late rows")

            // One run per chunk, each stopped after its chunk and resumed from its checkpoint by the next. Every
            // other run takes the feed re-sent from its start (the consumed rows recognised and skipped), the
            // others the rows after the consumed ones.
            var records: [UserDayRecord] = []
            var rejects: [CollectingRejects.Row] = []
            var checkpoint: PanelCheckpoint?
            for (i, chunk) in chunks.enumerated() {
                let run = try FeedRun(options: options, mode: .expanding, eventsDirectory: dir.appendingPathComponent("stopped"), resumeFrom: checkpoint)
                let resent = i % 2 == 1 ? Array(chunks[..<i]) : []
                let next = i == 0 || !resent.isEmpty ? chunk : [Self.header] + chunk
                let last = i == chunks.count - 1
                let outcome = try run.drive(sending: resent + [next], thenStop: !last)
                #expect(outcome == (last ? .finished : .interrupted), "seed \(seed): run \(i)")
                records += run.sink.records
                rejects += run.rejects.rows
                checkpoint = run.state.last
                let consumed = chunks[...i].joined().count - 1
                #expect(try LiveFeedState(checkpoint: checkpoint)?.rowsRead == consumed, "seed \(seed): run \(i)")
            }
            #expect(records.count == reference.sink.records.count, "seed \(seed)")
            let mismatches = zip(records, reference.sink.records).filter { "\($0)" != "\($1)" }.count
            #expect(mismatches == 0, "seed \(seed): records differ from the uninterrupted feed's")
            // A continuing input counts its lines from its own start: compare rejects without line numbers.
            func unnumbered(_ rows: [CollectingRejects.Row]) -> [CollectingRejects.Row] {
                rows.map { var row = $0; row.line = 0; return row }
            }
            #expect(unnumbered(rejects) == unnumbered(reference.rejects.rows), "seed \(seed)")
            // The in-memory rejects' length is per run: the states agree but for it.
            var stopped = try #require(try LiveFeedState(checkpoint: checkpoint))
            var whole = try #require(try LiveFeedState(checkpoint: reference.state.last))
            (stopped.rejectsBytes, whole.rejectsBytes) = (0, 0)
            #expect(stopped == whole, "seed \(seed)")
        }
    }

    /// A stop between a day closing and the next checkpoint (a crash: here a rejects write that fails): the
    /// last checkpoint still lists the closed day's file, so the file is still there, and the resumed feed
    /// writes what the uninterrupted one wrote.
    @Test func aCrashAfterADayClosedResumesFromTheCheckpointBefore() throws {
        try withDirectory { dir in
            let firstDay = [Self.at(user: 1, dayOffset: 0, hour: 10), Self.at(user: 2, dayOffset: 0, hour: 11)]
            let later = Self.at(user: 1, dayOffset: 2, hour: 9)
            let lines = [Self.header] + (firstDay + [later]).map { Self.csv($0.1, day: $0.0) }
            let options = LiveOptions(timeZone: Self.utc)
            let reference = try FeedRun(options: options, mode: .expanding, eventsDirectory: dir.appendingPathComponent("ref"))
            #expect(try reference.drive(sending: [lines]) == .finished)

            let events = dir.appendingPathComponent("crash")
            let crash = try FeedRun(options: options, mode: .expanding, eventsDirectory: events, checkpointPolicy: .seconds(1))
            crash.rejects.failsOn = .wrongFieldCount
            #expect(throws: CollectingRejects.SimulatedCrash.self) {
                try crash.drive { turn in
                    switch turn {
                    case 0: crash.pipe.send(Array(lines.prefix(3)))
                    case 1: crash.clock.advance(by: 1)  // a checkpoint is due after this read: the 5th is open
                    case 2: crash.pipe.send([lines[3], "1,2,3"])  // the 5th closes, then the crash
                    default: break
                    }
                    return false
                }
            }
            let checkpoint = try #require(crash.state.last)
            let live = try #require(try LiveFeedState(checkpoint: checkpoint))
            #expect(live.rowsRead == 2 && live.lastClosed == nil && live.dayEvents == [Self.day: 2])
            #expect(crash.sink.records.count > 0 && checkpoint.progress.outputBytes == 0, "the 5th's records came after the checkpoint")
            #expect(FileManager.default.fileExists(atPath: crash.buckets.fileURL(for: Self.day).path))

            var resumedOptions = options
            resumedOptions.skipRows = 2
            let resumed = try FeedRun(options: resumedOptions, mode: .expanding, eventsDirectory: events, resumeFrom: checkpoint)
            #expect(try resumed.drive(sending: [lines]) == .finished)
            let records = crash.sink.records.prefix(Int(checkpoint.progress.outputBytes)) + resumed.sink.records
            #expect(records.count == reference.sink.records.count && records.count > 0)
            let mismatches = zip(records, reference.sink.records).filter { "\($0)" != "\($1)" }.count
            #expect(mismatches == 0, "the resumed records differ from the uninterrupted feed's")
        }
    }
}
