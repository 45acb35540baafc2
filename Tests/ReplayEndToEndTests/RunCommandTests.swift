import Foundation
import Testing
import ReplayStream

@Suite(.serialized) struct RunCommandTests {
    @Test func everyInputFormGivesTheSameBytes() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        let inner = dir.appendingPathComponent("KuaiRec.zip")
        let folder = dir.appendingPathComponent("extracted")
        try Harness.unpack(outer, innerZip: inner, folder: folder)
        let csv = folder.appendingPathComponent("KuaiRec 2.0/data/small_matrix.csv")
        let gz = dir.appendingPathComponent("small_matrix.csv.gz")
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/bin/sh")
        gzip.arguments = ["-c", "gzip -c '\(csv.path)' > '\(gz.path)'"]
        try gzip.run()
        gzip.waitUntilExit()

        var outputs: [Data] = []
        for (i, input) in [outer, inner, folder, csv, gz].enumerated() {
            let r = try Harness.run(
                ["run", input.path, "--state", "s\(i)", "--out", "p\(i).jsonl", "--quiet"], in: dir)
            #expect(r.status == 0, "\(input.lastPathComponent): \(r.stderr)")
            outputs.append(try Data(contentsOf: dir.appendingPathComponent("p\(i).jsonl")))
        }
        #expect(outputs[0].count > 1000)
        for (i, o) in outputs.enumerated() { #expect(o == outputs[0], "input form \(i) differs") }
    }

    @Test func rowsReconcileAndEveryLineIsJSON() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        for matrix in ["small", "big"] {
            let r = try Harness.run(
                ["run", outer.path, "--matrix", matrix, "--state", "s-\(matrix)", "--out", "p-\(matrix).jsonl", "--rejects", "rej.jsonl",
                 "--summary-json", "sum.json", "--quiet"], in: dir)
            #expect(r.status == 0, "\(r.stderr)")
            let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("sum.json"))) as! [String: Any]
            let read = summary["rows_read"] as! Int, accepted = summary["rows_accepted"] as! Int
            let rejected = summary["rows_rejected"] as! Int
            #expect(read == accepted + rejected && read > 0)
            let byReason = summary["rejected_by_reason"] as! [String: Int]
            #expect(byReason.values.reduce(0, +) == rejected)
            let rejects = try Harness.jsonLines(dir.appendingPathComponent("rej.jsonl"))
            #expect(rejects.count == rejected)
            if matrix == "small" { #expect(rejected > 0 && byReason["missing_time"] == rejected) }
            if matrix == "big" { #expect((summary["duplicate_rows"] as! Int) > 0) }
            for reject in rejects {
                #expect(reject["line"] is Int && reject["reason"] is String && reject["raw"] is String)
            }
            let records = try Harness.jsonLines(dir.appendingPathComponent("p-\(matrix).jsonl"))
            #expect(records.count == summary["records_written"] as! Int)
            let finals = records.filter { $0["final"] as? Bool == true }
            let users = summary["users"] as! Int, days = summary["days"] as! Int
            #expect(finals.count == users * days)
            #expect(Set(finals.map { "\($0["user_id"]!)/\($0["event_date"]!)" }).count == users * days)
            #expect(records.allSatisfy { $0.count == UserDayRecord.columnNames.count + 2 })
        }
    }

    @Test func untilThenResumeEqualsOneRun() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        #expect(try Harness.run(["run", outer.path, "--state", "one", "--out", "one.jsonl", "--quiet"], in: dir).status == 0)
        for until in ["2020-07-07", "2020-07-08", "2020-07-13"] {
            let r = try Harness.run(["run", outer.path, "--state", "two", "--out", "two.jsonl", "--until", until], in: dir)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stderr.contains("--until"))
        }
        let last = try Harness.run(["run", outer.path, "--state", "two", "--out", "two.jsonl"], in: dir)
        #expect(last.status == 0)
        #expect(last.stderr.contains("resuming"))
        let a = try Data(contentsOf: dir.appendingPathComponent("one.jsonl"))
        let b = try Data(contentsOf: dir.appendingPathComponent("two.jsonl"))
        #expect(a == b)
        // A finished state reruns as a no-op with the same bytes.
        #expect(try Harness.run(["run", outer.path, "--state", "two", "--out", "two.jsonl", "--quiet"], in: dir).status == 0)
        #expect(try Data(contentsOf: dir.appendingPathComponent("two.jsonl")) == a)
    }

    @Test func stateFolderRefusesOtherRunsAndFreshRecovers() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        #expect(try Harness.run(["run", outer.path, "--state", "s", "--out", "p.jsonl", "--until", "2020-07-06", "--quiet"], in: dir).status == 0)
        let other = try Harness.run(["run", outer.path, "--state", "s", "--out", "p.jsonl", "--thresholds", "expanding"], in: dir)
        #expect(other.status == 4)
        #expect(other.stderr.contains("--thresholds") && other.stderr.contains("expanding"))
        let rows = try Harness.run(["run", outer.path, "--state", "s", "--out", "p.jsonl", "--rows", "100"], in: dir)
        #expect(rows.status == 4 && rows.stderr.contains("--rows"))
        let fresh = try Harness.run(["run", outer.path, "--state", "s", "--out", "p.jsonl", "--thresholds", "expanding", "--fresh", "--quiet"], in: dir)
        #expect(fresh.status == 0, "\(fresh.stderr)")
        let status = try Harness.run(["status", "--state", "s"], in: dir)
        #expect(status.status == 0)
        #expect(status.stdout.contains("expanding") && status.stdout.contains("finished:         yes"))
        #expect(status.stdout.contains("held by:          no process"))
    }

    @Test func secondProcessIsRefusedAtOnce() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        let state = dir.appendingPathComponent("s")
        #expect(try Harness.run(["run", outer.path, "--state", "s", "--out", "p.jsonl", "--until", "2020-07-06", "--quiet"], in: dir).status == 0)
        // Hold the lock from another process (flock in a shell), as a running replay would.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        holder.arguments = [state.appendingPathComponent("lock").path, "sleep", "30"]
        try holder.run()
        defer { holder.terminate() }
        Thread.sleep(forTimeInterval: 0.3)
        let r = try Harness.run(["run", outer.path, "--state", "s", "--out", "p.jsonl"], in: dir)
        #expect(r.status == 4)
        #expect(r.stderr.contains("in use"))
        // status reads the checkpoint without the lock (LMDB readers do not block a writer) and says who holds it.
        let status = try Harness.run(["status", "--state", "s"], in: dir)
        #expect(status.status == 0)
        #expect(status.stdout.contains("last closed day:  2020-07-06"))
        #expect(!status.stdout.contains("held by:          no process"))
    }

    @Test func unusableInputsGetClearErrors() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = try Harness.run(["run", "nope.zip", "--state", "s1"], in: dir)
        #expect(missing.status == 3 && missing.stderr.contains("no such file"))
        try Data("user_id,video_id\n1,2\n".utf8).write(to: dir.appendingPathComponent("bad.csv"))
        let header = try Harness.run(["run", "bad.csv", "--state", "s2"], in: dir)
        #expect(header.status == 3 && header.stderr.contains("play_duration"))
        let outer = try Harness.archive()
        let wrong = try Harness.run(["run", outer.path, "--matrix", "small", "--state", "s3", "--tz", "Mars/Olympus"], in: dir)
        #expect(wrong.status != 0 && wrong.stderr.contains("time zone"))
        // Another CSV of the archive is not an interaction log: its header says so.
        let inner = dir.appendingPathComponent("KuaiRec.zip")
        try Harness.unpack(outer, innerZip: inner, folder: dir.appendingPathComponent("x"))
        let features = try Harness.run(["run", dir.appendingPathComponent("x/KuaiRec 2.0/data/user_features.csv").path, "--state", "s4"], in: dir)
        #expect(features.status == 3 && features.stderr.contains("lacks the column"))
        // A folder without the matrix says where it looked.
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("emptydir"), withIntermediateDirectories: true)
        let empty = try Harness.run(["run", "emptydir", "--matrix", "big", "--state", "s5"], in: dir)
        #expect(empty.status == 3 && empty.stderr.contains("big_matrix.csv"))
    }
}

@Suite(.serialized) struct PacedRunTests {
    @Test func speedPacesTheReplayAndKeepsTheBytes() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        #expect(try Harness.run(["run", outer.path, "--state", "a", "--out", "a.jsonl", "--quiet"], in: dir).status == 0)
        // 15 days at 15 days per second: about one second of wall time.
        let started = Date()
        let paced = try Harness.run(["run", outer.path, "--state", "b", "--out", "b.jsonl", "--speed", "1296000", "--progress"], in: dir)
        let elapsed = Date().timeIntervalSince(started)
        #expect(paced.status == 0)
        #expect(elapsed > 0.8)
        #expect(paced.stderr.firstMatch(of: /replay day \d+ of 15 \(\d+%\) · 2020-07-\d\d \d\d:\d\d:\d\d GMT\+8/) != nil, "\(paced.stderr)")
        #expect(try Data(contentsOf: dir.appendingPathComponent("a.jsonl")) == Data(contentsOf: dir.appendingPathComponent("b.jsonl")))
    }
}
