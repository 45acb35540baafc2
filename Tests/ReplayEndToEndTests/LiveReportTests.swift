import Foundation
import Testing

/// `replay report` and `run - --report` on a live feed: the tables "so far", and the archive replay's numbers once
/// the feed has every row of the archive in its file order.
@Suite(.serialized) struct LiveReportTests {
    /// The tables that join the archive's side tables (a live feed has none: they carry a note instead).
    static let sideTableNames: Set<String> = [
        "metadata_diagnostics", "metadata_segments", "item_daily_summary", "item_show_count_histogram",
        "item_play_rate_histogram",
    ]

    static func report(_ state: String, in dir: URL) throws -> [String: Any] {
        let r = try Harness.run(["report", "--state", state, "--json", "-"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    }

    /// The report's tables, without `report` (where the run stood).
    static func tables(_ report: [String: Any]) -> [String: Any] { report.filter { $0.key != "report" } }

    /// Every table of `a` equals `b`'s, exactly (JSON numbers as written: the shortest round-trip digits).
    static func expectSameTables(_ a: [String: Any], _ b: [String: Any], _ comment: Comment) {
        #expect(Set(a.keys) == Set(b.keys), comment)
        for key in a.keys.sorted() {
            let x = NSArray(array: a[key] as? [Any] ?? []), y = NSArray(array: b[key] as? [Any] ?? [])
            #expect(x.isEqual(to: y as! [Any]), "\(comment): \(key) differs:\n\(x)\n\(y)")
        }
    }

    @Test func aFeedOfTheArchivesRowsInFileOrderReportsTheArchiveReplaysNumbers() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (outer, log) = try LiveFeedTests.log(in: dir)
        let csv = dir.appendingPathComponent("feed.csv")
        try LiveFeedTests.write(log.header, log.rows, to: csv)
        var r = try Harness.run(
            ["run", outer.path, "--state", "a", "--out", "a.jsonl", "--thresholds", "expanding", "--quiet"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        // The file is ordered by user: the newest event time soon reaches the log's last day, so an allowed lateness
        // longer than the log (18 days) keeps every row in time; the days close at the end of input.
        r = try Harness.run(
            [
                "run", "-", "--state", "l", "--out", "l.jsonl", "--thresholds", "expanding", "--allowed-lateness", "30d",
                "--report", "live.html", "--summary-json", "l.json", "--quiet",
            ], in: dir, stdin: csv)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try LiveFeedTests.summary(dir, "l.json")["late_rows"] as? Int == 0)
        let archive = try Self.report("a", in: dir), live = try Self.report("l", in: dir)
        // Every table that does not need the side tables is the archive run's, cell for cell: the interaction
        // observer saw the rows in the same order (its compensated sums and second pass too), and the days closed
        // with every user known, as in the archive replay.
        Self.expectSameTables(
            Self.tables(archive).filter { !Self.sideTableNames.contains($0.key) },
            Self.tables(live).filter { !Self.sideTableNames.contains($0.key) }, "live feed vs archive")
        for name in Self.sideTableNames { #expect((live[name] as? [Any])?.isEmpty == true, "\(name)") }
        let status = try #require(live["report"] as? [String: Any])
        #expect(status["phase"] as? String == "finished" && status["input"] as? String == "live feed")
        #expect(status["rows_read"] as? Int == log.rows.count && status["panel_days"] is NSNull)
        #expect((status["note_item_daily_summary"] as? String)?.contains("needs the archive's side tables") == true)
        #expect(status["interaction_rows"] as? Int == (archive["report"] as? [String: Any])?["interaction_rows"] as? Int)

        // The readiness CSV byte for byte; the HTML says what each section covers.
        for state in ["a", "l"] {
            r = try Harness.run(["report", "--state", state, "--readiness-csv", "\(state).csv", "--html", "\(state).html"], in: dir)
            #expect(r.status == 0, "\(r.stderr)")
        }
        #expect(try Data(contentsOf: dir.appendingPathComponent("a.csv")) == Data(contentsOf: dir.appendingPathComponent("l.csv")))
        let html = try String(contentsOf: dir.appendingPathComponent("l.html"), encoding: .utf8)
        #expect(html.contains("every row of the feed (\(Self.grouped(log.rows.count)) rows, through 2020-07-22)"), "\(html.prefix(600))")
        #expect(html.contains("the whole panel, through 2020-07-22 (18 days closed)"))
        #expect(html.range(of: #" of \d+ days closed"#, options: .regularExpression) == nil, "no total of days for a live feed")
        #expect(html.contains("needs the archive's side tables ·"))
        let written = try String(contentsOf: dir.appendingPathComponent("live.html"), encoding: .utf8)
        #expect(written == html, "run --report's last write is the report of the finished feed")
    }

    /// Two JSON values equal, numbers to `relative` (a revised record's old values are taken back from
    /// compensated sums, which need not round as a sum that never held them).
    static func nearlyEqual(_ a: Any?, _ b: Any?, relative: Double) -> Bool {
        switch (a, b) {
        case (let x as [Any], let y as [Any]):
            return x.count == y.count && zip(x, y).allSatisfy { nearlyEqual($0, $1, relative: relative) }
        case (let x as [String: Any], let y as [String: Any]):
            return Set(x.keys) == Set(y.keys) && x.keys.allSatisfy { nearlyEqual(x[$0], y[$0], relative: relative) }
        case (let x as NSNumber, let y as NSNumber) where !(x is Bool):
            let p = x.doubleValue, q = y.doubleValue
            return p == q || abs(p - q) <= relative * max(abs(p), abs(q))
        case (let x as NSObject, let y as NSObject): return x.isEqual(y)
        default: return a == nil && b == nil
        }
    }

    @Test(arguments: ["expanding", "fixed:12,0.5"])
    func lateRowsRevisedInReportWhatTheArchiveReplayDoes(thresholds: String) throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (outer, log) = try LiveFeedTests.log(in: dir)
        let csv = dir.appendingPathComponent("feed.csv")
        let shuffled = LiveFeedTests.arrivalOrder(log, maxDelay: 300, lateShare: 0.03, lateDelay: 2 * 86_400, seed: 3)
        try LiveFeedTests.write(log.header, shuffled, to: csv)
        var r = try Harness.run(
            ["run", outer.path, "--state", "a", "--out", "a.jsonl", "--thresholds", thresholds, "--quiet"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        r = try Harness.run(
            [
                "run", "-", "--state", "l", "--out", "l.jsonl", "--allowed-lateness", "10m", "--late-policy", "revise",
                "--thresholds", thresholds, "--summary-json", "l.json", "--quiet",
            ], in: dir, stdin: csv)
        #expect(r.status == 0, "\(r.stderr)")
        #expect((try LiveFeedTests.summary(dir, "l.json")["late_rows_revised"] as? Int ?? 0) > 50)
        // Each revision a late row causes takes back what the record it replaces counted: the panel tables are
        // the archive replay's (the interaction tables too: the same rows, in another order).
        let archive = Self.tables(try Self.report("a", in: dir)).filter { !Self.sideTableNames.contains($0.key) }
        let live = Self.tables(try Self.report("l", in: dir)).filter { !Self.sideTableNames.contains($0.key) }
        #expect(Set(archive.keys) == Set(live.keys))
        for key in archive.keys.sorted() {
            #expect(Self.nearlyEqual(archive[key], live[key], relative: 1e-12), "\(key):\n\(archive[key]!)\n\(live[key] ?? "none")")
        }
    }

    static func grouped(_ n: Int) -> String {
        let digits = String(n)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return out
    }

    /// The rows consumed by a stopped feed, as `status` says.
    static func consumed(_ state: String, in dir: URL) throws -> Int? {
        let text = try Harness.run(["status", "--state", state], in: dir).stdout
        return text.split(separator: "\n").first { $0.hasPrefix("rows consumed:") }.flatMap { Int($0.split(separator: " ")[2]) }
    }

    @Test func aStoppedFeedReportsSoFarAndItsResumeReportsWhatAnUninterruptedFeedDoes() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (_, log) = try LiveFeedTests.log(in: dir)
        let csv = dir.appendingPathComponent("feed.csv")
        try LiveFeedTests.write(log.header, LiveFeedTests.arrivalOrder(log, maxDelay: 300), to: csv)
        let common = ["run", "-", "--allowed-lateness", "1h", "--quiet"]
        var r = try Harness.run(common + ["--state", "ref", "--out", "ref.jsonl"], in: dir, stdin: csv)
        #expect(r.status == 0, "\(r.stderr)")
        let reference = try Self.report("ref", in: dir)

        // SIGINT part-way, with --report rewritten during the feed: the report covers the rows so far.
        let printed = try LiveFeedTests.signalledFeed(
            command: common + ["--state", "s", "--out", "s.jsonl", "--report", "mid.html", "--report-every", "100ms"],
            lines: 4000, output: "s.jsonl", signal: "INT", in: dir)
        #expect(printed.contains("exit=130"), "\(printed)")
        let stopped = try Self.report("s", in: dir)
        let status = try #require(stopped["report"] as? [String: Any])
        #expect(status["phase"] as? String == "live" && status["rows_read"] as? Int == 3999, "\(status)")
        #expect(status["interaction_rows"] as? Int == 3999)
        #expect((status["days_closed"] as? Int ?? 0) > 0 && status["panel_days"] is NSNull)
        let coverage = try #require((stopped["coverage_summary"] as? [[String: Any]])?.first { $0["metric"] as? String == "interaction_rows" })
        #expect(coverage["value"] as? Int == 3999)
        let mid = try String(contentsOf: dir.appendingPathComponent("mid.html"), encoding: .utf8)
        #expect(mid.contains("rows so far (3,999 rows, through ") && mid.contains("http-equiv=\"refresh\""), "\(mid.prefix(800))")
        #expect(mid.contains("the panel so far, through ") && mid.contains(" days closed)"))
        #expect(mid.range(of: #" of \d+ days closed"#, options: .regularExpression) == nil, "no total of days for a live feed")

        // The feed re-sent from its start resumes; its report is the uninterrupted feed's.
        r = try Harness.run(common + ["--state", "s", "--out", "s.jsonl", "--skip-rows", "3999"], in: dir, stdin: csv)
        #expect(r.status == 0, "\(r.stderr)")
        Self.expectSameTables(Self.tables(reference), Self.tables(try Self.report("s", in: dir)), "stopped and resumed")

        // kill -9 part-way: the rows after the last checkpoint are read again; the report is the same.
        let killed = try LiveFeedTests.signalledFeed(
            command: common + ["--state", "k", "--out", "k.jsonl", "--checkpoint-every", "0.05"], lines: 5000,
            output: "k.jsonl", signal: "9", in: dir)
        #expect(killed.contains("exit=137"), "\(killed)")
        let consumed = try #require(try Self.consumed("k", in: dir))
        r = try Harness.run(common + ["--state", "k", "--out", "k.jsonl", "--skip-rows", "\(consumed)"], in: dir, stdin: csv)
        #expect(r.status == 0, "\(r.stderr)")
        Self.expectSameTables(Self.tables(reference), Self.tables(try Self.report("k", in: dir)), "killed and resumed")
    }
}
