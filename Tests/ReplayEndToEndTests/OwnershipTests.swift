import Foundation
import Testing

/// The output file belongs to one run, and a live feed's rows are counted once (issue: nothing the user owns
/// is destroyed, mixed or silently wrong).
@Suite struct OwnershipTests {
    /// A run that holds its output while it plays (paced), in the background; returns the process.
    static func pacedRun(_ outer: URL, state: String, out: String, in dir: URL) throws -> Process {
        let p = Process()
        p.executableURL = Harness.binary
        p.arguments = ["run", outer.path, "--state", state, "--out", out, "--speed", "86400", "--quiet"]
        p.currentDirectoryURL = dir
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Wait until it has written its first records (the ingest is done and the output is open).
        for _ in 0..<200 where ((try? FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent(out).path))?[.size] as? Int ?? 0) == 0 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        return p
    }

    @Test func twoRunsCannotWriteOneOutput() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        let first = try Self.pacedRun(outer, state: "a", out: "p.jsonl", in: dir)
        defer {
            first.terminate()
            first.waitUntilExit()
        }
        #expect(first.isRunning)
        let second = try Harness.run(["run", outer.path, "--state", "b", "--out", "p.jsonl", "--fresh", "--quiet"], in: dir)
        #expect(second.status == 4, "\(second.stderr)")
        #expect(second.stderr.contains("p.jsonl: another run is writing it; wait for that run to end"), "\(second.stderr)")
    }

    @Test func aResumeRefusesAnOutputThatIsNoLongerItsOwn() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        let until = ["run", outer.path, "--state", "a", "--out", "p.jsonl", "--until", "2020-07-08", "--quiet"]
        #expect(try Harness.run(until, in: dir).status == 0)
        let resume = ["run", outer.path, "--state", "a", "--out", "p.jsonl", "--quiet"]
        // Another run (other thresholds) rewrites the same file in place: the committed bytes changed.
        let other = try Harness.run(
            ["run", outer.path, "--state", "b", "--out", "p.jsonl", "--thresholds", "fixed:10,0.5", "--fresh", "--quiet"], in: dir)
        #expect(other.status == 0, "\(other.stderr)")
        let spliced = try Harness.run(resume, in: dir)
        #expect(spliced.status == 4, "\(spliced.stderr)")
        #expect(spliced.stderr.contains("were changed by someone else") || spliced.stderr.contains("fewer than"), "\(spliced.stderr)")
        #expect(spliced.stderr.contains("Rerun with --fresh to start the run anew"))
        // An unrelated, longer file put in its place (a new file): refused, and left as it was.
        #expect(try Harness.run(until + ["--fresh"], in: dir).status == 0)
        let unrelated = Data(repeating: 0x41, count: 10_000_000)
        try unrelated.write(to: dir.appendingPathComponent("p.jsonl"), options: .atomic)
        let replaced = try Harness.run(resume, in: dir)
        #expect(replaced.status == 4 && replaced.stderr.contains("it is not the file this state's run wrote"), "\(replaced.stderr)")
        #expect(try Data(contentsOf: dir.appendingPathComponent("p.jsonl")) == unrelated)
    }

    @Test func aFirstRunDoesNotCutBackAFileItDidNotWrite() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        let mine = Data("my notes\n".utf8)
        try mine.write(to: dir.appendingPathComponent("panel.jsonl"))
        let refused = try Harness.run(["run", outer.path, "--state", "s", "--quiet"], in: dir)
        #expect(refused.status == 4, "\(refused.stderr)")
        #expect(refused.stderr.contains("panel.jsonl: it already holds 9 bytes that no run of this state folder wrote"), "\(refused.stderr)")
        #expect(try Data(contentsOf: dir.appendingPathComponent("panel.jsonl")) == mine)
        // --fresh says to replace it; a rerun of the finished run then leaves it alone.
        #expect(try Harness.run(["run", outer.path, "--state", "s", "--fresh", "--quiet"], in: dir).status == 0)
        let written = try Data(contentsOf: dir.appendingPathComponent("panel.jsonl"))
        #expect(written != mine)
        #expect(try Harness.run(["run", outer.path, "--state", "s", "--quiet"], in: dir).status == 0)
        #expect(try Data(contentsOf: dir.appendingPathComponent("panel.jsonl")) == written)
    }

    @Test func aLiveFeedCountsEveryRowOnce() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (_, log) = try LiveFeedTests.log(in: dir)
        let rows = LiveFeedTests.arrivalOrder(log, maxDelay: 60)
        let feed = dir.appendingPathComponent("feed.csv")
        try LiveFeedTests.write(log.header, rows, to: feed)
        let common = ["run", "-", "--quiet"]
        #expect(try Harness.run(common + ["--state", "ref", "--out", "ref.jsonl"], in: dir, stdin: feed).status == 0)
        let printed = try LiveFeedTests.signalledFeed(
            command: common + ["--state", "s", "--out", "live.jsonl"], lines: 3000, output: "live.jsonl", signal: "INT", in: dir)
        #expect(printed.contains("exit=130"), "\(printed)")
        // A --skip-rows that is not the count consumed is refused, saying which it expected.
        for wrong in ["2000", "3500"] {
            let r = try Harness.run(common + ["--state", "s", "--out", "live.jsonl", "--skip-rows", wrong], in: dir, stdin: feed)
            #expect(r.status == 4, "\(r.stderr)")
            #expect(r.stderr.contains("has consumed 2999 rows, not \(wrong)") && r.stderr.contains("--skip-rows 2999"), "\(r.stderr)")
        }
        // Another feed re-sent in its place: refused.
        var other = rows
        other[1000] = other[1001]
        let otherFeed = dir.appendingPathComponent("other.csv")
        try LiveFeedTests.write(log.header, other, to: otherFeed)
        let differs = try Harness.run(common + ["--state", "s", "--out", "live.jsonl"], in: dir, stdin: otherFeed)
        #expect(differs.status == 4 && differs.stderr.contains("are not the 2999 rows the feed consumed"), "\(differs.stderr)")
        // The feed re-sent from its start, without --skip-rows: its first 2999 rows are recognised and skipped.
        let resent = try Harness.run(common + ["--state", "s", "--out", "live.jsonl"], in: dir, stdin: feed)
        #expect(resent.status == 0, "\(resent.stderr)")
        #expect(
            try Data(contentsOf: dir.appendingPathComponent("live.jsonl")) == Data(contentsOf: dir.appendingPathComponent("ref.jsonl")),
            "no row counted twice")
        // A feed that ended: the whole feed re-sent (a rerun of the finished command) is recognised and changes
        // nothing; a row after the ones it consumed is an error; so is another feed in its place.
        let again = try Harness.run(common + ["--state", "s", "--out", "live.jsonl"], in: dir, stdin: feed)
        #expect(again.status == 0, "\(again.stderr)")
        let longer = dir.appendingPathComponent("longer.csv")
        try LiveFeedTests.write(log.header, rows + [rows[rows.count - 1]], to: longer)
        let afterEnd = try Harness.run(common + ["--state", "s", "--out", "live.jsonl"], in: dir, stdin: longer)
        #expect(afterEnd.status == 4 && afterEnd.stderr.contains("already ended"), "\(afterEnd.stderr)")
        #expect(afterEnd.stderr.contains("and more rows arrived"), "\(afterEnd.stderr)")
        let otherAfterEnd = try Harness.run(common + ["--state", "s", "--out", "live.jsonl"], in: dir, stdin: otherFeed)
        #expect(otherAfterEnd.status == 4 && otherAfterEnd.stderr.contains("it is another feed"), "\(otherAfterEnd.stderr)")
        #expect(
            try Data(contentsOf: dir.appendingPathComponent("live.jsonl")) == Data(contentsOf: dir.appendingPathComponent("ref.jsonl")))
        let empty = dir.appendingPathComponent("empty.csv")
        try Data().write(to: empty)
        #expect(try Harness.run(common + ["--state", "s", "--out", "live.jsonl"], in: dir, stdin: empty).status == 0)
        #expect(try Data(contentsOf: dir.appendingPathComponent("live.jsonl")) == Data(contentsOf: dir.appendingPathComponent("ref.jsonl")))
    }
}
