import Foundation
import Testing

@Suite(.serialized) struct TailCommandTests {
    func lines(_ url: URL) throws -> [Substring] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
    }

    @Test func filtersAndCompactedView() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        #expect(try Harness.run(["run", outer.path, "--state", "s", "--out", "p.jsonl", "--quiet"], in: dir).status == 0)
        let all = try lines(dir.appendingPathComponent("p.jsonl"))
        let everything = try Harness.run(["tail", "p.jsonl"], in: dir)
        #expect(everything.stdout.split(separator: "\n") == all)
        let finals = all.filter { $0.hasSuffix("\"final\":true}") }
        #expect(try Harness.run(["tail", "p.jsonl", "--final-only"], in: dir).stdout.split(separator: "\n") == finals)
        let latest = try Harness.run(["tail", "p.jsonl", "--latest"], in: dir).stdout.split(separator: "\n")
        #expect(Set(latest) == Set(finals) && latest.count == finals.count)
        let one = try Harness.run(["tail", "p.jsonl", "--user", "14", "--date", "2020-07-06"], in: dir).stdout
            .split(separator: "\n")
        #expect(one.count >= 2 && one.allSatisfy { $0.hasPrefix("{\"user_id\":14,\"event_date\":\"2020-07-06\"") })
        // A closed pipe is a clean stop.
        let head = Process()
        head.executableURL = URL(fileURLWithPath: "/bin/bash")
        head.arguments = ["-c", "set -o pipefail; '\(Harness.binary.path)' tail p.jsonl | head -1 > /dev/null"]
        head.currentDirectoryURL = dir
        try head.run()
        head.waitUntilExit()
        #expect(head.terminationStatus == 0)
    }

    @Test func followSurvivesAKilledAndResumedWriter() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive(users: 40, videos: 300, days: 20, seed: 5)
        let common = ["run", outer.path, "--matrix", "big", "--checkpoint-every", "0.005", "--quiet"]
        #expect(try Harness.run(common + ["--state", "ref", "--out", "ref.jsonl"], in: dir).status == 0)
        let expected = try lines(dir.appendingPathComponent("ref.jsonl")).filter { $0.hasSuffix("\"final\":true}") }
        #expect(try Harness.run(common + ["--state", "s", "--out", "p.jsonl", "--until", "2020-07-06"], in: dir).status == 0)

        let tail = Process()
        tail.executableURL = Harness.binary
        tail.arguments = ["tail", "p.jsonl", "--follow", "--final-only", "--poll-interval", "0.005"]
        tail.currentDirectoryURL = dir
        _ = FileManager.default.createFile(atPath: dir.appendingPathComponent("tail.out").path, contents: nil)
        tail.standardOutput = try FileHandle(forWritingTo: dir.appendingPathComponent("tail.out"))
        try tail.run()
        // Kill the writer a few times mid-run; each rerun cuts the file back and rewrites the same bytes.
        for delay in [0.05, 0.1, 0.15] {
            let writer = Process()
            writer.executableURL = Harness.binary
            writer.arguments = common + ["--state", "s", "--out", "p.jsonl"]
            writer.currentDirectoryURL = dir
            try writer.run()
            Thread.sleep(forTimeInterval: delay)
            kill(writer.processIdentifier, SIGKILL)
            writer.waitUntilExit()
        }
        #expect(try Harness.run(common + ["--state", "s", "--out", "p.jsonl"], in: dir).status == 0)
        Thread.sleep(forTimeInterval: 0.5)
        kill(tail.processIdentifier, SIGINT)
        tail.waitUntilExit()
        #expect(tail.terminationStatus == 0)
        let got = try lines(dir.appendingPathComponent("tail.out"))
        #expect(got.count == expected.count)
        #expect(got == expected)
    }

    /// A followed file rewritten by another run (a --fresh rerun with other thresholds) or replaced by a new
    /// file: tail says so and starts again from the top, so its output ends with the new file whole; under
    /// --no-restart it stops with exit 4.
    @Test func followStartsAgainWhenAnotherRunRewritesTheFile() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        let run = ["run", outer.path, "--state", "s", "--out", "p.jsonl", "--quiet"]
        #expect(try Harness.run(run, in: dir).status == 0)
        let first = try lines(dir.appendingPathComponent("p.jsonl"))
        func follow(_ extra: [String]) throws -> (Process, Pipe, URL) {
            let tail = Process()
            tail.executableURL = Harness.binary
            tail.arguments = ["tail", "p.jsonl", "--follow", "--poll-interval", "0.01"] + extra
            tail.currentDirectoryURL = dir
            let out = dir.appendingPathComponent("tail-\(extra.count).out")
            _ = FileManager.default.createFile(atPath: out.path, contents: nil)
            tail.standardOutput = try FileHandle(forWritingTo: out)
            let err = Pipe()
            tail.standardError = err
            try tail.run()
            Thread.sleep(forTimeInterval: 0.5)
            return (tail, err, out)
        }
        let (tail, err, out) = try follow([])
        // Rewritten in place with other thresholds (same file, other bytes).
        #expect(try Harness.run(run + ["--fresh", "--thresholds", "fixed:1,0.01"], in: dir).status == 0)
        let second = try lines(dir.appendingPathComponent("p.jsonl"))
        #expect(second != first)
        Thread.sleep(forTimeInterval: 0.5)
        kill(tail.processIdentifier, SIGINT)
        tail.waitUntilExit()
        let said = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(said.contains("p.jsonl was rewritten by another run") && said.contains("starting again from its top"), "\(said)")
        let printed = try lines(out)
        #expect(printed.count > second.count)
        #expect(Array(printed.suffix(second.count)) == second, "the new run's records, whole, after the notice")
        let secondRecords = Set(second)
        #expect(printed.prefix(printed.count - second.count).contains { !secondRecords.contains($0) }, "the first run's came before")

        // Replaced by another file, under --no-restart: exit 4.
        let (strict, strictErr, _) = try follow(["--no-restart"])
        try Data(first.joined(separator: "\n").appending("\n").utf8).write(to: dir.appendingPathComponent("p.jsonl"), options: .atomic)
        strict.waitUntilExit()
        #expect(strict.terminationStatus == 4)
        let stopped = String(decoding: strictErr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(stopped.contains("p.jsonl was replaced by another file; stopping (--no-restart)"), "\(stopped)")
    }
}
