import Foundation
import Testing

@Suite(.serialized) struct TailCommandTests {
    func lines(_ url: URL) throws -> [Substring] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
    }

    /// A record line's key: its `event_date` and `user_id`.
    func key(_ line: Substring) -> (date: String, user: Int) {
        (String(value("event_date", in: line)), Int(value("user_id", in: line))!)
    }

    /// The JSON text of `name`'s value in a record line, as written (a string with its quotes).
    func value(_ name: String, in line: Substring) -> Substring {
        let start = line.range(of: "\"\(name)\":")!.upperBound
        let end = line[start...].firstIndex { $0 == "," || $0 == "}" }!
        return line[start..<end]
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
        // The compacted view is ordered by event_date, then user_id (the order a stream closes days in).
        let keys = latest.map(key)
        #expect(zip(keys, keys.dropFirst()).allSatisfy { ($0.date, $0.user) < ($1.date, $1.user) }, "ordered, each key once")
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
        tail.arguments = ["tail", "p.jsonl", "--follow", "--from-start", "--final-only", "--poll-interval", "0.005"]
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

    /// A finished run's panel in a fresh folder: state `s`, output `p.jsonl`; returns its lines.
    func finishedRun(in dir: URL) throws -> [Substring] {
        let outer = try Harness.archive()
        #expect(try Harness.run(["run", outer.path, "--state", "s", "--out", "p.jsonl", "--quiet"], in: dir).status == 0)
        return try lines(dir.appendingPathComponent("p.jsonl"))
    }

    /// Runs `script` with bash in `dir`.
    func shell(_ script: String, in dir: URL) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", script]
        process.currentDirectoryURL = dir
        let out = dir.appendingPathComponent("shell.out"), err = dir.appendingPathComponent("shell.err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        process.waitUntilExit()
        return CommandResult(
            status: process.terminationStatus, stdout: try String(contentsOf: out, encoding: .utf8),
            stderr: try String(contentsOf: err, encoding: .utf8))
    }

    /// `replay tail ARGUMENTS` in `dir`: its exit status and printed lines.
    func tail(_ arguments: [String], in dir: URL, stdin: URL? = nil) throws -> (status: Int32, lines: [Substring], stderr: String) {
        let r = try Harness.run(["tail"] + arguments, in: dir, stdin: stdin)
        return (r.status, r.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast(), r.stderr)
    }

    @Test func linesPrintsTheLastNOrFromTheNthAfterTheFilters() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let all = try finishedRun(in: dir)
        let finals = all.filter { $0.hasSuffix("\"final\":true}") }
        let user14 = all.filter { $0.hasPrefix("{\"user_id\":14,") }
        let latest = try tail(["p.jsonl", "--latest"], in: dir).lines
        #expect(all.count > 100 && user14.count > 10 && latest.count > 10)
        let cases: [([String], [Substring])] = [
            (["-n", "5"], Array(all.suffix(5))), (["--lines", "5"], Array(all.suffix(5))), (["-n", "0"], []),
            (["-n", "+3"], Array(all.dropFirst(2))), (["-n", "+1"], all), (["-n", "+0"], all),
            (["-n", "\(all.count + 5)"], all), (["-n", "+\(all.count + 1)"], []),
            (["-n", "3", "--final-only"], Array(finals.suffix(3))), (["-n", "+2", "--user", "14"], Array(user14.dropFirst())),
            (["-n", "4", "--user", "14"], Array(user14.suffix(4))), (["-n", "4", "--latest"], Array(latest.suffix(4))),
            (["-n", "+3", "--latest"], Array(latest.dropFirst(2))),
        ]
        for (extra, expected) in cases {
            let r = try tail(["p.jsonl"] + extra, in: dir)
            #expect(r.status == 0 && r.stderr.isEmpty, "\(extra): \(r.stderr)")
            #expect(r.lines == expected, "\(extra): \(r.lines.count) lines, expected \(expected.count)")
        }
        // Standard input: the same records (read from its top, keeping the last N).
        let stdin = dir.appendingPathComponent("p.jsonl")
        #expect(try tail(["-", "-n", "3"], in: dir, stdin: stdin).lines == Array(all.suffix(3)))
        #expect(try tail(["-", "-n", "2", "--final-only"], in: dir, stdin: stdin).lines == Array(finals.suffix(2)))
        #expect(try tail(["-", "-n", "+4"], in: dir, stdin: stdin).lines == Array(all.dropFirst(3)))
        // A run still writing the last line: it is held back, with the usual note.
        let partial = all.joined(separator: "\n") + "\n" + all[0].prefix(300)
        try Data(partial.utf8).write(to: dir.appendingPathComponent("w.jsonl"))
        let writing = try tail(["w.jsonl", "-n", "2"], in: dir)
        #expect(writing.status == 0 && writing.lines == Array(all.suffix(2)))
        #expect(writing.stderr.contains("w.jsonl: the last line is incomplete (300 bytes without a newline"), "\(writing.stderr)")
        // A damaged line among the last ones: skipped with the note that names its line, as without -n.
        var damaged = all.map(String.init)
        damaged.insert("{\"bad\":1}", at: all.count - 1)
        try Data((damaged.joined(separator: "\n") + "\n").utf8).write(to: dir.appendingPathComponent("d.jsonl"))
        let skipped = try tail(["d.jsonl", "-n", "3"], in: dir)
        #expect(skipped.status == 0 && skipped.lines == Array(all.suffix(3)))
        #expect(skipped.stderr.contains("d.jsonl: line \(all.count): not a panel record: it has the key \"bad\""), "\(skipped.stderr)")
        // Bad counts and a double start are bad usage.
        #expect(try tail(["p.jsonl", "-n", "x"], in: dir).status == 64)
        #expect(try tail(["p.jsonl", "-n", "++2"], in: dir).status == 64)
        let both = try tail(["p.jsonl", "-f", "--from-start", "-n", "3"], in: dir)
        #expect(both.status == 64 && both.stderr.contains("--from-start and -n both say where to begin"), "\(both.stderr)")
    }

    /// `-n N` reads a file from its end: a 3 GiB file (sparse: its first 3 GiB are zero bytes, no panel line,
    /// which read from the top would be refused as a line over 1 MiB) costs its last lines; and over standard
    /// input the last N are kept in a ring, so memory stays that of N lines.
    @Test func theLastLinesOfAHugePanelCostTheirOwnSizeOnly() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let all = try finishedRun(in: dir)
        let big = dir.appendingPathComponent("big.jsonl")
        _ = FileManager.default.createFile(atPath: big.path, contents: nil)
        let handle = try FileHandle(forWritingTo: big)
        try handle.truncate(atOffset: 3 << 30)
        try handle.seekToEnd()
        handle.write(Data(("\n" + all.suffix(20).joined(separator: "\n") + "\n").utf8))
        try handle.close()
        let started = Date()
        let time = URL(fileURLWithPath: "/usr/bin/time")
        let measured = FileManager.default.isExecutableFile(atPath: time.path) && !Harness.binaryIsSanitized
        let prefix = measured ? [time.path, "-f", "maxrss=%MKB"] : []
        let r = try Harness.run(["tail", "big.jsonl", "-n", "7"], in: dir, prefix: prefix)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.split(separator: "\n") == Array(all.suffix(7)))
        #expect(Date().timeIntervalSince(started) < 10)
        // Standard input: 60,000 records (about 100 MB) through a pipe.
        let script = "yes \"$(head -1 p.jsonl)\" | head -n 60000 | \(prefix.map { "'\($0)'" }.joined(separator: " ")) '\(Harness.binary.path)' tail - -n 2"
        let piped = try shell(script, in: dir)
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(piped.stdout.split(separator: "\n") == [all[0], all[0]])
        if measured {
            for output in [r.stderr, piped.stderr] {
                let kb = output.firstMatch(of: /maxrss=([0-9]+)KB/).flatMap { Int($0.1) }
                #expect(kb != nil && kb! < 60_000, "peak memory \(kb ?? -1) KB: \(output)")
            }
        }
    }

    @Test func followBeginsWithTheLastTenAndEndsOnceItsRunHasFinished() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let all = try finishedRun(in: dir)
        let finals = all.filter { $0.hasSuffix("\"final\":true}") }
        let cases: [([String], [Substring])] = [
            (["-f"], Array(all.suffix(10))), (["--follow", "-n", "3"], Array(all.suffix(3))), (["-f", "--from-start"], all),
            (["-f", "-n", "+5", "--final-only"], Array(finals.dropFirst(4))), (["-f", "--latest", "-n", "2"], Array(finals.suffix(2))),
        ]
        for (extra, expected) in cases {
            let tail = try Background(["tail", "p.jsonl", "--state", "s", "--poll-interval", "0.01"] + extra, in: dir)
            #expect(tail.endsBy(within: 30), "\(extra): it did not end by itself")
            #expect(tail.process.terminationStatus == 0 && tail.stderr.isEmpty, "\(extra): \(tail.stderr)")
            #expect(tail.lines == expected, "\(extra): \(tail.lines.count) lines, expected \(expected.count)")
        }
    }

    /// --keep-following, a default state folder of another output (silently) and a named one (said once):
    /// tail follows until stopped; the default state folder of the followed file's finished run ends it.
    @Test func keepFollowingAndStateFoldersOfAnotherOutputFollowOn() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let all = try finishedRun(in: dir)
        // A line being written when tail starts: held back, then printed whole once its newline arrives.
        let handle = try FileHandle(forWritingTo: dir.appendingPathComponent("p.jsonl"))
        try handle.seekToEnd()
        handle.write(Data(all[0].prefix(500).utf8))
        let kept = try Background(["tail", "-f", "p.jsonl", "--state", "s", "--keep-following", "--poll-interval", "0.01"], in: dir)
        Thread.sleep(forTimeInterval: 1)
        #expect(kept.process.isRunning)
        #expect(kept.lines == Array(all.suffix(10)))
        handle.write(Data((all[0].dropFirst(500) + "\n").utf8))
        try handle.close()
        #expect(kept.waitFor { kept.lines.count == 11 })
        #expect(kept.interrupt() == 0)
        #expect(kept.lines == Array(all.suffix(10)) + [all[0]])

        let outer = try Harness.archive()
        #expect(try Harness.run(["run", outer.path, "--state", "replay.state", "--out", "other.jsonl", "--quiet"], in: dir).status == 0)
        let silent = try Background(["tail", "-f", "p.jsonl", "--poll-interval", "0.01"], in: dir)
        let named = try Background(["tail", "-f", "p.jsonl", "--state", "replay.state", "--poll-interval", "0.01"], in: dir)
        #expect(named.waitFor { named.stderr.contains("replay: state replay.state is the state of a run writing other.jsonl, not p.jsonl; following p.jsonl until stopped (Ctrl-C)") }, "\(named.stderr)")
        Thread.sleep(forTimeInterval: 1)
        #expect(silent.process.isRunning && named.process.isRunning)
        #expect(silent.interrupt() == 0 && named.interrupt() == 0)
        #expect(silent.stderr.isEmpty, "\(silent.stderr)")
        let now = try lines(dir.appendingPathComponent("p.jsonl"))
        #expect(silent.lines == Array(now.suffix(10)) && named.lines == Array(now.suffix(10)))
        let other = try lines(dir.appendingPathComponent("other.jsonl"))
        let own = try Background(["tail", "-f", "other.jsonl", "--poll-interval", "0.01"], in: dir)
        #expect(own.endsBy(within: 30) && own.process.terminationStatus == 0)
        #expect(own.lines == Array(other.suffix(10)))
    }

    /// A real run writes p.jsonl while tails follow it: one started before the file exists (it waits, saying
    /// so, and prints the file from its top), one started mid-run (the last 10, then everything after). Both end
    /// by themselves when the run has finished, having printed what the file holds.
    @Test func followWaitsForTheFileAndEndsWhenItsRunFinishes() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        let early = try Background(["tail", "-f", "p.jsonl", "--state", "s", "--poll-interval", "0.01"], in: dir)
        #expect(early.waitFor { early.stderr == "replay: p.jsonl does not exist yet; waiting for it\n" }, "\(early.stderr)")
        let run = try Background(
            ["run", outer.path, "--state", "s", "--out", "p.jsonl", "--quiet", "--speed", "400000", "--checkpoint-every", "0.05"], in: dir)
        let panel = dir.appendingPathComponent("p.jsonl")
        #expect(run.waitFor { ((try? lines(panel)) ?? []).count >= 50 })
        let late = try Background(["tail", "--follow", "p.jsonl", "--state", "s", "--poll-interval", "0.01"], in: dir)
        #expect(run.endsBy(within: 120) && run.process.terminationStatus == 0, "\(run.stderr)")
        #expect(early.endsBy(within: 30) && early.process.terminationStatus == 0, "\(early.stderr)")
        #expect(late.endsBy(within: 30) && late.process.terminationStatus == 0, "\(late.stderr)")
        let file = try String(contentsOf: panel, encoding: .utf8)
        let all = file.split(separator: "\n")
        #expect(early.stdout == file)
        let printed = late.lines
        #expect(printed.count >= 10 && printed.count <= all.count - 40, "\(printed.count) of \(all.count)")
        #expect(printed == Array(all.suffix(printed.count)))
    }

    /// A live feed's tail ends when the feed's input has ended.
    @Test func followEndsWhenALiveFeedEnds() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fifo = dir.appendingPathComponent("feed.fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let rows = DocumentedFailures.feed(days: 4).split(separator: "\n").map { $0 + "\n" }
        let writer = Thread {
            guard let handle = FileHandle(forWritingAtPath: fifo) else { return }
            handle.write(Data(rows.prefix(4).joined().utf8))
            Thread.sleep(forTimeInterval: 0.5)
            handle.write(Data(rows.dropFirst(4).joined().utf8))
            try? handle.close()
        }
        let tail = try Background(["tail", "-f", "live.jsonl", "--from-start", "--state", "lv", "--poll-interval", "0.01"], in: dir)
        writer.start()
        let feed = try Harness.run(
            ["run", "-", "--state", "lv", "--out", "live.jsonl", "--quiet"], in: dir, stdin: URL(fileURLWithPath: fifo))
        #expect(feed.status == 0, "\(feed.stderr)")
        #expect(tail.endsBy(within: 30) && tail.process.terminationStatus == 0, "\(tail.stderr)")
        let file = try String(contentsOf: dir.appendingPathComponent("live.jsonl"), encoding: .utf8)
        #expect(!file.isEmpty && tail.stdout == file)
    }

    @Test func fieldsPrintTheChosenColumnsAsTheFileWritesThem() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let all = try finishedRun(in: dir)
        let names = ["user_id", "event_date", "avg_watch_ratio", "lag_1_interactions", "lead_1_active_day", "revision", "final"]
        let list = names.joined(separator: ",")
        let json = all.map { line in "{" + names.map { "\"\($0)\":\(value($0, in: line))" }.joined(separator: ",") + "}" }
        #expect(json.contains { $0.contains(":null") } && json.contains { $0.contains("\"lead_1_active_day\":1") })
        #expect(try tail(["p.jsonl", "--fields", list], in: dir).lines.map(String.init) == json)
        #expect(try tail(["p.jsonl", "--select", list, "-n", "3"], in: dir).lines.map(String.init) == json.suffix(3))
        let finalJSON = zip(all, json).filter { $0.0.hasSuffix("\"final\":true}") }.map(\.1)
        let forced = try tail(["p.jsonl", "--fields", list, "--format", "json", "--final-only", "-n", "+2"], in: dir)
        #expect(forced.lines.map(String.init) == Array(finalJSON.dropFirst()))
        func row(_ line: Substring, _ names: [String]) -> String {
            names.map { name in
                let text = value(name, in: line)
                return text == "null" ? "" : text.replacingOccurrences(of: "\"", with: "")
            }.joined(separator: "\t")
        }
        let tsv = try tail(["p.jsonl", "--fields", list, "--format", "tsv"], in: dir)
        let rows: [String] = [names.joined(separator: "\t")] + all.map { row($0, names) }
        #expect(tsv.lines.map(String.init) == rows)
        // --format tsv alone: every column, in the file's order.
        let keys = all[0].matches(of: /"([a-z0-9_]+)":/).map { String($0.1) }
        let every = try tail(["p.jsonl", "--format", "tsv", "-n", "2"], in: dir)
        let everyRow: [String] = [keys.joined(separator: "\t")] + all.suffix(2).map { row($0, keys) }
        #expect(every.lines.map(String.init) == everyRow)
        // On a terminal, --fields prints TSV.
        if let terminal = try onATerminal(["tail", "p.jsonl", "--fields", "user_id,event_date,final", "-n", "1"], in: dir) {
            let expected = "user_id\tevent_date\tfinal\n" + row(all.last!, ["user_id", "event_date", "final"]) + "\n"
            #expect(terminal == expected)
        }
        let unknown = try tail(["p.jsonl", "--fields", "user_id,nope,avg"], in: dir)
        #expect(unknown.status == 64 && unknown.lines.isEmpty)
        #expect(unknown.stderr.contains("--fields: no such column: nope, avg. The columns: user_id, event_date, interactions,"), "\(unknown.stderr)")
        #expect(unknown.stderr.contains("treatment_high_watch_exposure, revision, final."), "\(unknown.stderr)")
        let twice = try tail(["p.jsonl", "--fields", "user_id,final,user_id"], in: dir)
        #expect(twice.status == 64 && twice.stderr.contains("--fields names user_id twice"), "\(twice.stderr)")
        #expect(try tail(["p.jsonl", "--fields", "user_id", "--format", "csv"], in: dir).status == 64)
    }

    @Test func helpShowsTheUnixFormsTheOrderRuleAndExamples() throws {
        let help = try Harness.run(["tail", "--help"], in: Harness.temporaryDirectory()).stdout
        for text in [
            "-n, --lines <N|+N>", "-f, --follow", "--from-start", "--keep-following", "--state <dir>",
            "--fields, --select <names>", "--format <format>", "ordered by event_date then user_id",
            "replay export orders its CSV by user_id then", "Examples:", "replay tail -n 20 panel.jsonl",
        ] {
            #expect(help.contains(text), "\(text)")
        }
    }

    /// What `replay ARGUMENTS` prints with standard output on a terminal (a pseudo-terminal made by util-linux's
    /// `script`), line ends as `\n`; nil where there is no `script`.
    func onATerminal(_ arguments: [String], in dir: URL) throws -> String? {
        let script = "/usr/bin/script"
        guard FileManager.default.isExecutableFile(atPath: script) else { return nil }
        let command = ([Harness.binary.path] + arguments).map { "'\($0)'" }.joined(separator: " ")
        let r = try shell("'\(script)' -qec \"\(command)\" /dev/null", in: dir)
        return r.stdout.replacingOccurrences(of: "\r\n", with: "\n")
    }
}

/// A `replay` command running in the background, printing into files of its folder.
final class Background {
    let process = Process()
    private let out: URL
    private let err: URL

    init(_ arguments: [String], in dir: URL) throws {
        let name = UUID().uuidString
        out = dir.appendingPathComponent("bg-\(name).out")
        err = dir.appendingPathComponent("bg-\(name).err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.executableURL = Harness.binary
        process.arguments = arguments
        process.currentDirectoryURL = dir
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
    }

    var stdout: String { (try? String(contentsOf: out, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: err, encoding: .utf8)) ?? "" }
    var lines: [Substring] { stdout.split(separator: "\n") }

    /// True once `condition` holds, checked every 10 ms for up to 30 s.
    func waitFor(_ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(30)
        while !condition() {
            if Date() > deadline { return false }
            usleep(10_000)
        }
        return true
    }

    /// True when the process ends by itself within `seconds`; otherwise it is killed.
    func endsBy(within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        guard process.isRunning else { return true }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return false
    }

    /// Stops the process with SIGINT; its exit status.
    func interrupt() -> Int32 {
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        return process.terminationStatus
    }
}
