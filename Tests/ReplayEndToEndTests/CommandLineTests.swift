import Foundation
import Testing

/// The command line's conventions: --version, help with titled groups and examples, one rule for `-`, one
/// default state folder, status --json, a suggestion for a mistyped subcommand, readable summaries and a
/// progress line that moves on its own and fits the terminal.
@Suite(.serialized) struct CommandLineTests {
    typealias Files = DocumentedFailures

    static let subcommands = ["run", "generate", "status", "tail", "report", "inspect", "export"]

    @Test func versionNamesTheStateFormat() throws {
        let r = try Harness.run(["--version"], in: FileManager.default.temporaryDirectory)
        #expect(r.status == 0)
        #expect(r.stdout.firstMatch(of: /^replay \d+\.\d+\.\d+ \(state format version \d+\)\n$/) != nil, "\(r.stdout)")
    }

    @Test func everyHelpEndsWithItsExamplesAndRunsOptionsAreGrouped() throws {
        let dir = FileManager.default.temporaryDirectory
        for name in Self.subcommands {
            for arguments in [[name, "--help"], ["help", name]] {
                let r = try Harness.run(arguments, in: dir)
                #expect(r.status == 0, "\(arguments)")
                let examples = try #require(r.stdout.range(of: "\nEXAMPLES:\n"), "\(arguments): \(r.stdout)")
                let lines = r.stdout[examples.upperBound...].split(separator: "\n")
                #expect(lines.count >= 2 && lines.allSatisfy { $0.hasPrefix("  ") }, "\(arguments)")
                #expect(lines.allSatisfy { $0.contains("replay \(name)") || $0.contains("| replay") }, "\(arguments): \(lines)")
            }
        }
        let run = try Harness.run(["run", "--help"], in: dir).stdout
        let titles = ["INPUT:", "OUTPUT:", "THRESHOLDS:", "PACING AND PROGRESS:", "LIVE INPUT (INPUT -):", "STATE AND CHECKPOINTS:", "DIAGNOSTICS:"]
        let positions = titles.compactMap { run.range(of: "\n\($0)\n")?.lowerBound }
        #expect(positions.count == titles.count && positions == positions.sorted(), "\(run)")
        // --state and --out come before the live-only options.
        #expect(run.range(of: "--out <out>")!.lowerBound < run.range(of: "  --allowed-lateness <duration>")!.lowerBound)
    }

    @Test func aMistypedSubcommandGetsTheNearestOne() throws {
        let dir = FileManager.default.temporaryDirectory
        let r = try Harness.run(["rnu", "x.zip"], in: dir)
        #expect(r.status == 64)
        #expect(r.stderr.contains("'rnu' is not a replay subcommand. Did you mean 'run'?"), "\(r.stderr)")
        let far = try Harness.run(["frobnicate"], in: dir)
        #expect(far.status == 64 && far.stderr.contains("the subcommands are run, generate, status, tail, report, inspect, export"), "\(far.stderr)")
        #expect(try Harness.run(["exprot", "p.jsonl", "--csv", "-"], in: dir).stderr.contains("Did you mean 'export'?"))
    }

    @Test func theDefaultStateFolderIsTheSameEverywhereAndStatusSpeaksJSON() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Files.write(Files.log(days: 4), "in.csv", in: dir)
        #expect(try Harness.run(["run", "in.csv", "--until", "2020-07-06", "--quiet"], in: dir).status == 0)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("replay.state/lmdb/data.mdb").path))
        let text = try Harness.run(["status"], in: dir)
        #expect(text.status == 0 && text.stdout.contains("state:            replay.state"), "\(text.stdout)")
        let json = try Harness.run(["status", "--json"], in: dir)
        #expect(json.status == 0)
        let facts = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(facts["state"] as? String == "replay.state" && facts["finished"] as? Bool == false)
        #expect(facts["last_closed_day"] as? String == "2020-07-06" && facts["input_bytes"] as? Int ?? 0 > 0)
        let records = try #require(facts["records_written"] as? Int)
        #expect(text.stdout.contains("records written:  \(records) lines"), "\(text.stdout)")
        #expect(facts.keys.contains("held_by") && facts["held_by"] is NSNull)
        let report = try Harness.run(["report", "--json", "-"], in: dir)
        #expect(report.status == 0 && report.stdout.hasPrefix("{"), "\(report.stderr)")
    }

    @Test func aDashIsStandardOutputForEveryOutputOption() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Files.write([Files.header, Files.row(), "1,2,100,200,x,,,0.5"].joined(separator: "\n") + "\n", "in.csv", in: dir)
        let cases: [([String], String)] = [
            (["run", "in.csv", "--state", "a", "--out", "-", "--quiet"], "\"user_id\":1"),
            (["run", "in.csv", "--state", "b", "--out", "b.jsonl", "--rejects", "-", "--quiet"], "\"reason\":\"missing_time\""),
            (["run", "in.csv", "--state", "c", "--out", "c.jsonl", "--summary-json", "-", "--quiet"], "\"rows_read\""),
            (["report", "--state", "c", "--json", "-"], "\"report\""),
            (["report", "--state", "c", "--html", "-"], "<html"),
            (["report", "--state", "c", "--readiness-csv", "-"], ","),
            (["export", "c.jsonl", "--csv", "-", "--quiet"], "user_id,event_date"),
            (["generate", "--users", "2", "--videos", "2", "--days", "2", "--out", "-"], "PK"),
        ]
        for (arguments, expected) in cases {
            let r = try Harness.run(arguments, in: dir)
            #expect(r.status == 0, "\(arguments): \(r.stderr)")
            #expect(r.stdout.contains(expected), "\(arguments): \(r.stdout.prefix(200))")
        }
        try Files.zip("x.zip", in: dir, [("KuaiRec 2.0/data/small_matrix.csv", Array(Files.log().utf8))])
        let inspect = try Harness.run(["inspect", "x.zip", "--json", "-"], in: dir)
        #expect(inspect.status == 0 && inspect.stdout.contains("inner_inventory") && !inspect.stdout.contains("Outer archive contents"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("-").path))
    }

    @Test func summariesAreReadableAndARerunOfAFinishedRunSaysSo() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let generated = try Harness.run(["generate", "--users", "20", "--videos", "30", "--days", "5", "--out", "new/folder/g.zip"], in: dir)
        #expect(generated.status == 0)
        #expect(generated.stderr.contains("replay: creating the folder new/folder"), "\(generated.stderr)")
        #expect(generated.stderr.firstMatch(of: /wrote new\/folder\/g\.zip \([0-9.]+ KiB\) in [0-9.]+ s/) != nil, "\(generated.stderr)")
        #expect(generated.stderr.contains("small_matrix.csv: 600 rows") && !generated.stderr.contains("GeneratorSummary("))
        let run = try Harness.run(["run", "new/folder/g.zip", "--state", "s", "--out", "p.jsonl"], in: dir)
        #expect(run.status == 0)
        #expect(run.stderr.firstMatch(of: /records written: +[0-9,]+ lines \(jsonl\), [0-9,]+ final, [0-9.]+ (KiB|MiB) → p\.jsonl/) != nil, "\(run.stderr)")
        #expect(run.stderr.contains("(finished: every record final)"))
        let again = try Harness.run(["run", "new/folder/g.zip", "--state", "s", "--out", "p.jsonl"], in: dir)
        #expect(again.status == 0 && again.stderr.contains("this run already finished"), "\(again.stderr)")
    }

    @Test(
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "script (util-linux) gives the run a terminal"),
        .disabled(if: Harness.binaryIsSanitized, "counts redraws in wall time; PacedRunTests runs the redrawing thread under the sanitizers"))
    func theProgressLineMovesEveryHalfSecondAndFitsTheTerminal() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Files.write(Files.log(days: 30), "in.csv", in: dir)
        // A terminal 60 columns wide (script gives the run one); a paced replay stopped after 6 s.
        let command = "stty cols 60; timeout -s INT 6 '\(Harness.binary.path)' run in.csv --state s --out p.jsonl --speed 3600"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qfec", command, "/dev/null"]
        process.currentDirectoryURL = dir
        let out = Pipe()
        process.standardOutput = out
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let draws = text.components(separatedBy: "\r\u{1B}[K").dropFirst().map { $0.components(separatedBy: CharacterSet(charactersIn: "\r\n"))[0] }
        let replay = draws.filter { $0.hasPrefix("replay day ") }
        #expect(replay.count >= 4, "\(draws)")  // seconds of a paced replay, redrawn every 0.5 s
        #expect(draws.allSatisfy { $0.count <= 59 }, "\(draws.filter { $0.count > 59 })")
        let clocks = Set(replay.compactMap { $0.firstMatch(of: /2020-07-05 \d\d:\d\d:\d\d/).map { String($0.output) } })
        #expect(clocks.count >= 3, "the simulated clock moves between redraws: \(replay)")
        #expect(replay.first?.hasPrefix("replay day 1 of 30 (") == true, "\(replay)")
    }
}
