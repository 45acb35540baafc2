import Foundation
import Testing

/// Outputs that would destroy an input, another output or the state folder are refused (exit 64) before
/// anything is read or written, naming both options (docs/ERRORS.md, "Paths that collide").
@Suite(.serialized) struct PathCollisionTests {
    /// A folder holding `in.zip` (the archive) and `in.csv` (its small matrix).
    private static func folder() throws -> URL {
        let dir = Harness.temporaryDirectory()
        let outer = try Harness.archive()
        try FileManager.default.copyItem(at: outer, to: dir.appendingPathComponent("in.zip"))
        let unpacked = dir.appendingPathComponent("unpacked")
        try Harness.unpack(outer, innerZip: unpacked.appendingPathComponent("KuaiRec.zip"), folder: unpacked)
        try FileManager.default.moveItem(
            at: unpacked.appendingPathComponent("KuaiRec 2.0/data/small_matrix.csv"), to: dir.appendingPathComponent("in.csv"))
        try FileManager.default.removeItem(at: unpacked)
        return dir
    }

    /// Runs `arguments` in `dir` and expects a refusal naming `options`, with no file changed or made.
    private static func expectRefused(
        _ arguments: [String], naming options: [String], in dir: URL, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let before = try snapshot(dir)
        let r = try Harness.run(arguments, in: dir)
        #expect(r.status == 64, "\(arguments): \(r.stderr)", sourceLocation: sourceLocation)
        for option in options {
            #expect(r.stderr.contains(option), "\(arguments): expected \(option) in \(r.stderr)", sourceLocation: sourceLocation)
        }
        #expect(try snapshot(dir) == before, "\(arguments) changed files", sourceLocation: sourceLocation)
    }

    /// ``expectRefused(_:naming:in:sourceLocation:)`` in a new folder of its own (``folder()``), prepared by
    /// `setup`: each case shows its own collision, whatever an earlier one did.
    private static func expectRefusedInAFolderOfItsOwn(
        _ arguments: [String], naming options: [String], setup: (URL) throws -> Void = { _ in },
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        try setup(dir)
        try expectRefused(arguments, naming: options, in: dir, sourceLocation: sourceLocation)
    }

    /// Every file under `dir` with its bytes (symlinks by their destination).
    private static func snapshot(_ dir: URL) throws -> [String: Data] {
        var files: [String: Data] = [:]
        let paths = FileManager.default.subpaths(atPath: dir.path) ?? []
        for path in paths {
            let full = dir.appendingPathComponent(path).path
            if let link = try? FileManager.default.destinationOfSymbolicLink(atPath: full) {
                files[path] = Data(("→" + link).utf8)
            } else if let data = FileManager.default.contents(atPath: full) {
                files[path] = data
            } else {
                files[path] = Data("folder".utf8)
            }
        }
        return files
    }

    @Test func anOutputThatIsTheInputOrAnotherOutputIsRefused() throws {
        let run = ["run", "--quiet"]
        let refused = { (arguments: [String], options: [String]) in
            try Self.expectRefusedInAFolderOfItsOwn(arguments, naming: options)
        }
        try refused(run + ["in.csv", "--out", "in.csv"], ["--out and INPUT", "same file"])
        try refused(run + ["in.zip", "--rejects", "in.zip"], ["--rejects and INPUT"])
        try refused(run + ["in.csv", "--summary-json", "./in.csv"], ["--summary-json and INPUT"])
        try refused(run + ["in.zip", "--out", "p.jsonl", "--summary-json", "p.jsonl"], ["--summary-json and --out"])
        try refused(run + ["in.zip", "--out", "p.jsonl", "--report", "x/../p.jsonl"], ["--report and --out"])
        try refused(run + ["in.zip", "--out", "p.jsonl", "--rejects", "p.jsonl"], ["--rejects and --out"])
        try refused(run + ["-", "--out", "p.jsonl", "--rejects", "p.jsonl"], ["--rejects and --out"])
        try refused(run + ["in.zip", "--out", "-", "--summary-json", "-"], ["--summary-json and --out", "standard output"])
        try refused(["inspect", "in.zip", "--json", "./in.zip"], ["--json and INPUT"])
        // A symlink and a hard link to the input.
        try Self.expectRefusedInAFolderOfItsOwn(run + ["in.csv", "--out", "link.csv"], naming: ["--out and INPUT"]) { dir in
            try FileManager.default.createSymbolicLink(atPath: dir.path + "/link.csv", withDestinationPath: "in.csv")
        }
        try Self.expectRefusedInAFolderOfItsOwn(run + ["in.csv", "--out", "hard.csv"], naming: ["--out and INPUT"]) { dir in
            try FileManager.default.linkItem(atPath: dir.path + "/in.csv", toPath: dir.path + "/hard.csv")
        }
        // Devices are written in place and collide with nothing.
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let devices = try Harness.run(
            run + ["in.zip", "--out", "p.jsonl", "--summary-json", "/dev/null", "--report", "/dev/null", "--state", "d"], in: dir)
        #expect(devices.status == 0, "\(devices.stderr)")
    }

    @Test func anOutputInsideTheStateFolderIsRefusedAndTheStateStillResumes() throws {
        // A new state folder: the output would be made inside it.
        for inside in ["s/lmdb/data.mdb", "s/lock", "s/snapshots/x", "./s", "s/sub/panel.jsonl"] {
            try Self.expectRefusedInAFolderOfItsOwn(
                ["run", "in.zip", "--state", "s", "--quiet", "--out", inside],
                naming: ["--out \(inside) is inside the state folder --state s"])
        }
        // An existing state folder (a stopped run), with the run's own --out: other outputs inside it are refused.
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = ["run", "in.zip", "--state", "s", "--out", "p.jsonl", "--quiet"]
        let first = try Harness.run(run + ["--until", "2020-07-07"], in: dir)
        #expect(first.status == 0, "\(first.stderr)")
        try Self.expectRefused(run + ["--summary-json", "s/summary.json"], naming: ["--summary-json", "--state"], in: dir)
        try Self.expectRefused(run + ["--rejects", "s/events/r.jsonl"], naming: ["--rejects", "--state"], in: dir)
        try Self.expectRefused(run + ["--report", "s/lock"], naming: ["--report", "--state"], in: dir)
        try Self.expectRefused(["report", "--state", "s", "--json", "s/lmdb/data.mdb"], naming: ["--json", "--state"], in: dir)
        let resumed = try Harness.run(run, in: dir)
        #expect(resumed.status == 0, "\(resumed.stderr)")
    }

    @Test func exportRefusesToWriteThePanelItReads() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try Harness.run(["run", "in.zip", "--out", "panel.jsonl", "--quiet"], in: dir).status == 0)
        try FileManager.default.linkItem(atPath: dir.path + "/panel.jsonl", toPath: dir.path + "/hard.jsonl")
        try Self.expectRefused(["export", "panel.jsonl", "--csv", "panel.jsonl"], naming: ["--csv and FILE"], in: dir)
        try Self.expectRefused(["export", "panel.jsonl", "--csv", "hard.jsonl"], naming: ["--csv and FILE"], in: dir)
    }

    @Test func dashIsStandardOutputForEveryOutputOption() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try Harness.run(["run", "in.zip", "--state", "s", "--out", "p.jsonl", "--summary-json", "-", "--quiet"], in: dir)
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        #expect(summary?["finished"] as? Bool == true)
        // A one-letter file name (Foundation's deletingLastPathComponent trapped on it).
        let oneLetter = try Harness.run(["run", "in.zip", "--state", "s", "--out", "p.jsonl", "--summary-json", "j", "--quiet"], in: dir)
        #expect(oneLetter.status == 0 && FileManager.default.fileExists(atPath: dir.path + "/j"), "\(oneLetter.stderr)")
        for option in ["--json", "--html", "--readiness-csv"] {
            let r = try Harness.run(["report", "--state", "s", option, "-"], in: dir)
            #expect(r.status == 0 && !r.stdout.isEmpty, "\(option): \(r.stderr)")
        }
        #expect(try Harness.run(["report", "--state", "s", "--json", "-"], in: dir).stdout.hasPrefix("{"))
        #expect(try Harness.run(["report", "--state", "s", "--html", "-"], in: dir).stdout.contains("<html"))
        let inspect = try Harness.run(["inspect", "in.zip", "--json", "-"], in: dir)
        #expect(inspect.status == 0, "\(inspect.stderr)")
        let inventory = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any]
        #expect(inventory?["outer_inventory"] != nil)
        let generate = try Harness.run(["generate", "--out", "-", "--users", "3", "--videos", "10", "--days", "2"], in: dir)
        #expect(generate.status == 0 && generate.stdout.utf8.starts(with: Array("PK".utf8)), "\(generate.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("-").path), "no file named -")
        try Self.expectRefused(["report", "--state", "s", "--json", "-", "--html", "-"], naming: ["--html and --json"], in: dir)
        let report = try Harness.run(["run", "in.zip", "--state", "s", "--out", "p.jsonl", "--report", "-"], in: dir)
        #expect(report.status == 64 && report.stderr.contains("--report"), "\(report.stderr)")
    }

    @Test func devicesAndSymlinksToStandardOutputAreWrittenInPlace() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Standard output redirected to a regular file, reached through a symlink as /dev/stdout is.
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/stdout", withDestinationPath: "/proc/self/fd/1")
        let redirected = dir.appendingPathComponent("redirected.json")
        _ = FileManager.default.createFile(atPath: redirected.path, contents: nil)
        let process = Process()
        process.executableURL = Harness.binary
        process.arguments = ["run", "in.zip", "--state", "s", "--out", "p.jsonl", "--summary-json", "stdout", "--quiet"]
        process.currentDirectoryURL = dir
        process.standardOutput = try FileHandle(forWritingTo: redirected)
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir.path + "/stdout") == "/proc/self/fd/1")
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: redirected)) as? [String: Any]
        #expect(summary?["finished"] as? Bool == true)
        // A full device fails with the disk-full code and stays the device.
        for option in ["--rejects", "--summary-json"] {
            let r = try Harness.run(["run", "in.zip", "--state", "full\(option)", "--out", "q.jsonl", option, "/dev/full", "--quiet"], in: dir)
            #expect(r.status == 5 && r.stderr.contains("/dev/full: write failed: No space left on device"), "\(option): \(r.stderr)")
            var status = stat()
            #expect(stat("/dev/full", &status) == 0 && status.st_mode & S_IFMT == S_IFCHR)
        }
    }
}
