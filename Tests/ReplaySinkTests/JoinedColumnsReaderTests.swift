import Foundation
import ReplaySink
import ReplayStream
import Testing

/// The readers of panel files (``PanelCSVWriter``, ``PanelFieldSelection``, ``CompactedPanel``,
/// ``PanelRecordLines``) on lines with joined columns (`run --with-user-features`, `--with-item-context`), in
/// both forms: the columns learned from the first line, values carried exactly between JSON, CSV and TSV.
@Suite struct JoinedColumnsReaderTests {
    /// Texts a CSV field must quote or a JSON string must escape, and plain ones.
    static let texts: [String?] = [
        "full_active", "(0,10]", "say \"hi\"", "a\\b", "two\nlines", "tab\there", "cr\r", "caf\u{e9} \u{1F600}", "\u{1}",
        nil, "x,\"y\",z",
    ]

    /// Joined columns: a text, an integer and a float feature, then the item context.
    static func context() -> PanelContextColumns {
        let rows: [(Int32, [String?])] = texts.enumerated().map { i, text in
            (Int32(i), [text, "\(i * 7)", i % 3 == 0 ? nil : "\(Double(i) / 8)"])
        }
        let table = UserFeatureTable(
            columns: ["degree", "follow_user_num", "onehot_feat4"], rows: rows, reserved: Set(PanelCSVWriter.recordKeys))
        return PanelContextColumns(userFeatures: table, itemContext: true)
    }

    static let joined = context().names

    func record(user: Int32, revision: Int = 0) -> UserDayRecord {
        var d = DailyValues()
        d.interactions = 3
        d.avgWatchRatio = 0.1 + Double(user)
        d.itemContext.itemMeanShowCount = user % 2 == 0 ? .nan : 1234.5 + Double(user)
        d.itemContext.itemMeanPlayRate = 0.25
        d.itemContext.itemFirstCategories = Int(user)
        return UserDayRecord(
            userID: user, day: CalendarDay(yyyymmdd: 20_200_705)!, daily: d, lag1: [1, 2, 3, 0.5, 0.25],
            prior3: [3, 4, 5, 1.5, 0.75], leads: LeadValues(repeating: .nan), treatmentHighIntensity: 0,
            treatmentHighWatchExposure: 1, revision: revision, isFinal: revision == 3)
    }

    func line(_ r: UserDayRecord, _ format: PanelFormat) -> [UInt8] {
        Array(PanelLinesSink.render(r, format: format, context: Self.context()).dropLast())
    }

    func learned(_ line: [UInt8]) -> [String] { line.withUnsafeBytes { PanelCSVWriter.joinedColumns(inFirstLine: $0) } }

    @Test func theJoinedColumnsAreLearnedFromAHeaderOrAJSONLine() {
        let header = Array(PanelLinesSink.csvHeader(context: Self.context()).dropLast())
        #expect(Self.joined == ["degree", "follow_user_num", "onehot_feat4", "item_mean_show_cnt", "item_mean_play_rate", "item_first_categories"])
        #expect(learned(header) == Self.joined)
        #expect(learned(header + [0x0D]) == Self.joined)
        #expect(header.withUnsafeBytes { PanelCSVWriter.isCSVHeader($0) })
        #expect(learned(line(record(user: 1), .jsonl)) == Self.joined)
        // The notebook's panel: none, and its header is still one.
        #expect(learned(Array(PanelLinesSink.csvHeader.dropLast())) == [])
        #expect(PanelLinesSink.csvHeader.dropLast().withUnsafeBytes { PanelCSVWriter.isCSVHeader($0) })
        #expect(learned(Array(PanelLinesSink.render(record(user: 1)).dropLast())) == [])
        // A CSV row without its header says nothing, and a header naming a panel column between is no header.
        #expect(learned(line(record(user: 1), .csv)) == [])
        let bad = Array(String(decoding: header, as: UTF8.self).replacingOccurrences(of: ",degree,", with: ",interactions,").utf8)
        #expect(!bad.withUnsafeBytes { PanelCSVWriter.isCSVHeader($0) })
        #expect(PanelCSVWriter(joinedColumns: Self.joined).header(withRevision: true) == header + [0x0A])
    }

    @Test func aJSONLineExportsAsTheRowTheCSVRunWritesAndTheRowReadsBackTheSame() throws {
        let writer = PanelCSVWriter(joinedColumns: Self.joined)
        for user in Int32(0)..<Int32(Self.texts.count) + 1 {
            let r = record(user: user, revision: Int(user) % 4)
            let csvLine = line(r, .csv)
            for form in [line(r, .jsonl), csvLine] {
                var row: [UInt8] = []
                let info = try form.withUnsafeBytes { try writer.appendRow(of: $0, to: &row) }
                #expect(info.userID == Int64(user) && info.revision == Int(user) % 4)
                let expected = String(decoding: csvLine, as: UTF8.self)
                #expect(String(decoding: row + Array(",\(info.revision),\(info.isFinal)".utf8), as: UTF8.self) == expected)
            }
        }
    }

    /// `tail --fields` of `names` from `line`, as JSON or TSV.
    func selected(_ names: [String], _ line: [UInt8], _ format: PanelFieldSelection.Format) throws -> String {
        let selection = try PanelFieldSelection(names, joinedColumns: Self.joined)
        var out: [UInt8] = []
        try line.withUnsafeBytes { try selection.append($0, as: format, reader: PanelCSVWriter(joinedColumns: Self.joined), to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    @Test func aSelectedJoinedValueIsTheSameFromEitherForm() throws {
        let names = ["user_id", "degree", "event_date", "item_mean_show_cnt", "onehot_feat4", "final"]
        for (user, text) in Self.texts.enumerated() {
            let r = record(user: Int32(user))
            let json = try selected(names, line(r, .jsonl), .json)
            #expect(try selected(names, line(r, .csv), .json) == json, "user \(user)")
            let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
            #expect(object?["degree"] as? String == text, "user \(user): \(json)")
            if text == nil { #expect(object?["degree"] is NSNull) }
            let tsv = try selected(names, line(r, .csv), .tsv)
            #expect(try selected(names, line(r, .jsonl), .tsv) == tsv)
            let plain = (text ?? "").replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\t", with: "\\t")
                .replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r")
            #expect(tsv.split(separator: "\t", omittingEmptySubsequences: false)[1] == plain, "user \(user): \(tsv)")
        }
        // A JSON line's string keeps its escapes as written; a text that reads as a number stays a string.
        let r = record(user: 4)
        #expect(try selected(["degree"], line(r, .jsonl), .json) == "{\"degree\":\"two\\nlines\"}")
        var zero = String(decoding: line(r, .jsonl), as: UTF8.self)
        zero = zero.replacingOccurrences(of: "\"two\\nlines\"", with: "\"0\"")
        #expect(try selected(["degree"], Array(zero.utf8), .json) == "{\"degree\":\"0\"}")
    }

    @Test func aLineWithOtherKeysOrBadValuesIsRefused() throws {
        let writer = PanelCSVWriter(joinedColumns: Self.joined)
        func problem(_ text: String) -> String? {
            var out: [UInt8] = []
            do {
                _ = try Array(text.utf8).withUnsafeBytes { try writer.appendRow(of: $0, to: &out) }
                return nil
            } catch let error as PanelCSVWriter.LineProblem {
                #expect(out.isEmpty)
                return error.reason
            } catch {
                return "unexpected \(error)"
            }
        }
        let json = String(decoding: line(record(user: 1), .jsonl), as: UTF8.self)
        #expect(problem(json) == nil)
        #expect(problem(json.replacingOccurrences(of: "\"degree\":", with: "\"bad\":")) == "it has the key \"bad\", which is no panel column")
        #expect(problem(json.replacingOccurrences(of: ",\"degree\":\"(0,10]\"", with: "")) == "the key(s) degree are missing")
        #expect(problem(json.replacingOccurrences(of: "\"(0,10]\"", with: "true")) == "\"degree\" is not a number, a string or null")
        // The notebook's panel's reader refuses the joined keys as before.
        var out: [UInt8] = []
        #expect(throws: PanelCSVWriter.LineProblem.self) { try Array(json.utf8).withUnsafeBytes { try PanelCSVWriter().appendRow(of: $0, to: &out) } }
        let csv = String(decoding: line(record(user: 1), .csv), as: UTF8.self)
        #expect(csv.contains(",\"(0,10]\","))
        #expect(problem(csv) == nil)
        #expect(problem(csv.replacingOccurrences(of: "\"(0,10]\"", with: "\"(0,10]")) == "the quoted field of \"degree\" is not closed")
        #expect(problem(csv.replacingOccurrences(of: "\"(0,10]\"", with: "\"(0,10]\"x")) == "the quoted field of \"degree\" is followed by more than a comma")
        #expect(problem(csv.replacingOccurrences(of: "\"(0,10]\"", with: "a\"b")) == "\"degree\" holds a quote but is not quoted")
        // Only a joined column may be a text.
        #expect(problem(csv.replacingOccurrences(of: "1,2020-07-05,3,", with: "1,2020-07-05,\"3\",")) == "\"interactions\" is not a number or empty")
        #expect(problem(csv.replacingOccurrences(of: "\"(0,10]\"", with: "(0,10]")) != nil)  // one field more
    }

    @Test func theCompactedPanelAndTheRecordLinesLearnTheColumnsFromTheFirstLine() throws {
        for format in [PanelFormat.jsonl, .csv] {
            var text = format == .csv ? PanelLinesSink.csvHeader(context: Self.context()) : []
            for user in [Int32(2), 1] { text += line(record(user: user, revision: 1), format) + [0x0A] }
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("joined-\(UUID().uuidString)")
            try Data(text).write(to: url)
            defer { try? FileManager.default.removeItem(at: url) }
            let panel = CompactedPanel()
            let summary = try panel.read(try ChangelogReader(path: url.path), source: "p")
            #expect(summary.lines == 2 && panel.joinedColumns == Self.joined)
            let output = FileManager.default.temporaryDirectory.appendingPathComponent("joined-\(UUID().uuidString).csv")
            defer { try? FileManager.default.removeItem(at: output) }
            try panel.writeCSV(toPath: output.path, withRevision: true, finalOnly: false)
            let expected = PanelLinesSink.csvHeader(context: Self.context()) + line(record(user: 1, revision: 1), .csv) + [0x0A]
                + line(record(user: 2, revision: 1), .csv) + [0x0A]
            #expect([UInt8](try Data(contentsOf: output)) == expected, "\(format)")
            let reader = try ChangelogReader(path: url.path)
            #expect(try reader.firstLine() == text.split(separator: 0x0A).first.map(Array.init))
            let records = PanelRecordLines(source: "p")
            var infos: [ChangelogReader.LineInfo] = []
            try reader.readAvailable { line in
                if let info = try records.info(of: line) { infos.append(info) }
                return true
            }
            #expect(infos.map(\.userID) == [2, 1] && records.writer?.joinedColumns == Self.joined)
            records.startAgain()
            #expect(records.writer == nil)
        }
    }
}
