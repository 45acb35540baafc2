import Foundation
import Testing

/// The state folder belongs to replay, and only its own files: a folder replay did not make is refused,
/// `--fresh` included, and nothing in it is touched (docs/SEMANTICS.md, "The state folder").
@Suite(.serialized) struct StateOwnershipTests {
    /// Every entry under `dir` with its bytes (folders as a tag).
    private static func snapshot(_ dir: URL) -> [String: Data] {
        var files: [String: Data] = [:]
        for path in FileManager.default.subpaths(atPath: dir.path) ?? [] {
            files[path] = FileManager.default.contents(atPath: dir.appendingPathComponent(path).path) ?? Data("folder".utf8)
        }
        return files
    }

    @Test func aFolderReplayDidNotMakeIsRefusedFreshIncludedAndLeftUntouched() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive().path
        // The user's own folder, with entries named as replay's (events/) beside others.
        let mine = dir.appendingPathComponent("mine")
        try FileManager.default.createDirectory(at: mine.appendingPathComponent("events"), withIntermediateDirectories: true)
        try Data("my events".utf8).write(to: mine.appendingPathComponent("events/day-18448.events"))
        try Data("keep me".utf8).write(to: mine.appendingPathComponent("notes.txt"))
        let before = Self.snapshot(mine)
        for fresh in [[], ["--fresh"]] {
            let r = try Harness.run(["run", outer, "--state", "mine", "--out", "p.jsonl"] + fresh, in: dir)
            #expect(r.status == 4, "\(fresh): \(r.stderr)")
            #expect(r.stderr.contains("state mine: the folder is not empty and replay did not make it"), "\(r.stderr)")
            #expect(r.stderr.contains("events, notes.txt"), "\(r.stderr)")
            #expect(Self.snapshot(mine) == before, "\(fresh): the folder was changed")
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("p.jsonl").path))
        }
        // --state . in a folder of the user's (the output outside it).
        try FileManager.default.copyItem(atPath: outer, toPath: mine.appendingPathComponent("in.zip").path)
        let withArchive = Self.snapshot(mine)
        for fresh in [[], ["--fresh"]] {
            let r = try Harness.run(["run", "in.zip", "--state", ".", "--out", "../dot.jsonl"] + fresh, in: mine)
            #expect(r.status == 4 && r.stderr.contains("state .: the folder is not empty"), "\(fresh): \(r.stderr)")
            #expect(Self.snapshot(mine) == withArchive, "\(fresh): the folder was changed")
        }
    }

    @Test func aFolderReplayMadeIsMarkedResumesAndFreshDeletesOnlyReplaysFiles() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive().path
        #expect(try Harness.run(["run", outer, "--state", "ref", "--out", "ref.jsonl", "--quiet"], in: dir).status == 0)
        let expected = try Data(contentsOf: dir.appendingPathComponent("ref.jsonl"))
        let marker = try String(contentsOf: dir.appendingPathComponent("ref/replay-state"), encoding: .utf8)
        #expect(marker == "replay state folder, format 1\n")
        // A new folder, and an empty one, become replay's; a stopped run resumes.
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("s"), withIntermediateDirectories: true)
        let stopped = try Harness.run(["run", outer, "--state", "s", "--out", "p.jsonl", "--until", "2020-07-07", "--quiet"], in: dir)
        #expect(stopped.status == 0, "\(stopped.stderr)")
        let resumed = try Harness.run(["run", outer, "--state", "s", "--out", "p.jsonl"], in: dir)
        #expect(resumed.status == 0 && resumed.stderr.contains("resuming"), "\(resumed.stderr)")
        #expect(try Data(contentsOf: dir.appendingPathComponent("p.jsonl")) == expected)
        // An older replay's state (no marker) still resumes, and is marked.
        try FileManager.default.removeItem(at: dir.appendingPathComponent("s/replay-state"))
        #expect(try Harness.run(["run", outer, "--state", "s", "--out", "p.jsonl", "--quiet"], in: dir).status == 0)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("s/replay-state").path))
        // --fresh in replay's folder: starts over, the user's file beside replay's is left alone.
        try Data("keep me".utf8).write(to: dir.appendingPathComponent("s/notes.txt"))
        let fresh = try Harness.run(["run", outer, "--state", "s", "--out", "p.jsonl", "--thresholds", "expanding", "--fresh", "--quiet"], in: dir)
        #expect(fresh.status == 0, "\(fresh.stderr)")
        #expect(try String(contentsOf: dir.appendingPathComponent("s/notes.txt"), encoding: .utf8) == "keep me")
        let entries = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("s").path).sorted()
        #expect(entries == ["events", "lmdb", "lock", "notes.txt", "rejects.jsonl", "replay-state", "snapshots"])
    }
}
