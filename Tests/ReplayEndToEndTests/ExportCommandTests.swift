import Foundation
import ReplayStream
import Testing

/// `replay export FILE --csv OUT`: the compacted panel as CSV, checked against the panel file's own
/// lines decoded by JSONDecoder (exact for doubles) as the oracle.
@Suite(.serialized) struct ExportCommandTests {
    /// A JSON scalar as JSONDecoder reads it.
    enum Value: Decodable, Equatable {
        case null
        case bool(Bool)
        case int(Int64)
        case double(Double)
        case string(String)
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() {
                self = .null
            } else if let b = try? c.decode(Bool.self) {
                self = .bool(b)
            } else if let i = try? c.decode(Int64.self) {
                self = .int(i)
            } else if let d = try? c.decode(Double.self) {
                self = .double(d)
            } else {
                self = .string(try c.decode(String.self))
            }
        }
    }

    struct Key: Hashable, Comparable {
        var user: Int64
        var date: String
        static func < (a: Key, b: Key) -> Bool { (a.user, a.date) < (b.user, b.date) }
    }

    /// The last revision of every key of a panel file (the oracle's compaction).
    func lastRevisions(_ url: URL) throws -> [Key: [String: Value]] {
        var last: [Key: [String: Value]] = [:]
        for line in try Data(contentsOf: url).split(separator: 0x0A) {
            let record = try JSONDecoder().decode([String: Value].self, from: Data(line))
            guard case .int(let user) = record["user_id"], case .string(let date) = record["event_date"],
                case .int(let revision) = record["revision"]
            else { throw CocoaError(.coderReadCorrupt) }
            let key = Key(user: user, date: date)
            if let kept = last[key], case .int(let old) = kept["revision"], old > revision { continue }
            last[key] = record
        }
        return last
    }

    /// A CSV file as its header and rows of fields (export never quotes: no field holds a comma).
    func csv(_ text: String) -> (header: [String], rows: [[String]]) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.last == "", "the CSV ends with a newline")
        let fields = lines.dropLast().map {
            $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
        return (fields.first ?? [], Array(fields.dropFirst()))
    }

    /// True when a CSV field holds exactly the JSON value (numbers compared as doubles, bit for bit).
    func field(_ text: String, holds value: Value?) -> Bool {
        switch value {
        case .null: return text.isEmpty
        case .int(let i): return Double(text) == Double(i)
        case .double(let d): return Double(text)?.bitPattern == d.bitPattern
        case .string(let s): return text == s
        case .bool(let b): return text == (b ? "true" : "false")
        case nil: return false
        }
    }

    /// Checks that `text` is the compacted panel of `oracle`: header, one row per key in (user_id, event_date)
    /// order, every field the last revision's value.
    func expectPanel(_ text: String, equals oracle: [Key: [String: Value]], withRevision: Bool = false) {
        let (header, rows) = csv(text)
        let columns = UserDayRecord.columnNames + (withRevision ? ["revision", "final"] : [])
        #expect(header == columns)
        #expect(rows.count == oracle.count)
        let keys = rows.map { Key(user: Int64($0[0]) ?? -1, date: $0[1]) }
        #expect(keys == oracle.keys.sorted())
        var wrong: [String] = []
        for row in rows {
            guard row.count == columns.count, let record = oracle[Key(user: Int64(row[0]) ?? -1, date: row[1])] else {
                wrong.append("row \(row.prefix(2)) has \(row.count) fields or an unknown key")
                continue
            }
            for (name, text) in zip(columns, row) where !field(text, holds: record[name]) {
                wrong.append("\(row[0]) \(row[1]) \(name): csv \(text), json \(String(describing: record[name]))")
            }
        }
        #expect(wrong.count == 0, "fields differ, e.g. \(wrong.prefix(3))")
    }

    func run(_ dir: URL, _ extra: [String] = []) throws {
        let outer = try Harness.archive()
        let r = try Harness.run(["run", outer.path, "--state", "s", "--out", "p.jsonl", "--quiet"] + extra, in: dir)
        #expect(r.status == 0, "\(r.stderr)")
    }

    /// Runs a bash command line in `dir`, `$REPLAY` being the binary (for pipes and redirections).
    func shell(_ command: String, in dir: URL) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", command]
        process.environment = ProcessInfo.processInfo.environment.merging(["REPLAY": Harness.binary.path]) { $1 }
        process.currentDirectoryURL = dir
        let outFile = dir.appendingPathComponent("shell.out")
        let errFile = dir.appendingPathComponent("shell.err")
        _ = FileManager.default.createFile(atPath: outFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errFile.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: outFile)
        process.standardError = try FileHandle(forWritingTo: errFile)
        try process.run()
        process.waitUntilExit()
        return CommandResult(
            status: process.terminationStatus, stdout: try String(contentsOf: outFile, encoding: .utf8),
            stderr: try String(contentsOf: errFile, encoding: .utf8))
    }

    @Test func oneRowPerKeyWithTheLastRevisionsValuesInTheNotebooksOrder() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try run(dir)
        let panel = dir.appendingPathComponent("p.jsonl")
        let oracle = try lastRevisions(panel)
        let lineCount = try Data(contentsOf: panel).split(separator: 0x0A).count
        #expect(lineCount > oracle.count, "the panel file holds several revisions per key")

        let r = try Harness.run(["export", "p.jsonl", "--csv", "panel.csv"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("\(lineCount) lines, \(oracle.count) keys"))
        let text = try String(contentsOf: dir.appendingPathComponent("panel.csv"), encoding: .utf8)
        expectPanel(text, equals: oracle)
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("panel.csv.partial").path))

        // Nulls are empty fields: the last day's leads are unknown in the finished panel.
        let (header, rows) = csv(text)
        let lead = header.firstIndex(of: "lead_1_active_day")!
        let lastDay = rows.map { $0[1] }.max()!
        #expect(rows.filter { $0[1] == lastDay }.allSatisfy { $0[lead].isEmpty })
        #expect(rows.contains { !$0[lead].isEmpty })

        // --with-revision adds revision,final; standard output gives the same bytes as the file.
        let withRevision = try Harness.run(["export", "p.jsonl", "--csv", "-", "--with-revision", "--quiet"], in: dir)
        #expect(withRevision.status == 0 && withRevision.stderr.isEmpty)
        expectPanel(withRevision.stdout, equals: oracle, withRevision: true)
        let plain = try Harness.run(["export", "p.jsonl", "--csv", "-", "--quiet"], in: dir)
        #expect(plain.stdout == text)
    }

    @Test func finalOnlyLeavesOutKeysARunMayStillRevise() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try run(dir, ["--until", "2020-07-13"])
        let oracle = try lastRevisions(dir.appendingPathComponent("p.jsonl"))
        let finals = oracle.filter { $0.value["final"] == .bool(true) }
        #expect(!finals.isEmpty && finals.count < oracle.count)

        let all = try Harness.run(["export", "p.jsonl", "--csv", "-", "--with-revision"], in: dir)
        #expect(all.status == 0)
        expectPanel(all.stdout, equals: oracle, withRevision: true)
        let final = try Harness.run(["export", "p.jsonl", "--csv", "-", "--final-only", "--with-revision"], in: dir)
        #expect(final.status == 0)
        expectPanel(final.stdout, equals: finals, withRevision: true)
        #expect(final.stderr.contains("\(oracle.count - finals.count) keys not final left out"))
    }

    @Test func readsStandardInputFromAPipe() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try run(dir)
        let oracle = try lastRevisions(dir.appendingPathComponent("p.jsonl"))
        let r = try shell("cat p.jsonl | \"$REPLAY\" export - --csv panel.csv", in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        expectPanel(try String(contentsOf: dir.appendingPathComponent("panel.csv"), encoding: .utf8), equals: oracle)
        // Standard output closed early (`| head`) is a clean stop.
        let head = try shell("set -o pipefail; \"$REPLAY\" export p.jsonl --csv - | head -1", in: dir)
        #expect(head.status == 0 && head.stdout.hasPrefix("user_id,event_date,"))
    }

    @Test func aPartlyWrittenLastLineIsIgnoredWithANote() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try run(dir)
        var lines = try Data(contentsOf: dir.appendingPathComponent("p.jsonl")).split(separator: 0x0A)
        let cut = lines.removeLast().prefix(300)  // a run in progress wrote 300 bytes of the last line
        let whole = Data(lines.joined(separator: [0x0A])) + Data([0x0A])
        try whole.write(to: dir.appendingPathComponent("whole.jsonl"))
        try (whole + cut).write(to: dir.appendingPathComponent("cut.jsonl"))
        let oracle = try lastRevisions(dir.appendingPathComponent("whole.jsonl"))

        let r = try Harness.run(["export", "cut.jsonl", "--csv", "panel.csv"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("cut.jsonl: the last line is incomplete (300 bytes without a newline"))
        expectPanel(try String(contentsOf: dir.appendingPathComponent("panel.csv"), encoding: .utf8), equals: oracle)
        let piped = try shell("\"$REPLAY\" export - --csv - < cut.jsonl", in: dir)
        #expect(piped.stderr.contains("standard input: the last line is incomplete (300 bytes"))
        expectPanel(piped.stdout, equals: oracle)
    }

    @Test func badInputGetsAClearErrorAndLeavesTheOutputAlone() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try run(dir)
        let out = dir.appendingPathComponent("panel.csv")
        try Data("an earlier export\n".utf8).write(to: out)

        let missing = try Harness.run(["export", "nope.jsonl", "--csv", "panel.csv"], in: dir)
        #expect(missing.status == 3)
        #expect(missing.stderr.contains("replay: nope.jsonl: no such file or folder"))

        // A line that is not a record, in the middle of the file: its line number, exit 3.
        var lines = try Data(contentsOf: dir.appendingPathComponent("p.jsonl")).split(separator: 0x0A).map { Data($0) }
        lines[4] = Data("{\"user_id\":3,\"event_date\":\"2020-07-05\",\"interactions\":\"many\"}".utf8)
        try (Data(lines.joined(separator: [0x0A])) + Data([0x0A])).write(to: dir.appendingPathComponent("bad.jsonl"))
        let bad = try Harness.run(["export", "bad.jsonl", "--csv", "panel.csv"], in: dir)
        #expect(bad.status == 3)
        #expect(
            bad.stderr.contains(
                "replay: bad.jsonl: line 5: not a panel record: \"interactions\" is not a number or null"))
        lines[4] = Data("user_id,event_date".utf8)
        try (Data(lines.joined(separator: [0x0A])) + Data([0x0A])).write(to: dir.appendingPathComponent("bad.jsonl"))
        let csvLine = try Harness.run(["export", "bad.jsonl", "--csv", "panel.csv"], in: dir)
        #expect(csvLine.status == 3 && csvLine.stderr.contains("line 5: not a panel record: it is not a JSON object"))

        let folder = try Harness.run(["export", ".", "--csv", "panel.csv"], in: dir)
        #expect(folder.status == 3 && folder.stderr.contains("it is a folder"))
        let itself = try Harness.run(["export", "p.jsonl", "--csv", "./p.jsonl"], in: dir)
        // A usage error: exit 64 (EX_USAGE), as for every subcommand (PathClaims, docs/ERRORS.md).
        #expect(itself.status == 64 && itself.stderr.contains("--csv and FILE are the same file"))

        let toFolder = try Harness.run(["export", "p.jsonl", "--csv", "s"], in: dir)
        #expect(toFolder.status == 64 && toFolder.stderr.contains("replay: --csv s is a folder; --csv writes a file: give it a file name (s/NAME)"), "\(toFolder.stderr)")
        // A file-size limit makes writes fail with EFBIG, as a full disk fails with ENOSPC: exit 5.
        if !Harness.binaryStopsUnderAFileSizeLimit {
            let full = try shell("trap '' XFSZ; ulimit -f 8; exec \"$REPLAY\" export p.jsonl --csv panel.csv", in: dir)
            #expect(full.status == 5)
            #expect(full.stderr.contains("replay: panel.csv: write failed: File too large — free some space and rerun"))
        }

        // Nothing was written: the earlier file is intact and no .partial is left.
        #expect(try String(contentsOf: out, encoding: .utf8) == "an earlier export\n")
        #expect(!FileManager.default.fileExists(atPath: out.path + ".partial"))
    }
}
