import Foundation
import ReplaySink
import Testing

/// `--format csv` and `--emit final`: the same records as the JSON lines changelog, in the same order and
/// number text, written once per form; a resume, a rerun and a second form are told apart.
@Suite(.serialized) struct OutputFormatTests {
    /// The run's output under `form`, for the generated archive.
    func output(_ form: [String], name: String, in dir: URL, archive: URL) throws -> [UInt8] {
        let r = try Harness.run(["run", archive.path, "--state", "s-\(name)", "--out", name, "--quiet"] + form, in: dir)
        #expect(r.status == 0, "\(form): \(r.stderr)")
        return [UInt8](try Data(contentsOf: dir.appendingPathComponent(name)))
    }

    static func lines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] { bytes.split(separator: 0x0A, omittingEmptySubsequences: false).dropLast() }

    /// A JSON record line as the CSV row `--format csv` writes: export's row, then revision and final.
    static func csvRow(of jsonLine: ArraySlice<UInt8>, writer: PanelCSVWriter) throws -> [UInt8] {
        var row: [UInt8] = []
        let info = try Array(jsonLine).withUnsafeBytes { try writer.appendRow(of: $0, to: &row) }
        if row.last == 0x0A { row.removeLast() }
        return row + Array(",\(info.revision),\(info.isFinal)".utf8)
    }

    @Test func everyFormHoldsTheChangelogsRecordsInItsOrder() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let archive = try Harness.archive()
        let json = try output([], name: "all.jsonl", in: dir, archive: archive)
        let csv = try output(["--format", "csv"], name: "all.csv", in: dir, archive: archive)
        let finalJSON = try output(["--emit", "final"], name: "final.jsonl", in: dir, archive: archive)
        let finalCSV = try output(["--format", "csv", "--emit", "final"], name: "final.csv", in: dir, archive: archive)
        let jsonLines = Self.lines(json)
        #expect(jsonLines.count > 1000)
        // CSV: the header once, then each revision's row, the same number text as the JSON.
        let writer = PanelCSVWriter()
        let expectedCSV = PanelLinesSink.csvHeader + (try jsonLines.flatMap { try Self.csvRow(of: $0, writer: writer) + [0x0A] })
        #expect(csv == expectedCSV)
        #expect(Self.lines(csv).first.map { Array($0) } == Array(PanelLinesSink.csvHeader.dropLast()))
        // Final: the changelog's final lines, in its order.
        let finals = jsonLines.filter { $0.reversed().starts(with: Array("}eurt".utf8)) }
        #expect(Self.lines(finalJSON).map(Array.init) == finals.map(Array.init))
        let keys = Set(jsonLines.map { line -> String in
            let text = String(decoding: line, as: UTF8.self)
            return String(text.prefix { $0 != "," }) + String(text.firstMatch(of: /"event_date":"[0-9-]+"/)!.output)
        })
        #expect(finals.count == keys.count, "one final line per key")
        let csvRows = Self.lines(csv).dropFirst()
        #expect(Self.lines(finalCSV).dropFirst().map(Array.init) == csvRows.filter { $0.reversed().starts(with: Array("eurt".utf8)) }.map(Array.init))
        #expect(Self.lines(finalCSV).first.map(Array.init) == Array(PanelLinesSink.csvHeader.dropLast()))
    }

    @Test func aResumeKeepsItsFormAndAnotherFormIsRefused() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let archive = try Harness.archive()
        let whole = try output(["--format", "csv"], name: "whole.csv", in: dir, archive: archive)
        let run = ["run", archive.path, "--state", "s", "--out", "p.csv", "--format", "csv", "--quiet"]
        #expect(try Harness.run(run + ["--until", "2020-07-08"], in: dir).status == 0)
        let other = try Harness.run(["run", archive.path, "--state", "s", "--out", "p.csv", "--quiet"], in: dir)
        #expect(other.status == 4)
        #expect(other.stderr.contains("--format/--emit: the state has csv, this run has jsonl, every revision"), "\(other.stderr)")
        #expect(try Harness.run(run, in: dir).status == 0)
        #expect([UInt8](try Data(contentsOf: dir.appendingPathComponent("p.csv"))) == whole)
    }

    @Test(.disabled(if: Harness.binaryIsSanitized, "pandas reading the file: nothing the sanitizers check"))
    func pandasReadsTheCSVWithTheNotebooksTypes() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let archive = try Harness.archive()
        _ = try output(["--format", "csv", "--emit", "final"], name: "final.csv", in: dir, archive: archive)
        _ = try output([], name: "all.jsonl", in: dir, archive: archive)
        #expect(try Harness.run(["export", "all.jsonl", "--csv", "export.csv", "--quiet"], in: dir).status == 0)
        // The final CSV, sorted as the notebook's panel, is export's panel; floats read back exactly.
        let script = """
            import pandas as pd, sys
            a = pd.read_csv("final.csv", parse_dates=["event_date"]).sort_values(["user_id", "event_date"]).reset_index(drop=True)
            b = pd.read_csv("export.csv", parse_dates=["event_date"])
            assert list(a.columns[:-2]) == list(b.columns) and list(a.columns[-2:]) == ["revision", "final"], a.columns
            assert a["final"].dtype == bool and a["final"].all()
            a = a.drop(columns=["revision", "final"])
            assert str(a["event_date"].dtype).startswith("datetime64"), a["event_date"].dtype
            for c in a.columns:
                if a[c].dtype.kind == "f":
                    assert (a[c].isna() == b[c].isna()).all(), c
                    assert (a[c].dropna().values.view("int64") == b[c].dropna().values.view("int64")).all(), c
                else:
                    assert (a[c] == b[c]).all(), c
            print("ok", len(a))
            """
        try script.write(to: dir.appendingPathComponent("check.py"), atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "check.py"]
        process.currentDirectoryURL = dir
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let problems = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0 && printed.hasPrefix("ok "), "\(printed) \(problems)")
    }

    @Test func tailAndExportReadACSVPanelAsTheyReadJSONLines() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let archive = try Harness.archive()
        let json = try output([], name: "p.jsonl", in: dir, archive: archive)
        let csv = try output(["--format", "csv"], name: "p.csv", in: dir, archive: archive)
        // export: the same panel from either form.
        #expect(try Harness.run(["export", "p.jsonl", "--csv", "from-json.csv", "--quiet"], in: dir).status == 0)
        let fromCSV = try Harness.run(["export", "p.csv", "--csv", "from-csv.csv", "--quiet"], in: dir)
        #expect(fromCSV.status == 0, "\(fromCSV.stderr)")
        #expect(try Data(contentsOf: dir.appendingPathComponent("from-csv.csv")) == Data(contentsOf: dir.appendingPathComponent("from-json.csv")))
        // tail: the whole file as it is (its header first), the last 3 rows under the header, selected fields.
        let whole = try Harness.run(["tail", "p.csv"], in: dir)
        #expect(whole.status == 0 && Array(whole.stdout.utf8) == csv, "\(whole.stderr)")
        let last = try Harness.run(["tail", "-n", "3", "p.csv"], in: dir)
        let csvLines = Self.lines(csv).map { String(decoding: $0, as: UTF8.self) }
        #expect(last.stdout == ([csvLines[0]] + csvLines.suffix(3)).joined(separator: "\n") + "\n", "\(last.stdout) \(last.stderr)")
        let fields = ["tail", "--fields", "user_id,event_date,future_7day_interactions,final", "--format", "json"]
        let fromCSVFields = try Harness.run(fields + ["p.csv"], in: dir)
        let fromJSONFields = try Harness.run(fields + ["p.jsonl"], in: dir)
        #expect(fromCSVFields.status == 0 && fromCSVFields.stdout == fromJSONFields.stdout && !fromCSVFields.stdout.isEmpty)
        let latestCSV = try Harness.run(["tail", "--latest", "--fields", "user_id,event_date,revision", "p.csv"], in: dir)
        let latestJSON = try Harness.run(["tail", "--latest", "--fields", "user_id,event_date,revision", "p.jsonl"], in: dir)
        #expect(latestCSV.stdout == latestJSON.stdout && latestCSV.stdout.split(separator: "\n").count > 100)
        #expect(Self.lines(json).count + 1 == Self.lines(csv).count)
    }
}
