import Foundation
import ReplayStream
import ReplayTestSupport
import Testing

/// `replay run -`: a live feed on stdin, in arrival order, against the archive replay of the same rows.
@Suite(.serialized) struct LiveFeedTests {
    /// A generated log's small_matrix.csv, its header, and its data lines.
    struct Log {
        var header: String
        var rows: [String]
    }

    static func log(in dir: URL) throws -> (outer: URL, log: Log) {
        let outer = try Harness.archive(users: 40, videos: 200, days: 18, seed: 11)
        let folder = dir.appendingPathComponent("unpacked")
        try Harness.unpack(outer, innerZip: dir.appendingPathComponent("KuaiRec.zip"), folder: folder)
        let text = try String(
            contentsOf: folder.appendingPathComponent("KuaiRec 2.0/data/small_matrix.csv"), encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        let header = lines.removeFirst()
        return (outer, Log(header: header, rows: lines))
    }

    /// Runs a bash script in `dir`; returns what it printed on stdout.
    static func bash(_ script: String, in dir: URL) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", script]
        p.currentDirectoryURL = dir
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return printed
    }

    /// Runs `replay` with `command` reading a FIFO that stays open, writes the first `lines` lines of
    /// feed.csv into it, waits until `output` has bytes, sends `signal`, and prints `exit=STATUS`.
    static func signalledFeed(command: [String], lines: Int, output: String, signal: String, in dir: URL) throws -> String {
        try bash(
            """
            fifo=$(mktemp -u fifo.XXXXXX)
            mkfifo $fifo
            '\(Harness.binary.path)' \(command.joined(separator: " ")) < $fifo &
            pid=$!
            exec 3>$fifo
            head -n \(lines) feed.csv >&3
            for i in $(seq 1 100); do
              sleep 0.1
              [ -s \(output) ] && break
            done
            sleep 0.4
            kill -\(signal) $pid
            wait $pid
            echo "exit=$?"
            exec 3>&-
            """, in: dir)
    }

    /// The rows in an arrival order: each row arrives at its event time plus a delay of up to
    /// `maxDelay` seconds; a fraction `lateShare` is delayed by up to `lateDelay` seconds instead.
    /// Rows without a timestamp arrive at noon (UTC+8) of their date label.
    static func arrivalOrder(
        _ log: Log, maxDelay: Double, lateShare: Double = 0, lateDelay: Double = 0, seed: UInt64 = 1
    ) -> [String] {
        var random = SeededGenerator(seed: seed)
        let keyed = log.rows.enumerated().map { i, row -> (Double, Int, String) in
            let fields = row.split(separator: ",", omittingEmptySubsequences: false)
            var at: Double
            if let ts = Double(fields[6]) {
                at = ts
            } else if let labelValue = Double(fields[5]), labelValue > 0 {
                let label = Int(labelValue)
                var c = DateComponents()
                (c.year, c.month, c.day, c.hour) = (label / 10_000, label / 100 % 100, label % 100, 4)
                c.timeZone = TimeZone(identifier: "UTC")
                at = Calendar(identifier: .gregorian).date(from: c)!.timeIntervalSince1970
            } else {
                at = 0
            }
            let delay = random.unit() < lateShare ? random.unit() * lateDelay : random.unit() * maxDelay
            return (at + delay, i, row)
        }
        return keyed.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map(\.2)
    }

    static func write(_ header: String, _ rows: [String], to url: URL) throws {
        try ([header] + rows).joined(separator: "\n").appending("\n").write(to: url, atomically: true, encoding: .utf8)
    }

    /// The same rows as JSON lines: numbers as written, text quoted, empty fields null.
    static func jsonLines(_ header: String, _ rows: [String]) -> [String] {
        let names = header.split(separator: ",").map(String.init)
        return rows.map { row in
            let fields = row.split(separator: ",", omittingEmptySubsequences: false)
            let members = zip(names, fields).map { name, value -> String in
                if value.isEmpty { return "\"\(name)\":null" }
                if name == "time" { return "\"\(name)\":\"\(value)\"" }
                return "\"\(name)\":\(value)"
            }
            return "{" + members.joined(separator: ",") + "}"
        }
    }

    /// The last revision of each key, without `revision` and `final`; every one must be final.
    static func compacted(_ url: URL) throws -> [String: NSDictionary] {
        var out: [String: NSDictionary] = [:]
        var revisions: [String: Int] = [:]
        for record in try Harness.jsonLines(url) {
            let key = "\(record["user_id"]!)/\(record["event_date"]!)"
            let revision = record["revision"] as! Int
            #expect(revision > (revisions[key] ?? -1), "revisions of \(key) must rise")
            revisions[key] = revision
            var values = record
            #expect(values.removeValue(forKey: "final") != nil)
            values.removeValue(forKey: "revision")
            out[key] = NSDictionary(dictionary: values)
            if record["final"] as? Bool != true { out[key] = nil; out[key + " (not final)"] = NSDictionary() }
        }
        return out
    }

    static func expectSamePanel(_ a: URL, _ b: URL, _ comment: Comment) throws {
        let x = try compacted(a), y = try compacted(b)
        #expect(x.count == y.count && Set(x.keys) == Set(y.keys), comment)
        let differing = x.keys.filter { y[$0] != nil && x[$0] != y[$0] }.sorted()
        #expect(differing.isEmpty, "\(comment): \(differing.count) keys differ, e.g. \(differing.prefix(3))")
    }

    static func summary(_ dir: URL, _ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent(name))) as! [String: Any]
    }

    @Test func withinTheAllowedLatenessTheFeedGivesTheArchivePanel() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (outer, log) = try Self.log(in: dir)
        #expect(
            try Harness.run(
                ["run", outer.path, "--state", "a", "--out", "archive.jsonl", "--thresholds", "expanding", "--quiet"], in: dir
            ).status == 0)
        let shuffled = Self.arrivalOrder(log, maxDelay: 300)
        #expect(shuffled != log.rows)
        let csv = dir.appendingPathComponent("feed.csv")
        try Self.write(log.header, shuffled, to: csv)
        // An hour of allowed lateness covers the 5-minute arrival delays and the generated rows whose date
        // label ends before their timestamp (sessions running past midnight: up to ~30 minutes here).
        let run = try Harness.run(
            ["run", "-", "--state", "b", "--out", "live.jsonl", "--allowed-lateness", "1h", "--summary-json", "b.json"],
            in: dir, stdin: csv)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("late rows:        0"))
        try Self.expectSamePanel(dir.appendingPathComponent("archive.jsonl"), dir.appendingPathComponent("live.jsonl"), "csv feed")
        let s = try Self.summary(dir, "b.json")
        #expect(s["rows_read"] as? Int == log.rows.count)
        #expect((s["rows_accepted"] as! Int) + (s["rows_rejected"] as! Int) == log.rows.count)
        #expect(s["thresholds_mode"] as? String == "expanding", "expanding is the live default")
        let report = try Harness.run(["report", "--state", "b"], in: dir)
        #expect(report.status == 0 && report.stdout.contains("\"input\": \"live feed\""), "\(report.stderr)")
        let status = try Harness.run(["status", "--state", "b"], in: dir).stdout
        #expect(status.contains("rows consumed:    \(log.rows.count)") && status.contains("open days:        none"))

        // The same rows as JSON lines (detected from the first byte).
        let jsonl = dir.appendingPathComponent("feed.jsonl")
        try Self.jsonLines(log.header, shuffled).joined(separator: "\n").appending("\n")
            .write(to: jsonl, atomically: true, encoding: .utf8)
        let json = try Harness.run(
            ["run", "-", "--state", "c", "--out", "json.jsonl", "--allowed-lateness", "1h", "--quiet"], in: dir, stdin: jsonl)
        #expect(json.status == 0, "\(json.stderr)")
        #expect(
            try Data(contentsOf: dir.appendingPathComponent("json.jsonl"))
                == Data(contentsOf: dir.appendingPathComponent("live.jsonl")), "JSON lines and CSV give the same bytes")
    }

    @Test func rowsBeyondTheLatenessAreRejectedAsLateAndNothingIsLost() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (_, log) = try Self.log(in: dir)
        let shuffled = Self.arrivalOrder(log, maxDelay: 300, lateShare: 0.03, lateDelay: 2 * 86_400, seed: 2)
        let csv = dir.appendingPathComponent("feed.csv")
        try Self.write(log.header, shuffled, to: csv)
        let run = try Harness.run(
            ["run", "-", "--state", "s", "--out", "live.jsonl", "--allowed-lateness", "10m", "--summary-json", "s.json", "--quiet"],
            in: dir, stdin: csv)
        #expect(run.status == 0, "\(run.stderr)")
        let rejects = try Harness.jsonLines(dir.appendingPathComponent("s/rejects.jsonl"))
        let late = rejects.filter { $0["reason"] as? String == "late" }
        #expect(late.count > 50, "the shuffle pushes some rows beyond the lateness")
        for r in late { #expect(r["day"] is String && r["lateness_ms"] is Int && r["raw"] is String) }
        #expect(late.filter { ($0["lateness_ms"] as! Int) > 600_000 }.count > late.count / 2, "most were pushed hours late")
        let s = try Self.summary(dir, "s.json")
        #expect(s["late_rows"] as? Int == late.count)
        #expect((s["rejected_by_reason"] as! [String: Int])["late"] == late.count)
        #expect((s["rows_accepted"] as! Int) + (s["rows_rejected"] as! Int) == log.rows.count)
        #expect(rejects.count == s["rows_rejected"] as! Int)

        // The panel is the archive replay of the rows that were not late.
        let lateRaw = Set(late.map { $0["raw"] as! String })
        let kept = dir.appendingPathComponent("kept.csv")
        try Self.write(log.header, log.rows.filter { !lateRaw.contains($0) }, to: kept)
        #expect(
            try Harness.run(
                ["run", kept.path, "--state", "k", "--out", "kept.jsonl", "--thresholds", "expanding", "--quiet"], in: dir
            ).status == 0)
        try Self.expectSamePanel(dir.appendingPathComponent("kept.jsonl"), dir.appendingPathComponent("live.jsonl"), "late rejected")
    }

    @Test(arguments: ["expanding", "fixed:12,0.5"])
    func revisedLateRowsGiveTheArchivePanel(thresholds: String) throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (outer, log) = try Self.log(in: dir)
        #expect(
            try Harness.run(
                ["run", outer.path, "--state", "a", "--out", "archive.jsonl", "--thresholds", thresholds, "--quiet"], in: dir
            ).status == 0)
        let shuffled = Self.arrivalOrder(log, maxDelay: 300, lateShare: 0.03, lateDelay: 2 * 86_400, seed: 3)
        let csv = dir.appendingPathComponent("feed.csv")
        try Self.write(log.header, shuffled, to: csv)
        let run = try Harness.run(
            [
                "run", "-", "--state", "s", "--out", "live.jsonl", "--allowed-lateness", "10m", "--late-policy", "revise",
                "--thresholds", thresholds, "--summary-json", "s.json", "--quiet",
            ], in: dir, stdin: csv)
        #expect(run.status == 0, "\(run.stderr)")
        let s = try Self.summary(dir, "s.json")
        #expect((s["late_rows_revised"] as! Int) > 50)
        #expect(s["late_rows_revised"] as? Int == s["late_rows"] as? Int, "two days of lateness fit the 7-day window")
        try Self.expectSamePanel(dir.appendingPathComponent("archive.jsonl"), dir.appendingPathComponent("live.jsonl"), "revise")
        // Every revision is a new line with a higher revision number (checked in compacted); final records
        // revised again stay final.
        let lines = try Harness.jsonLines(dir.appendingPathComponent("live.jsonl"))
        #expect(lines.count > (try Harness.jsonLines(dir.appendingPathComponent("archive.jsonl"))).count)
    }

    @Test func aStoppedFeedResumesWhereItStopped() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (_, log) = try Self.log(in: dir)
        let shuffled = Self.arrivalOrder(log, maxDelay: 300, lateShare: 0.02, lateDelay: 86_400, seed: 4)
        let csv = dir.appendingPathComponent("feed.csv")
        try Self.write(log.header, shuffled, to: csv)
        let common = ["run", "-", "--allowed-lateness", "10m", "--late-policy", "revise", "--quiet"]
        #expect(try Harness.run(common + ["--state", "ref", "--out", "ref.jsonl"], in: dir, stdin: csv).status == 0)

        // A producer that keeps the pipe open; SIGINT part-way: checkpoint, exit 130, the end of input not declared.
        let printed = try Self.signalledFeed(
            command: common + ["--state", "s", "--out", "live.jsonl"], lines: 3000, output: "live.jsonl", signal: "INT", in: dir)
        #expect(printed.contains("exit=130"), "\(printed)")
        let status = try Harness.run(["status", "--state", "s"], in: dir)
        #expect(status.stdout.contains("rows consumed:    2999"), "\(status.stdout)")
        #expect(status.stdout.contains("finished:         no"))
        // The feed re-sent from its start skips the rows already consumed.
        let resumed = try Harness.run(common + ["--state", "s", "--out", "live.jsonl", "--skip-rows", "2999"], in: dir, stdin: csv)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(
            try Data(contentsOf: dir.appendingPathComponent("live.jsonl"))
                == Data(contentsOf: dir.appendingPathComponent("ref.jsonl")), "the resumed output is the uninterrupted one, byte for byte")
        #expect(
            try Data(contentsOf: dir.appendingPathComponent("s/rejects.jsonl"))
                == Data(contentsOf: dir.appendingPathComponent("ref/rejects.jsonl")))
        // kill -9 part-way: the state holds the rows up to its last checkpoint; `status` says how many, and
        // the feed re-sent from its start with --skip-rows gives the uninterrupted bytes again.
        let nineText = try Self.signalledFeed(
            command: common + ["--state", "k", "--out", "crash.jsonl", "--checkpoint-every", "0.05"], lines: 5000,
            output: "crash.jsonl", signal: "9", in: dir)
        #expect(nineText.contains("exit=137"), "\(nineText)")
        let crashed = try Harness.run(["status", "--state", "k"], in: dir).stdout
        let consumed = crashed.split(separator: "\n").first { $0.hasPrefix("rows consumed:") }
            .flatMap { Int($0.split(separator: " ")[2]) }
        #expect(consumed != nil && consumed! > 0 && consumed! <= 4999, "\(crashed)")
        let afterCrash = try Harness.run(
            common + ["--state", "k", "--out", "crash.jsonl", "--skip-rows", "\(consumed ?? 0)"], in: dir, stdin: csv)
        #expect(afterCrash.status == 0, "\(afterCrash.stderr)")
        #expect(
            try Data(contentsOf: dir.appendingPathComponent("crash.jsonl"))
                == Data(contentsOf: dir.appendingPathComponent("ref.jsonl")), "kill -9 then resume gives the uninterrupted bytes")

        // A feed that ended stays ended: the whole feed re-sent is recognised (exit 0), rows after the ones it
        // consumed are refused, and nothing changes.
        let again = try Harness.run(common + ["--state", "s", "--out", "live.jsonl"], in: dir, stdin: csv)
        #expect(again.status == 0, "\(again.stderr)")
        let longer = dir.appendingPathComponent("longer.csv")
        try Self.write(log.header, shuffled + [shuffled[0]], to: longer)
        let more = try Harness.run(common + ["--state", "s", "--out", "live.jsonl"], in: dir, stdin: longer)
        #expect(more.status == 4 && more.stderr.contains("more rows arrived"), "\(more.stderr)")
        #expect(try Data(contentsOf: dir.appendingPathComponent("live.jsonl")) == Data(contentsOf: dir.appendingPathComponent("ref.jsonl")))
    }

    @Test func aQuietFeedClosesItsDaysAfterTheIdleTime() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (_, log) = try Self.log(in: dir)
        // The first day's rows, then silence with the pipe open until the day's records are in the output (the
        // idle close; at most 60 s), then one more row of that day, then EOF. The exact idle time is
        // LiveFeedContractTests' (a manual clock); this checks `--idle-close` end to end.
        let firstDay = log.rows.filter { $0.contains(",20200705.0,") }
        try Self.write(log.header, Array(firstDay.dropLast()), to: dir.appendingPathComponent("day1.csv"))
        try firstDay.last!.appending("\n").write(to: dir.appendingPathComponent("last.csv"), atomically: true, encoding: .utf8)
        let script = """
            (cat day1.csv
             for i in $(seq 1 600); do
               grep -q '"event_date":"2020-07-05"' live.jsonl 2>/dev/null && break
               sleep 0.1
             done
             grep -c '"event_date":"2020-07-05"' live.jsonl > seen.txt
             cat last.csv) \
              | '\(Harness.binary.path)' run - --state s --out live.jsonl --idle-close 0.5s --checkpoint-every 0.1 --summary-json s.json --quiet
            echo "exit=$?"
            """
        let printed = try Self.bash(script, in: dir)
        #expect(printed.contains("exit=0"), "\(printed)")
        let seen = Int(try String(contentsOf: dir.appendingPathComponent("seen.txt"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(seen > 0, "the day's records were written while the pipe was still open")
        let rejects = try Harness.jsonLines(dir.appendingPathComponent("s/rejects.jsonl"))
        #expect(rejects.contains {
            $0["reason"] as? String == "idle_closed" && $0["day"] as? String == "2020-07-05" && ($0["lateness_ms"] as? Int ?? -1) >= 0
        })
        let s = try Self.summary(dir, "s.json")
        #expect(s["late_rows"] as? Int == 1 && s["finished"] as? Bool == true)
    }

    /// kill -9 after a day closed and before the next checkpoint: the closed day's file is still listed by the
    /// last committed checkpoint, so it must still be there; the resume gives the uninterrupted bytes.
    @Test func aKillBetweenADayClosingAndTheNextCheckpointResumes() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (_, log) = try Self.log(in: dir)
        let firstDay = log.rows.filter { $0.contains(",20200705.0,") }
        let later = try #require(log.rows.first { $0.contains(",20200707.0,") && !$0.contains(",,") })
        try Self.write(log.header, firstDay, to: dir.appendingPathComponent("day1.csv"))
        try later.appending("\n").write(to: dir.appendingPathComponent("later.csv"), atomically: true, encoding: .utf8)
        try Self.write(log.header, firstDay + [later], to: dir.appendingPathComponent("feed.csv"))
        let common = ["run", "-", "--quiet"]
        #expect(try Harness.run(common + ["--state", "ref", "--out", "ref.jsonl"], in: dir, stdin: dir.appendingPathComponent("feed.csv")).status == 0)
        // The first day, then a wait until a checkpoint lists the day as open (`status` says so), a row two days
        // later (the day closes and leaves the revision window), kill -9 at once: the next checkpoint is due 3 s
        // after the first, so none commits in between. LiveFeedContractTests checks the same in process, without
        // timing.
        let printed = try Self.bash(
            """
            fifo=$(mktemp -u fifo.XXXXXX)
            mkfifo $fifo
            '\(Harness.binary.path)' \(common.joined(separator: " ")) --state k --out crash.jsonl --checkpoint-every 3s < $fifo &
            pid=$!
            exec 3>$fifo
            cat day1.csv >&3
            for i in $(seq 1 600); do
              '\(Harness.binary.path)' status --state k 2>/dev/null | grep -q 'rows consumed:    \(firstDay.count) (' && break
              sleep 0.1
            done
            cat later.csv >&3
            sleep 0.2
            kill -9 $pid
            wait $pid
            echo "exit=$?"
            exec 3>&-
            """, in: dir)
        #expect(printed.contains("exit=137"), "\(printed)")
        let crashed = try Harness.run(["status", "--state", "k"], in: dir).stdout
        let consumed = crashed.split(separator: "\n").first { $0.hasPrefix("rows consumed:") }
            .flatMap { Int($0.split(separator: " ")[2]) }
        #expect(consumed == firstDay.count, "\(crashed)")
        let resumed = try Harness.run(
            common + ["--state", "k", "--out", "crash.jsonl", "--skip-rows", "\(consumed ?? 0)"], in: dir,
            stdin: dir.appendingPathComponent("feed.csv"))
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(
            try Data(contentsOf: dir.appendingPathComponent("crash.jsonl"))
                == Data(contentsOf: dir.appendingPathComponent("ref.jsonl")), "kill -9 then resume gives the uninterrupted bytes")
    }

    @Test func liveOptionsAreChecked() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let empty = dir.appendingPathComponent("empty.csv")
        try "".write(to: empty, atomically: true, encoding: .utf8)
        for (arguments, message) in [
            (["--thresholds", "batch"], "needs the whole log"),
            (["--allowed-lateness", "soon"], "The value 'soon' is invalid for '--allowed-lateness <duration>'"),
            (["--late-policy", "keep"], "Please provide one of 'reject' and 'revise'"),
            (["--rows", "10"], "--rows applies to archive input"),
        ] {
            let r = try Harness.run(["run", "-", "--state", "s"] + arguments, in: dir, stdin: empty)
            #expect(r.status == 64 && r.stderr.contains(message), "\(arguments): \(r.stderr)")
        }
        let archive = try Harness.run(["run", "x.zip", "--idle-close", "1s"], in: dir)
        #expect(archive.status == 64 && archive.stderr.contains("applies to a live feed"))
        // A bad header on stdin is an input error (exit 3).
        let bad = dir.appendingPathComponent("bad.csv")
        try "a,b,c\n1,2,3\n".write(to: bad, atomically: true, encoding: .utf8)
        let r = try Harness.run(["run", "-", "--state", "s", "--input-format", "csv"], in: dir, stdin: bad)
        #expect(r.status == 3 && r.stderr.contains("lacks the column"), "\(r.stderr)")
    }
}
