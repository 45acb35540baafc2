import Foundation
import ReplayTestSupport
import Testing

/// Kill -9 at random moments, a full disk: the rerun of the same command must give the same bytes.
@Suite(.serialized) struct CrashResumeTests {
    /// Every output form: JSON lines and CSV, every revision and final records only (each form's file is cut
    /// back to its checkpoint the same way; a CSV's header is written once).
    @Test(
        .disabled(if: Harness.binaryIsSanitized, "two dozen kills of a big-matrix run are too slow under TSan; tools/fault-test kills 100"),
        arguments: [[], ["--format", "csv"], ["--emit", "final"], ["--format", "csv", "--emit", "final"]])
    func killNineAnywhereThenRerunGivesIdenticalBytes(form: [String]) throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive(users: 40, videos: 300, days: 20, seed: 5)
        let common = ["run", outer.path, "--matrix", "big", "--checkpoint-every", "0.002", "--quiet"] + form
        let wantedKills = form.isEmpty ? 24 : 6
        let reference = try Harness.run(common + ["--state", "ref", "--out", "ref.jsonl"], in: dir)
        #expect(reference.status == 0)
        // Each round below starts with --fresh, which reuses the ordered event log: the kill delays are
        // drawn from the time of such a run, not of the first one (which also ingests).
        let started = Date()
        let rerun = try Harness.run(common + ["--state", "ref", "--out", "ref.jsonl", "--fresh"], in: dir)
        #expect(rerun.status == 0)
        let duration = max(0.05, Date().timeIntervalSince(started))
        let expected = try Data(contentsOf: dir.appendingPathComponent("ref.jsonl"))

        // The kill delays are seeded fractions of a run's time (the run's own speed still varies).
        let seed = testSeed(default: 42)
        var rng = SeededGenerator(seed: seed)
        var kills = 0
        var rounds = 0
        while kills < wantedKills && rounds < 60 {
            rounds += 1
            var first = true
            var killedThisRound = 0
            while true {
                let process = Process()
                process.executableURL = Harness.binary
                process.arguments = common + ["--state", "k", "--out", "k.jsonl"] + (first ? ["--fresh"] : [])
                process.currentDirectoryURL = dir
                let stderr = Pipe()  // --quiet: only an error is written, far less than a pipe holds
                process.standardError = stderr
                first = false
                try process.run()
                Thread.sleep(forTimeInterval: rng.unit() * duration)
                // At most three kills a round: under load a run can take longer than every drawn delay, and the
                // round would never end.
                if process.isRunning && killedThisRound < 3 {
                    kill(process.processIdentifier, SIGKILL)
                    process.waitUntilExit()
                    if process.terminationReason == .uncaughtSignal {
                        kills += 1
                        killedThisRound += 1
                    }
                    continue
                }
                process.waitUntilExit()
                let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                #expect(process.terminationStatus == 0, "seed \(seed): round \(rounds): \(message)")
                break
            }
            let got = try Data(contentsOf: dir.appendingPathComponent("k.jsonl"))
            #expect(got == expected, "seed \(seed) \(form): round \(rounds) after \(kills) kills")
        }
        #expect(kills >= wantedKills * 5 / 6, "seed \(seed) \(form): \(kills) kills in \(rounds) rounds")
    }

    /// Without `--dedupe` the diagnostics' second pass runs beside the replay and the ingest is recorded at the
    /// replay's first checkpoint: a run killed -9 while it replays, before that checkpoint, leaves no complete
    /// ingest, and its rerun ingests again and ends with an uninterrupted run's bytes (final records as CSV, and
    /// every revision as JSON lines).
    @Test(arguments: [["--format", "csv", "--emit", "final"], ["--format", "jsonl"]])
    func aRunKilledBeforeItsFirstCheckpointIngestsAgainToTheSameBytes(form: [String]) throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive().path
        let common = ["run", outer] + form + ["--checkpoint-every", "1h", "--quiet"]
        #expect(try Harness.run(common + ["--state", "ref", "--out", "ref.out"], in: dir).status == 0)
        let process = Process()
        process.executableURL = Harness.binary
        // Paced (a simulated day a second): the replay is still going, with no checkpoint, when it is killed.
        process.arguments = common + ["--state", "s", "--out", "p.out", "--speed", "86400"]
        process.currentDirectoryURL = dir
        process.standardError = FileHandle.nullDevice
        try process.run()
        let output = dir.appendingPathComponent("p.out")
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: output.path) && process.isRunning && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        Thread.sleep(forTimeInterval: 1)  // the replay opened its output: let the second pass end beside it
        #expect(process.isRunning, "the paced run ended before it was killed")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let status = try Harness.run(["status", "--state", "s", "--json"], in: dir)
        #expect(status.stdout.contains("\"ingest_complete\":false") || status.stdout.contains("\"ingest_complete\" : false"), "\(status.stdout)")
        let rerun = try Harness.run(common + ["--state", "s", "--out", "p.out"], in: dir)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(try Data(contentsOf: output) == Data(contentsOf: dir.appendingPathComponent("ref.out")))
    }

    /// A `--fresh` run claims the output it will start anew in the same transaction that resets its state folder: one
    /// killed -9 after the reset, before it opens the output (here while it ingests again, `--dedupe` being another
    /// ingest), leaves a state whose plain rerun cuts that file back and ends with an uninterrupted run's bytes
    /// instead of refusing the file as another run's.
    ///
    /// A `--dedupe` run records its ingest complete before its replay opens the output, so a state that `status`
    /// shows with an incomplete ingest after the kill was killed before the output was opened. A kill that came
    /// later (the poll saw the reset, and the ingest ended before the signal) proves nothing: the state is made a
    /// plain run's again (a `--fresh` run would reuse the `--dedupe` ingest it completed) and the kill is tried again.
    @Test func aFreshRunKilledBeforeItOpensItsOutputLeavesAStateItsPlainRerunFinishes() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive(users: 40, videos: 300, days: 20, seed: 5)
        let common = ["run", outer.path, "--matrix", "big", "--quiet"]
        #expect(try Harness.run(common + ["--dedupe", "--state", "ref", "--out", "ref.jsonl"], in: dir).status == 0)
        #expect(try Harness.run(common + ["--state", "s", "--out", "p.jsonl"], in: dir).status == 0)
        let output = dir.appendingPathComponent("p.jsonl")

        var killedWhileIngesting = false
        var attempts: [String] = []
        for attempt in 0..<8 where !killedWhileIngesting {
            if attempt > 0 {
                #expect(try Harness.run(common + ["--fresh", "--state", "s", "--out", "p.jsonl"], in: dir).status == 0)
            }
            let before = try Data(contentsOf: output)
            let process = Process()
            process.executableURL = Harness.binary
            process.arguments = common + ["--dedupe", "--fresh", "--state", "s", "--out", "p.jsonl"]
            process.currentDirectoryURL = dir
            let stderr = Pipe()
            process.standardError = stderr
            try process.run()
            // The reset is seen as a state whose ingest is not complete; the kill comes while the run ingests again.
            let deadline = Date().addingTimeInterval(60)
            var reset = false
            while !reset && process.isRunning && Date() < deadline {
                reset = try Harness.run(["status", "--state", "s", "--json"], in: dir).stdout.contains("\"ingest_complete\":false")
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let after = try Harness.run(["status", "--state", "s", "--json"], in: dir).stdout
            guard reset, process.terminationReason == .uncaughtSignal, after.contains("\"ingest_complete\":false") else {
                attempts.append("reset seen: \(reset), killed: \(process.terminationReason == .uncaughtSignal), \(message)")
                continue
            }
            killedWhileIngesting = true
            #expect(try Data(contentsOf: output) == before, "the run opened its output before it was killed")
        }
        #expect(killedWhileIngesting, "no run was killed while it ingested: \(attempts)")

        let rerun = try Harness.run(common + ["--dedupe", "--state", "s", "--out", "p.jsonl"], in: dir)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(try Data(contentsOf: output) == Data(contentsOf: dir.appendingPathComponent("ref.jsonl")))
    }

    @Test func sigintStopsWithACheckpointAndSaysHowToResume() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive(users: 40, videos: 300, days: 20, seed: 5)
        let common = ["run", outer.path, "--matrix", "big"]
        #expect(try Harness.run(common + ["--state", "ref", "--out", "ref.jsonl", "--quiet"], in: dir).status == 0)
        var interrupted = 0
        var delay = 0.02
        for attempt in 0..<12 where interrupted < 2 {
            let process = Process()
            process.executableURL = Harness.binary
            process.arguments = common + ["--state", "s", "--out", "p.jsonl"] + (attempt == 0 ? ["--fresh"] : [])
            process.currentDirectoryURL = dir
            let err = Pipe()
            process.standardError = err
            try process.run()
            Thread.sleep(forTimeInterval: delay)
            kill(process.processIdentifier, SIGINT)
            let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            if process.terminationStatus == 130 {
                interrupted += 1
                #expect(message.contains("rerun the same command"), "\(message)")
            } else {
                #expect(process.terminationStatus == 0, "\(message)")
                delay /= 2
                _ = try Harness.run(common + ["--state", "s", "--out", "p.jsonl", "--fresh", "--quiet", "--until", "2020-07-05"], in: dir)
            }
        }
        #expect(interrupted >= 1)
        #expect(try Harness.run(common + ["--state", "s", "--out", "p.jsonl", "--quiet"], in: dir).status == 0)
        #expect(try Data(contentsOf: dir.appendingPathComponent("p.jsonl")) == Data(contentsOf: dir.appendingPathComponent("ref.jsonl")))
    }

    @Test(.disabled(if: Harness.binaryStopsUnderAFileSizeLimit, "a file-size limit stops ThreadSanitizer's runtime"))
    func fullDiskEndsWithAClearErrorAndTheRerunResumes() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        let reference = try Harness.run(["run", outer.path, "--state", "ref", "--out", "ref.jsonl", "--quiet"], in: dir)
        #expect(reference.status == 0)
        let expected = try Data(contentsOf: dir.appendingPathComponent("ref.jsonl"))
        // A file-size limit makes writes past it fail with EFBIG, as a full disk fails with ENOSPC.
        var sawDiskFull = false
        for blocks in [64, 600, 1200, 2400] {
            let limited = Process()
            limited.executableURL = URL(fileURLWithPath: "/bin/sh")
            limited.arguments = [
                "-c",
                "trap '' XFSZ; ulimit -f \(blocks); exec '\(Harness.binary.path)' run '\(outer.path)' --state s --out p.jsonl --checkpoint-every 0.001",
            ]
            limited.currentDirectoryURL = dir
            let err = Pipe()
            limited.standardError = err
            try limited.run()
            let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            limited.waitUntilExit()
            if limited.terminationStatus == 5 {
                sawDiskFull = true
                #expect(message.contains("free some space") || message.contains("File too large"), "\(message)")
            } else {
                #expect(limited.terminationStatus == 0, "\(message)")
            }
        }
        #expect(sawDiskFull)
        let rerun = try Harness.run(["run", outer.path, "--state", "s", "--out", "p.jsonl", "--quiet"], in: dir)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(try Data(contentsOf: dir.appendingPathComponent("p.jsonl")) == expected)
    }
}
