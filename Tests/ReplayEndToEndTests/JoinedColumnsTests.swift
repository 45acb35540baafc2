import Foundation
import Testing

/// `export` and `tail` on panels with joined columns (`run --with-user-features --with-item-context`), in JSON
/// lines and `--format csv`: the columns come from the file's first line, and the values are carried exactly.
@Suite(.serialized) struct JoinedColumnsTests {
    static let joins = ["--with-user-features", "--with-item-context"]

    /// Runs the archive into `name` with the joins and `form`.
    func run(_ form: [String], name: String, in dir: URL, archive: URL) throws {
        let r = try Harness.run(
            ["run", archive.path, "--state", "s-\(name)", "--out", name, "--quiet"] + Self.joins + form, in: dir)
        #expect(r.status == 0, "\(form): \(r.stderr)")
    }

    func bytes(_ name: String, in dir: URL) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: dir.appendingPathComponent(name)))
    }

    func export(_ arguments: [String], in dir: URL) throws -> [UInt8] {
        let r = try Harness.run(["export"] + arguments + ["--csv", "e.csv", "--quiet"], in: dir)
        #expect(r.status == 0, "\(arguments): \(r.stderr)")
        return try bytes("e.csv", in: dir)
    }

    /// A CSV's lines: the header, then the rows ordered by user_id then event_date (its first two fields).
    static func orderedAsExport(_ csv: [UInt8]) -> [String] {
        let lines = String(decoding: csv, as: UTF8.self).split(separator: "\n").map(String.init)
        func key(_ row: String) -> (Int, String) {
            let fields = row.split(separator: ",", maxSplits: 2)
            return (Int(fields[0])!, String(fields[1]))
        }
        return [lines[0]] + lines.dropFirst().sorted { key($0) < key($1) }
    }

    /// A CSV line without its last two fields (`revision,final`).
    static func withoutRevision(_ line: String) -> String {
        var text = line[...]
        for _ in 0..<2 { text = text[..<text.lastIndex(of: ",")!] }
        return String(text)
    }

    @Test func exportOfAJoinedPanelIsTheRunsFinalCSVInThePanelsOrder() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let archive = try Harness.archive()
        try run([], name: "all.jsonl", in: dir, archive: archive)
        try run(["--format", "csv"], name: "all.csv", in: dir, archive: archive)
        try run(["--format", "csv", "--emit", "final"], name: "final.csv", in: dir, archive: archive)
        let finalCSV = try bytes("final.csv", in: dir)
        #expect(String(decoding: finalCSV, as: UTF8.self).contains(",\"(0,10]\","), "a text with a comma, quoted")
        let expected = Self.orderedAsExport(finalCSV)
        for input in ["all.jsonl", "all.csv", "final.csv"] {
            let withRevision = try export([input, "--with-revision"], in: dir)
            #expect(Self.orderedAsExport(withRevision) == expected, "\(input)")
            #expect(withRevision.last == 0x0A && Self.orderedAsExport(withRevision).joined(separator: "\n") + "\n" == String(decoding: withRevision, as: UTF8.self))
            #expect(try export([input, "--final-only", "--with-revision"], in: dir) == withRevision, "\(input): every key is final")
            // Without the revision: the same rows without their last two fields.
            let plain = String(decoding: try export([input], in: dir), as: UTF8.self).split(separator: "\n").map(String.init)
            #expect(plain == expected.map(Self.withoutRevision), "\(input)")
        }
    }

    @Test func tailSelectsAJoinedColumnFromEitherFormAndPrintsWholeCSVRowsUnderTheirHeader() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let archive = try Harness.archive()
        try run([], name: "p.jsonl", in: dir, archive: archive)
        try run(["--format", "csv"], name: "p.csv", in: dir, archive: archive)
        func tail(_ arguments: [String], stdin: URL? = nil) throws -> String {
            let r = try Harness.run(["tail"] + arguments, in: dir, stdin: stdin)
            #expect(r.status == 0, "\(arguments): \(r.stderr)")
            return r.stdout
        }
        // Texts that never read as numbers, and numbers: the same JSON from both forms, and from standard input.
        let fields = ["--fields", "user_id,event_date,user_active_degree,item_mean_show_cnt,item_first_categories,final"]
        let json = try tail(["p.jsonl", "-n", "40", "--format", "json"] + fields)
        #expect(json.split(separator: "\n").count == 40 && json.contains("\"user_active_degree\":\""), "\(json)")
        #expect(try tail(["p.csv", "-n", "40", "--format", "json"] + fields) == json)
        #expect(try tail(["-", "-n", "40", "--format", "json"] + fields, stdin: dir.appendingPathComponent("p.csv")) == json)
        // A text with a comma: its plain text in TSV from both forms.
        let range = ["--fields", "user_id,follow_user_num_range", "--format", "tsv", "--final-only"]
        let tsv = try tail(["p.jsonl"] + range)
        #expect(tsv.hasPrefix("user_id\tfollow_user_num_range\n") && tsv.contains("\t(0,10]\n"), "\(tsv)")
        #expect(try tail(["p.csv"] + range) == tsv)
        // Whole lines: a CSV panel's rows under its header, the joined columns included.
        let csvLines = String(decoding: try bytes("p.csv", in: dir), as: UTF8.self).split(separator: "\n")
        #expect(try tail(["p.csv", "-n", "2"]).split(separator: "\n") == [csvLines[0]] + csvLines.suffix(2))
        // A name the file does not have is refused with the file's columns listed.
        let unknown = try Harness.run(["tail", "p.csv", "--fields", "user_id,nope"], in: dir)
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("no such column: nope. The columns: user_id,"), "\(unknown.stderr)")
        #expect(unknown.stderr.contains("treatment_high_watch_exposure, user_active_degree,"), "\(unknown.stderr)")
        // Over standard input the first line tells the columns: the same refusal, then.
        let piped = try Harness.run(["tail", "-", "--fields", "user_id,nope"], in: dir, stdin: dir.appendingPathComponent("p.jsonl"))
        #expect(piped.status == 64 && piped.stdout.isEmpty)
        #expect(piped.stderr.contains("no such column: nope. The columns: user_id,"), "\(piped.stderr)")
    }

    @Test func aLineWithOtherKeysThanTheFirstIsRefused() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let archive = try Harness.archive(users: 8, videos: 60, days: 6)
        try run([], name: "p.jsonl", in: dir, archive: archive)
        var lines = String(decoding: try bytes("p.jsonl", in: dir), as: UTF8.self).split(separator: "\n").map(String.init)
        lines[2] = lines[2].replacingOccurrences(of: "\"user_active_degree\":", with: "\"bad\":")
        lines[3] = lines[3].replacingOccurrences(of: "\"revision\":", with: "\"extra\":1,\"revision\":")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: dir.appendingPathComponent("bad.jsonl"))
        let export = try Harness.run(["export", "bad.jsonl", "--csv", "e.csv"], in: dir)
        #expect(export.status == 3)
        #expect(export.stderr.contains("bad.jsonl: line 3: not a panel record: it has the key \"bad\", which is no panel column"), "\(export.stderr)")
        let tail = try Harness.run(["tail", "bad.jsonl", "--fields", "user_id,user_active_degree"], in: dir)
        #expect(tail.status == 0)
        #expect(tail.stderr.contains("line 3: not a panel record: it has the key \"bad\", which is no panel column; skipped"), "\(tail.stderr)")
        #expect(tail.stderr.contains("line 4: not a panel record: it has the key \"extra\", which is no panel column; skipped"), "\(tail.stderr)")
        #expect(tail.stdout.split(separator: "\n").count == lines.count - 2)
    }
}
