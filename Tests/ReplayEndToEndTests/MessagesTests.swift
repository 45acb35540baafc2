import Foundation
import Testing

/// Odd inputs that get a true message or a sensible reading, beyond the rows of docs/ERRORS.md that
/// ``ErrorsDocTests`` triggers.
@Suite(.serialized) struct MessagesTests {
    typealias Feed = DocumentedFailures

    @Test func emptyPathsAndFolderOutputsAreBadUsageInEveryCommand() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Feed.write(Feed.log(), "in.csv", in: dir)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("folder"), withIntermediateDirectories: true)
        let usage: [[String]] = [
            ["run", "in.csv", "--state", ""], ["run", "in.csv", "--out", ""], ["run", ""], ["run", "in.csv", "--rejects", ""],
            ["status", "--state", ""], ["report", "--state", ""], ["report", "--state", "s", "--json", ""],
            ["inspect", ""], ["export", "", "--csv", "o.csv"], ["tail", ""], ["generate", "--out", ""],
            ["generate", "--days", "100000"], ["generate", "--out", "folder", "--users", "2", "--videos", "2", "--days", "2"],
            ["run", "in.csv", "--out", "folder"], ["run", "in.csv", "--summary-json", "folder"],
            ["run", "in.csv", "--rejects", "folder"], ["run", "in.csv", "--log-level", "verbose"],
        ]
        for arguments in usage {
            let r = try Harness.run(arguments, in: dir)
            #expect(r.status == 64, "\(arguments): \(r.status) \(r.stderr)")
            #expect(!r.stderr.contains("NSCocoaErrorDomain") && !r.stderr.contains("Fatal error"), "\(arguments): \(r.stderr)")
        }
        // Nothing was made by a refused command.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["folder", "in.csv"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("folder").path).isEmpty)
    }

    @Test func inspectSaysWhatIsWrongWithAnEmptyFile() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Feed.write("", "empty.zip", in: dir)
        let r = try Harness.run(["inspect", "empty.zip"], in: dir)
        #expect(r.status == 3 && r.stderr.contains("empty.zip: the file is empty (0 bytes)"), "\(r.stderr)")
    }

    @Test func aModificationTimeChangedByAFractionOfASecondPrintsTwoDifferentTimes() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Feed.partialRun(in: dir)
        let input = dir.appendingPathComponent("in.csv").path
        var status = stat()
        #expect(stat(input, &status) == 0)
        var times = [status.st_atim, status.st_mtim]
        times[1].tv_nsec = (times[1].tv_nsec + 300_000_000) % 1_000_000_000
        #expect(utimensat(AT_FDCWD, input, &times, 0) == 0)
        let r = try Feed.runLog(in: dir)
        #expect(r.status == 4, "\(r.stderr)")
        let found = r.stderr.firstMatch(of: /the state has (\S+ \S+) UTC, this run has (\S+ \S+) UTC/)
        let pair = try #require(found, "\(r.stderr)")
        #expect(pair.1 != pair.2, "\(r.stderr)")
    }

    @Test func aJSONLinesFeedMayStartWithAByteOrderMark() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for format in [[], ["--input-format", "jsonl"]] {
            let state = "s\(format.count)"
            let r = try Feed.run(
                ["run", "-", "--state", state, "--out", "\(state).jsonl", "--quiet"] + format, in: dir, stdin: "\u{FEFF}" + Feed.feed())
            #expect(r.status == 0, "\(format): \(r.stderr)")
            let rejects = (try? String(contentsOf: dir.appendingPathComponent("\(state)/rejects.jsonl"), encoding: .utf8)) ?? ""
            #expect(rejects.isEmpty, "\(format): \(rejects)")
            let records = try Harness.strictJSONLines(dir.appendingPathComponent("\(state).jsonl"))
            #expect(Set(records.map { "\($0["user_id"]!)" }) == ["1", "2"])
        }
    }

    @Test func rejectLinesKeepCountingWhenAFeedIsResumedWithItsRest() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let rows = Feed.feed(days: 2).split(separator: "\n").map(String.init)
        let bad = "{\"user_id\":[1]}"
        // The first part: two rows and a bad one (line 3); stopped by SIGTERM with the feed still open.
        let fifo = dir.appendingPathComponent("feed.fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let process = Process()
        process.executableURL = Harness.binary
        process.arguments = ["run", "-", "--state", "s", "--out", "p.jsonl", "--checkpoint-every", "0.05", "--quiet"]
        process.currentDirectoryURL = dir
        process.standardError = FileHandle.nullDevice
        let stopped = DispatchSemaphore(value: 0)
        let writer = Thread {
            guard let handle = FileHandle(forWritingAtPath: fifo) else { return }
            handle.write(Data(([rows[0], rows[1], bad].joined(separator: "\n") + "\n").utf8))
            stopped.wait()  // the feed stays open until the run was stopped
            try? handle.close()
        }
        writer.start()
        process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: fifo))
        try process.run()
        let rejectsPath = dir.appendingPathComponent("s/rejects.jsonl").path
        for _ in 0..<6000 {
            if let text = try? String(contentsOfFile: rejectsPath, encoding: .utf8), !text.isEmpty { break }
            usleep(10_000)
        }
        usleep(300_000)
        process.terminate()
        process.waitUntilExit()
        stopped.signal()
        #expect(process.terminationStatus == 130)
        // The rest: two rows and a bad one, its third line, so line 6 of the feed.
        let r = try Feed.run(
            ["run", "-", "--state", "s", "--out", "p.jsonl", "--quiet"], in: dir, stdin: [rows[2], rows[3], bad].joined(separator: "\n") + "\n")
        #expect(r.status == 0, "\(r.stderr)")
        let lines = try Harness.strictJSONLines(URL(fileURLWithPath: rejectsPath)).map { $0["line"] as? Int }
        #expect(lines == [3, 6])
    }

    @Test func aRowOfADayClosedForSilenceIsRejectedIdleClosedWithAPositiveLateness() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try DocumentedFailures.triggers["`idle_closed`"]!(dir)
        let rejects = result.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(rejects.count == 2, "\(result.stdout)")
        for reject in rejects {
            #expect(reject["reason"] as? String == "idle_closed")
            let lateness = try #require(reject["lateness_ms"] as? Int)
            #expect(lateness >= 300 && lateness < 120_000, "\(reject)")  // sent 0.3 s after the close was seen
        }
    }

    @Test func tailSaysWhatIsWrongWhereExportDoes() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var lines = try DocumentedFailures.panel(in: dir)
        lines.insert("{\"bad\":1}", at: 2)
        try Feed.write(lines.joined(separator: "\n") + "\n", "p.jsonl", in: dir)
        let tail = try Harness.run(["tail", "p.jsonl"], in: dir)
        #expect(tail.status == 0)
        #expect(tail.stdout.split(separator: "\n").count == lines.count - 1)
        #expect(tail.stderr.contains("p.jsonl: line 3: not a panel record: it has the key \"bad\", which is no panel column; skipped"), "\(tail.stderr)")
        let export = try Harness.run(["export", "p.jsonl", "--csv", "o.csv"], in: dir)
        #expect(export.status == 3)
        #expect(export.stderr.contains("p.jsonl: line 3: not a panel record: it has the key \"bad\", which is no panel column"), "\(export.stderr)")
    }
}
