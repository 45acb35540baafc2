import Foundation
import ReplaySink
import ReplayStream
import Testing

/// ``PanelCSVWriter`` (record line → CSV row) and ``CompactedPanel`` (last revision per key, ordered rows).
@Suite struct PanelCSVWriterTests {
    func record(user: Int32 = 14, day: Int = 20_200_705, revision: Int = 0, leads: Double = .nan) -> UserDayRecord {
        var d = DailyValues()
        d.interactions = 26
        d.uniqueVideos = 25
        d.totalPlayDurationMs = 240_975
        d.avgPlayDurationMs = 9268.26923076923
        d.avgWatchRatio = 1.0844813553059367
        d.totalPlayDurationSec = 240.975
        d.highWatchShare = 0.5769230769230769
        d.activeDay = 1
        return UserDayRecord(
            userID: user, day: CalendarDay(yyyymmdd: Int64(day))!, daily: d, lag1: [1, 23, 248.344, 1e-05, 0.5],
            prior3: [3, 127, 1145.8, 2.9, 1.5], leads: LeadValues(repeating: leads), treatmentHighIntensity: 0,
            treatmentHighWatchExposure: 1, revision: revision, isFinal: revision == 3)
    }

    /// The sink's line for `r`, without its newline.
    func line(_ r: UserDayRecord) -> [UInt8] { Array(PanelLinesSink.render(r).dropLast()) }

    func row(_ line: [UInt8]) throws -> [String] {
        let writer = PanelCSVWriter()
        var out: [UInt8] = []
        _ = try line.withUnsafeBytes { try writer.appendRow(of: $0, to: &out) }
        return String(decoding: out, as: UTF8.self).split(separator: ",", omittingEmptySubsequences: false).map(
            String.init)
    }

    func problem(_ text: String) -> String? {
        let writer = PanelCSVWriter()
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

    @Test func aRowHoldsTheJSONTextOfEveryColumnInTheNotebooksOrder() throws {
        let fields = try row(line(record()))
        let columns = UserDayRecord.columnNames
        #expect(fields.count == columns.count)
        let value = Dictionary(uniqueKeysWithValues: zip(columns, fields))
        #expect(value["user_id"] == "14" && value["event_date"] == "2020-07-05")
        #expect(value["avg_watch_ratio"] == "1.0844813553059367")
        #expect(value["lag_1_avg_watch_ratio"] == "1e-05")
        #expect(value["lag_1_interactions"] == "23" && value["avg_video_duration_ms"] == "0.0")
        #expect(value["lead_1_active_day"] == "" && value["future_7day_play_duration_sec"] == "")
        #expect(value["treatment_high_watch_exposure"] == "1")
        var out: [UInt8] = []
        let info = try line(record(day: 20200731)).withUnsafeBytes { try PanelCSVWriter().appendRow(of: $0, to: &out) }
        #expect(
            info == ChangelogReader.LineInfo(
                userID: 14, eventDate: CalendarDay(yyyymmdd: 20200731)!, revision: 0, isFinal: false),
            "appendRow returns the line's key, revision and final flag")
        #expect(
            String(decoding: PanelCSVWriter.header(withRevision: false), as: UTF8.self) == columns.joined(
                separator: ",") + "\n")
        #expect(
            String(decoding: PanelCSVWriter.header(withRevision: true), as: UTF8.self).hasSuffix(",revision,final\n"))
    }

    @Test func anyKeyOrderAndWhitespaceGiveTheSameRow() throws {
        let sink = try row(line(record(leads: 2.5)))
        // The same object with its keys reversed and spaces around every token.
        let object = try JSONSerialization.jsonObject(with: Data(line(record(leads: 2.5)))) as! [String: Any]
        let text = String(decoding: line(record(leads: 2.5)), as: UTF8.self)
        var pairs: [String] = []
        var rest = Substring(text.dropFirst().dropLast())
        while !rest.isEmpty {  // split the sink's flat object at top-level commas (no commas inside values)
            let comma = rest.firstIndex(of: ",") ?? rest.endIndex
            pairs.append(String(rest[..<comma]).replacingOccurrences(of: ":", with: " : "))
            rest = comma == rest.endIndex ? "" : rest[rest.index(after: comma)...]
        }
        #expect(pairs.count == object.count)
        let reordered = "{ " + pairs.reversed().joined(separator: " ,\t") + " }"
        #expect(try row(Array(reordered.utf8)) == sink)
    }

    @Test func linesThatAreNotRecordsSayWhy() throws {
        let good = String(decoding: line(record()), as: UTF8.self)
        #expect(problem("") == "the line is empty")
        #expect(problem("user_id,event_date")?.contains("not a JSON object") == true)
        #expect(problem(String(good.dropLast(1)))?.contains("the line ends inside the object") == true)
        #expect(problem(good + "x")?.contains("text after the object") == true)
        #expect(
            problem(good.replacingOccurrences(of: "\"interactions\":26", with: "\"interactions\":\"26\""))
                == "\"interactions\" is not a number or null")
        #expect(
            problem(good.replacingOccurrences(of: "2020-07-05", with: "2020-02-30"))
                == "\"event_date\" is not a date YYYY-MM-DD")
        #expect(
            problem(good.replacingOccurrences(of: "\"interactions\":26", with: "\"interactions\":NaN"))?
                .contains("is not a JSON number") == true)
        #expect(
            problem(good.replacingOccurrences(of: "\"interactions\":26", with: "\"interactions\":026"))?
                .contains("',' or '}' was expected") == true)
        #expect(
            problem(good.replacingOccurrences(of: "\"interactions\":26,", with: ""))
                == "the key(s) interactions are missing")
        #expect(
            problem(good.replacingOccurrences(of: "\"interactions\":26,", with: "\"interactions\":26,\"extra\":1,"))
                == "it has the key \"extra\", which is no panel column")
        #expect(
            problem(
                good.replacingOccurrences(of: "\"interactions\":26,", with: "\"interactions\":26,\"interactions\":1,"))
                == "the key \"interactions\" appears twice")
        #expect(
            problem(good.replacingOccurrences(of: "\"final\":false", with: "\"final\":0"))
                == "\"final\" is not true or false")
    }

    @Test func theCompactedPanelKeepsTheLastRevisionPerKeyInUserThenDateOrder() throws {
        let panel = CompactedPanel()
        // A later day of a lower user, revisions out of order, and a repeated line.
        let lines = [
            line(record(user: 20, day: 20_200_705, revision: 0)), line(record(user: 3, day: 20_200_706, revision: 0)),
            line(record(user: 20, day: 20_200_705, revision: 3, leads: 1)),
            line(record(user: 3, day: 20_200_705, revision: 0)),
            line(record(user: 20, day: 20_200_705, revision: 1, leads: 7)),
            line(record(user: 3, day: 20_200_706, revision: 0)),
        ]
        var added: [Bool] = []
        for (i, l) in lines.enumerated() {
            added.append(try l.withUnsafeBytes { try panel.add($0, lineNumber: i + 1, source: "t") })
        }
        #expect(added == [true, true, true, true, false, true])
        #expect(panel.keyCount == 3 && panel.finalKeyCount == 1)

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("panel-\(UUID().uuidString).csv").path
        defer { unlink(path) }
        #expect(try panel.writeCSV(toPath: path, withRevision: true, finalOnly: false) == 3)
        let rows = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").dropFirst()
            .map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        #expect(
            rows.map { "\($0[0]) \($0[1]) \($0[$0.count - 2]) \($0[$0.count - 1])" }
                == ["3 2020-07-05 0 false", "3 2020-07-06 0 false", "20 2020-07-05 3 true"])
        let lead = UserDayRecord.columnNames.firstIndex(of: "lead_1_active_day")!
        #expect(rows[2][lead] == "1.0" || rows[2][lead] == "1")
        #expect(try panel.writeCSV(toPath: path, withRevision: false, finalOnly: true) == 1)
        #expect(!FileManager.default.fileExists(atPath: path + ".partial"))

        let bad = Array("{\"user_id\":1}".utf8)
        #expect(throws: PanelExportError.self) {
            try bad.withUnsafeBytes { try panel.add($0, lineNumber: 9, source: "p.jsonl") }
        }
        do {
            try bad.withUnsafeBytes { _ = try panel.add($0, lineNumber: 9, source: "p.jsonl") }
        } catch let error as PanelExportError {
            #expect(
                error.kind == .notARecord
                    && error.message.hasPrefix("p.jsonl: line 9: not a panel record: the key(s) event_date"))
        }
    }
}
