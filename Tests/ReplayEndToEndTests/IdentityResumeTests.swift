import Foundation
import KuaiRecFixtures
import ReplayStream
import Testing

/// Issue 12, "Identity and resume": reruns do what the state folder says, and the input is the one the
/// state was made from by its content.
@Suite struct IdentityResumeTests {
    /// The last closed day `replay status` prints.
    private static func lastClosed(_ dir: URL) throws -> String {
        let status = try Harness.run(["status", "--state", "s"], in: dir)
        let line = status.stdout.split(separator: "\n").first { $0.hasPrefix("last closed day:") } ?? ""
        return String(line.dropFirst("last closed day:".count)).trimmingCharacters(in: .whitespaces)
    }

    @Test func aRerunWithTheSameUntilClosesNothingMore() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive().path
        let command = ["run", outer, "--state", "s", "--out", "p.jsonl", "--until", "2020-07-07"]
        #expect(try Harness.run(command, in: dir).status == 0)
        let first = try Data(contentsOf: dir.appendingPathComponent("p.jsonl"))
        #expect(try Self.lastClosed(dir) == "2020-07-07")
        for _ in 0..<2 {
            let again = try Harness.run(command, in: dir)
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stderr.contains("already stopped at --until 2020-07-07: nothing to do"), "\(again.stderr)")
            #expect(!again.stderr.contains("resuming"))
            #expect(try Self.lastClosed(dir) == "2020-07-07")
            #expect(try Data(contentsOf: dir.appendingPathComponent("p.jsonl")) == first)
        }
        // An earlier --until than the days already closed does nothing either.
        let earlier = try Harness.run(["run", outer, "--state", "s", "--out", "p.jsonl", "--until", "2020-07-06"], in: dir)
        #expect(earlier.status == 0 && earlier.stderr.contains("already stopped at --until 2020-07-06"))
        #expect(try Data(contentsOf: dir.appendingPathComponent("p.jsonl")) == first)
    }

    @Test func untilBeforeTheFirstDayClosesNothing() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive().path
        let r = try Harness.run(["run", outer, "--state", "s", "--out", "p.jsonl", "--until", "2020-06-01"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("--until 2020-06-01 is before the panel's first day"), "\(r.stderr)")
        #expect(try Self.lastClosed(dir) == "" || (try Self.lastClosed(dir)) == "none")
        let records = (try? Data(contentsOf: dir.appendingPathComponent("p.jsonl")))?.count ?? 0
        #expect(records == 0)
        // The same state then runs to the end like a new one.
        #expect(try Harness.run(["run", outer, "--state", "s", "--out", "p.jsonl", "--quiet"], in: dir).status == 0)
        #expect(try Harness.run(["run", outer, "--state", "t", "--out", "q.jsonl", "--quiet"], in: dir).status == 0)
        #expect(try Data(contentsOf: dir.appendingPathComponent("p.jsonl")) == Data(contentsOf: dir.appendingPathComponent("q.jsonl")))
    }

    @Test func aRerunOfAFinishedRunSaysItIsFinished() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive().path
        let command = ["run", outer, "--state", "s", "--out", "p.jsonl"]
        #expect(try Harness.run(command, in: dir).status == 0)
        let done = try Data(contentsOf: dir.appendingPathComponent("p.jsonl"))
        for extra in [[], ["--until", "2020-07-08"]] {
            let again = try Harness.run(command + extra, in: dir)
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stderr.contains("this run already finished"), "\(again.stderr)")
            #expect(!again.stderr.contains("resuming"), "\(again.stderr)")
            #expect(try Data(contentsOf: dir.appendingPathComponent("p.jsonl")) == done)
        }
    }

    @Test func freshWithAnotherRejectsFileWritesIt() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive().path
        #expect(try Harness.run(["run", outer, "--state", "s", "--out", "p.jsonl", "--quiet"], in: dir).status == 0)
        let rejects = try Data(contentsOf: dir.appendingPathComponent("s/rejects.jsonl"))
        #expect(!rejects.isEmpty)
        let fresh = try Harness.run(["run", outer, "--state", "s", "--out", "p.jsonl", "--fresh", "--rejects", "new.jsonl"], in: dir)
        #expect(fresh.status == 0, "\(fresh.stderr)")
        #expect(fresh.stderr.contains("rejects file:     new.jsonl"))
        #expect(try Data(contentsOf: dir.appendingPathComponent("new.jsonl")) == rejects)
        // The same rejects file again: the ordered event log is reused.
        let again = try Harness.run(["run", outer, "--state", "s", "--out", "p.jsonl", "--fresh", "--rejects", "new.jsonl"], in: dir)
        #expect(again.status == 0 && again.stderr.contains("reusing the ordered event log"), "\(again.stderr)")
        #expect(try Data(contentsOf: dir.appendingPathComponent("new.jsonl")) == rejects)
        // A resume (no --fresh) naming another rejects file is refused: the ingest would not write it.
        let other = try Harness.run(["run", outer, "--state", "s", "--out", "p.jsonl", "--rejects", "other.jsonl"], in: dir)
        #expect(other.status == 4 && other.stderr.contains("--rejects: the state has new.jsonl, this run has other.jsonl"), "\(other.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("other.jsonl").path))
        // A rejects file removed since is written again.
        try FileManager.default.removeItem(at: dir.appendingPathComponent("new.jsonl"))
        #expect(try Harness.run(["run", outer, "--state", "s", "--out", "p.jsonl", "--fresh", "--rejects", "new.jsonl", "--quiet"], in: dir).status == 0)
        #expect(try Data(contentsOf: dir.appendingPathComponent("new.jsonl")) == rejects)
    }

    /// The generated archive's matrix CSV, extracted to `dir/in.csv`.
    private static func matrixCSV(in dir: URL) throws -> URL {
        let unpacked = dir.appendingPathComponent("unpacked")
        try Harness.unpack(try Harness.archive(), innerZip: unpacked.appendingPathComponent("KuaiRec.zip"), folder: unpacked)
        let csv = dir.appendingPathComponent("in.csv")
        try FileManager.default.copyItem(at: unpacked.appendingPathComponent("KuaiRec 2.0/data/small_matrix.csv"), to: csv)
        return csv
    }

    /// `csv` with the last digit of the first fully dated row's play_duration changed: same size, another panel.
    private static func edited(_ csv: [UInt8]) -> [UInt8] {
        var bytes = csv
        let headerEnd = bytes.firstIndex(of: 0x0A)!
        let header = bytes[..<headerEnd].split(separator: 0x2C).map { String(decoding: $0, as: UTF8.self) }
        let column = header.firstIndex(of: "play_duration")!
        var lineStart = headerEnd + 1
        while let end = bytes[lineStart...].firstIndex(of: 0x0A) {
            let fields = bytes[lineStart..<end].split(separator: 0x2C, omittingEmptySubsequences: false)
            if fields.count == header.count, fields.allSatisfy({ !$0.isEmpty }) {
                let last = fields[column].endIndex - 1
                bytes[last] = bytes[last] == 0x35 ? 0x36 : 0x35
                return bytes
            }
            lineStart = end + 1
        }
        Issue.record("no row to edit")
        return bytes
    }

    /// Runs a system tool and waits for it.
    private static func tool(_ path: String, _ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    /// Replaces `file`'s bytes with `bytes` keeping its size and modification time (to the nanosecond).
    private static func replaceKeepingSizeAndTime(_ file: URL, with bytes: [UInt8], in dir: URL) throws {
        let reference = dir.appendingPathComponent("reference-time")
        try Self.tool("/bin/cp", "-p", file.path, reference.path)
        #expect(try Data(contentsOf: file).count == bytes.count)
        try Data(bytes).write(to: file)
        try Self.tool("/usr/bin/touch", "-r", reference.path, file.path)
        let a = try FileManager.default.attributesOfItem(atPath: file.path)
        let b = try FileManager.default.attributesOfItem(atPath: reference.path)
        #expect(a[.modificationDate] as? Date == b[.modificationDate] as? Date)
    }

    /// Runs on `input`, edits it keeping size and time, and checks that a resume is refused and `--fresh`
    /// gives the panel of a new state over the edited input.
    private static func checkContentIdentity(input: String, edit: () throws -> Void, in dir: URL) throws {
        let command = ["run", input, "--state", "s", "--out", "p.jsonl"]
        #expect(try Harness.run(command + ["--quiet"], in: dir).status == 0)
        let before = try Data(contentsOf: dir.appendingPathComponent("p.jsonl"))
        try edit()
        let resume = try Harness.run(command, in: dir)
        #expect(resume.status == 4, "\(resume.stderr)")
        #expect(resume.stderr.contains("input content: the state has"), "\(resume.stderr)")
        let fresh = try Harness.run(command + ["--fresh"], in: dir)
        #expect(fresh.status == 0, "\(fresh.stderr)")
        #expect(!fresh.stderr.contains("reusing the ordered event log"), "\(fresh.stderr)")
        #expect(try Harness.run(["run", input, "--state", "t", "--out", "q.jsonl", "--quiet"], in: dir).status == 0)
        let after = try Data(contentsOf: dir.appendingPathComponent("p.jsonl"))
        #expect(after == (try Data(contentsOf: dir.appendingPathComponent("q.jsonl"))))
        #expect(after != before)
    }

    @Test func aBareCSVEditedKeepingSizeAndTimeIsAnotherInput() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = try Self.matrixCSV(in: dir)
        let original = [UInt8](try Data(contentsOf: csv))
        try Self.checkContentIdentity(
            input: "in.csv", edit: { try Self.replaceKeepingSizeAndTime(csv, with: Self.edited(original), in: dir) }, in: dir)
    }

    @Test func aZipEditedKeepingSizeAndTimeIsAnotherInput() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let original = [UInt8](try Data(contentsOf: try Self.matrixCSV(in: dir)))
        func zip(_ csv: [UInt8], to name: String) throws -> URL {
            let url = dir.appendingPathComponent(name)
            let writer = try ArchiveWriter(path: url.path)
            try writer.addFile(path: "KuaiRec 2.0/data/small_matrix.csv", contents: csv, compression: .store)
            try writer.close()
            return url
        }
        let input = try zip(original, to: "in.zip")
        let edited = [UInt8](try Data(contentsOf: try zip(Self.edited(original), to: "edited.zip")))
        try Self.checkContentIdentity(
            input: "in.zip", edit: { try Self.replaceKeepingSizeAndTime(input, with: edited, in: dir) }, in: dir)
    }

    @Test func ambiguousArchivesAreRefusedNamingBothMembers() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = try Self.matrixCSV(in: dir)
        func zip(_ name: String, _ members: [(String, URL)]) throws -> URL {
            let url = dir.appendingPathComponent(name)
            let writer = try ArchiveWriter(path: url.path)
            for (path, source) in members { try writer.addFile(path: path, contentsOf: source, compression: .store) }
            try writer.close()
            return url
        }
        let twoMatrices = try zip("two-matrices.zip", [("KuaiRec 2.0/data/small_matrix.csv", csv), ("other/small_matrix.csv", csv)])
        let inner = try zip("KuaiRec.zip", [("KuaiRec 2.0/data/small_matrix.csv", csv)])
        _ = try zip("two-inner.zip", [("KuaiRec.zip", inner), ("backup/KuaiRec.zip", inner)])
        _ = try zip("nested.zip", [("KuaiRec.zip", twoMatrices)])
        let cases = [
            ("two-matrices.zip", ["KuaiRec 2.0/data/small_matrix.csv", "other/small_matrix.csv"]),
            ("two-inner.zip", ["KuaiRec.zip, backup/KuaiRec.zip"]),
            ("nested.zip", ["nested.zip ▸ KuaiRec.zip", "KuaiRec 2.0/data/small_matrix.csv, other/small_matrix.csv"]),
        ]
        for (input, names) in cases {
            let r = try Harness.run(["run", input, "--state", "s-\(input)", "--out", "p-\(input).jsonl"], in: dir)
            #expect(r.status == 3, "\(input): \(r.stderr)")
            #expect(r.stderr.contains("replay cannot tell which one"), "\(r.stderr)")
            for name in names { #expect(r.stderr.contains(name), "\(name) in \(r.stderr)") }
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("p-\(input).jsonl").path))
        }
        // One matrix is read as before.
        #expect(try Harness.run(["run", "KuaiRec.zip", "--state", "one", "--out", "one.jsonl", "--quiet"], in: dir).status == 0)
    }
}
