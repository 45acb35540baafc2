import Foundation
import ReplayRun
import Testing

/// The one rule for a command's paths: no output is an input, another output, or inside the state folder.
struct PathClaimsTests {
    /// A folder with `in.csv` and a state folder `s/lmdb/data.mdb`, made in the test.
    private static func folder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("replay-claims-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("s/lmdb"), withIntermediateDirectories: true)
        try Data("user_id\n".utf8).write(to: dir.appendingPathComponent("in.csv"))
        try Data().write(to: dir.appendingPathComponent("s/lmdb/data.mdb"))
        return dir
    }

    /// Checks claims for `input` (read), the state folder `s` and `outputs` (written), relative to `dir`.
    private static func check(_ dir: URL, input: String = "in.csv", outputs: [(String, String)]) -> PathCollision? {
        var claims = PathClaims()
        let path = { (p: String) in p == "-" || p.hasPrefix("/") ? p : dir.path + "/" + p }
        claims.reads(path(input), as: "INPUT")
        claims.stateFolder(path("s"), as: "--state")
        for (option, output) in outputs { claims.writes(path(output), as: option) }
        do {
            try claims.check()
            return nil
        } catch {
            return error
        }
    }

    @Test func anOutputThatIsTheInputIsRefusedHoweverItIsSpelled() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/link.csv", withDestinationPath: "in.csv")
        try FileManager.default.linkItem(atPath: dir.path + "/in.csv", toPath: dir.path + "/hard.csv")
        for spelling in ["in.csv", "./in.csv", "s/../in.csv", "new/../in.csv", "link.csv", "hard.csv"] {
            let collision = Self.check(dir, outputs: [("--out", spelling)])
            #expect(collision?.kind == .sameFile, "\(spelling)")
            #expect(collision?.output.option == "--out" && collision?.other.option == "INPUT", "\(spelling)")
        }
        #expect(Self.check(dir, outputs: [("--out", "panel.jsonl")]) == nil)
    }

    @Test func twoOutputsOnOneFileAreRefusedNamingBoth() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let collision = Self.check(dir, outputs: [("--out", "p.jsonl"), ("--summary-json", "./p.jsonl")])
        #expect(collision?.kind == .sameFile)
        #expect(collision?.description == "--summary-json and --out are the same file (\(dir.path)/./p.jsonl)")
        #expect(Self.check(dir, outputs: [("--out", "p.jsonl"), ("--rejects", "r.jsonl")]) == nil)
    }

    @Test func anOutputInsideTheStateFolderIsRefused() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/state-link", withDestinationPath: "s")
        for inside in ["s", "s/lmdb/data.mdb", "s/lock", "s/snapshots/x", "s/new/deeper/file", "state-link/lock"] {
            let collision = Self.check(dir, outputs: [("--report", inside)])
            #expect(collision?.kind == .insideStateFolder, "\(inside)")
            #expect(collision?.other.option == "--state", "\(inside)")
        }
        #expect(Self.check(dir, outputs: [("--report", "s-report.html")]) == nil)
    }

    @Test func standardStreamsAndDevicesNeverCollideButTwoOutputsCannotBothBeStandardOutput() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let devices = [("--out", "/dev/null"), ("--rejects", "/dev/null"), ("--summary-json", "/dev/full"), ("--report", "-")]
        #expect(Self.check(dir, input: "-", outputs: devices) == nil)
        #expect(Self.check(dir, input: "-", outputs: [("--out", "-")]) == nil)
        let both = Self.check(dir, outputs: [("--out", "-"), ("--summary-json", "-")])
        #expect(both?.kind == .bothStandardOutput && both?.output.option == "--summary-json" && both?.other.option == "--out")
    }
}
