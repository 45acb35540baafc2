import Foundation
import Testing
import ReplaySink
import ReplayStream

/// A JSON value decoded with JSONDecoder (on Linux, `JSONSerialization`'s NSNumber → Double bridge
/// is not exact, so it cannot be the oracle for doubles).
enum JSONValue: Decodable, Equatable {
    case null, bool(Bool), int(Int), double(Double), string(String)
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else { self = .string(try c.decode(String.self)) }
    }
}

func decodeLine(_ bytes: [UInt8]) throws -> [String: JSONValue] {
    try JSONDecoder().decode([String: JSONValue].self, from: Data(bytes))
}

@Suite struct PanelLinesSinkTests {
    func record(revision: Int = 0, leads: LeadValues = LeadValues(repeating: .nan)) -> UserDayRecord {
        var d = DailyValues()
        d.interactions = 26
        d.uniqueVideos = 25
        d.totalPlayDurationMs = 240_975
        d.avgPlayDurationMs = 9268.26923076923
        d.avgVideoDurationMs = 10187.653846153846
        d.avgWatchRatio = 1.0844813553059367
        d.highWatchCount = 15
        d.completeOrRewatchCount = 12
        d.totalPlayDurationSec = 240.975
        d.avgPlayDurationSec = 9.26826923076923
        d.avgVideoDurationSec = 10.187653846153846
        d.highWatchShare = 0.5769230769230769
        d.completeOrRewatchShare = 0.46153846153846156
        d.activeDay = 1
        return UserDayRecord(
            userID: 14, day: CalendarDay(yyyymmdd: 20200705)!, daily: d, lag1: [1, 23, 248.344, 1e-05, 0.5],
            prior3: [3, 127, 1145.8, 2.9, 1.5], leads: leads, treatmentHighIntensity: 0, treatmentHighWatchExposure: 1,
            revision: revision, isFinal: revision > 0)
    }

    @Test func linesParseAndKeepTheNotebookColumnOrder() throws {
        let bytes = PanelLinesSink.render(record())
        #expect(bytes.last == 0x0A)
        let object = try decodeLine(bytes)
        #expect(object.count == UserDayRecord.columnNames.count + 2)
        #expect(object["user_id"] == .int(14))
        #expect(object["event_date"] == .string("2020-07-05"))
        #expect(object["avg_watch_ratio"] == .double(1.0844813553059367))
        #expect(object["avg_play_duration_ms"] == .double(9268.26923076923))
        #expect(object["lag_1_interactions"] == .int(23))
        #expect(object["lag_1_avg_watch_ratio"] == .double(1e-05))
        #expect(object["lead_1_active_day"] == .null)
        #expect(object["future_7day_play_duration_sec"] == .null)
        #expect(object["revision"] == .int(0) && object["final"] == .bool(false))
        // Keys appear in the notebook's order.
        let text = String(decoding: bytes, as: UTF8.self)
        var last = text.startIndex
        for name in UserDayRecord.columnNames {
            let range = try #require(text.range(of: "\"\(name)\":", range: last..<text.endIndex))
            last = range.upperBound
        }
    }

    @Test func leadsAndFuturesAreWritten() throws {
        var leads = LeadValues(repeating: .nan)
        for h in 0..<7 {
            leads[h] = 1
            leads[7 + h] = Double(10 + h)
            leads[14 + h] = 0.1 * Double(h + 1)
        }
        let object = try decodeLine(PanelLinesSink.render(record(revision: 3, leads: leads)))
        #expect(object["next_day_interactions"] == .int(10))
        #expect(object["future_3day_interactions"] == .int(33))
        #expect(object["future_7day_active_days"] == .int(7))
        #expect(object["future_3day_play_duration_sec"] == .double((0.1 + 0.2) + 0.30000000000000004))
        #expect(object["final"] == .bool(true))
    }

    /// A record re-issued with other values (a late row revised its day), and an earlier record whose
    /// lead changed with it, are rendered from their own values, not from the renderings kept of
    /// earlier revisions: every line equals the record rendered alone.
    @Test func reissuedRecordsAreRenderedFromTheirOwnValues() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sink-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("panel.jsonl").path
        let output = try ByteOutput(path: path, resumeAt: nil)
        defer { try? output.close() }
        let sink = try PanelLinesSink(output: output)
        var earlier = record(revision: 0)
        earlier.isFinal = false
        var later = earlier
        later.day = earlier.day.adding(1)
        var written = [earlier, later]
        // The later day is revised: other aggregates and flags.
        var revisedLater = later
        revisedLater.daily.interactions += 1
        revisedLater.daily.totalPlayDurationSec = 250.5
        revisedLater.treatmentHighIntensity = 1
        revisedLater.revision = 1
        // The earlier day's lead_1 now carries the revised play time (not the text kept of the first one).
        var earlierWithLead = earlier
        earlierWithLead.leads[2 * 7] = 250.5
        earlierWithLead.leads[0] = 1
        earlierWithLead.leads[7] = 27
        earlierWithLead.revision = 1
        written += [earlierWithLead, revisedLater]
        for r in written { try sink.write(r) }
        _ = try sink.flush()
        let expected = written.flatMap { PanelLinesSink.render($0) }
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == expected)
        let object = try decodeLine(PanelLinesSink.render(earlierWithLead))
        #expect(object["lead_1_total_play_duration_sec"] == .double(250.5))
    }

    /// The text a rejects writer wrote to a new file after `body`.
    func rejectsText(_ body: (JSONRejectsWriter) throws -> Void) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sink-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("rejects.jsonl").path
        let output = try ByteOutput(path: path, resumeAt: nil)
        defer { try? output.close() }
        let writer = JSONRejectsWriter(output: output)
        try body(writer)
        try writer.sync()
        return try String(contentsOfFile: path, encoding: .utf8)
    }

    @Test func rejectsEscapeAnyBytes() throws {
        let nasty: [UInt8] = [0x22, 0x5C, 0x00, 0x01, 0x1F, 0x0A, 0xFF, 0xC3, 0x28, 0xE4, 0xB8, 0xAD, 0x7F]
        let line = try rejectsText { writer in
            try nasty.withUnsafeBytes { try writer.reject(line: 7, reason: .invalidID, raw: $0) }
        }
        #expect(line.split(separator: "\n").count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["line"] as? Int == 7 && object["reason"] as? String == "invalid_id")
        let raw = try #require(object["raw"] as? String)
        #expect(raw.hasPrefix("\"\\\u{0}\u{1}\u{1F}\n"))
        #expect(raw.contains("中"))
    }

    @Test func rejectLinesAreExactForPlainAndEscapedRows() throws {
        // Printable ASCII (copied at once), then a quote, a backslash, DEL and a tab (escaped or kept byte by byte).
        let text = try rejectsText { writer in
            for (i, raw) in ["5,368,5776,7022,,,,0.82", "a\"b\\c", "x\u{7F}y\tz", ""].enumerated() {
                try Array(raw.utf8).withUnsafeBytes { try writer.reject(line: Int64(i + 2), reason: .missingTime, raw: $0) }
            }
        }
        #expect(
            text == """
                {"line":2,"reason":"missing_time","raw":"5,368,5776,7022,,,,0.82"}
                {"line":3,"reason":"missing_time","raw":"a\\"b\\\\c"}
                {"line":4,"reason":"missing_time","raw":"x\u{7F}y\\tz"}
                {"line":5,"reason":"missing_time","raw":""}

                """)
    }

    @Test func outputIsCutBackToTheCommittedLengthOnResume() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sink-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("out.jsonl").path
        do {
            let out = try ByteOutput(path: path, resumeAt: nil)
            try out.append(Array("first\n".utf8))
            #expect(try out.sync() == 6)
            try out.append(Array("torn li".utf8))
            // The torn line reaches the file before the resume opens it (closing writes what is buffered).
            try out.close()
        }
        let resumed = try ByteOutput(path: path, resumeAt: 6)
        try resumed.append(Array("second\n".utf8))
        _ = try resumed.sync()
        try resumed.close()
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "first\nsecond\n")
        #expect(throws: DamagedFileError.self) { _ = try ByteOutput(path: path, resumeAt: 1000) }
        // A fresh run starts the file anew.
        try ByteOutput(path: path, resumeAt: nil).close()
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "")
    }
}

/// The joined columns as the sink writes them: after the treatment flags, before `revision`.
@Suite struct ContextColumnsRenderingTests {
    func context() -> PanelContextColumns {
        PanelContextColumns(
            userFeatures: UserFeatureTable(
                columns: ["user_active_degree", "follow_user_num_range", "follow_user_num", "onehot_feat4"],
                rows: [(14, ["full_active", "(0,10]", "12", "1"]), (15, ["say \"hi\"", "0", "3", nil])], reserved: []),
            itemContext: true)
    }

    func record(user: Int32) -> UserDayRecord {
        var r = PanelLinesSinkTests().record()
        r.userID = user
        r.daily.itemContext.itemMeanShowCount = 1758.8
        r.daily.itemContext.itemFirstCategories = 13
        return r
    }

    @Test func jsonLinesCarryTypedValuesAndNulls() throws {
        let line = PanelLinesSink.render(record(user: 14), format: .jsonl, context: context())
        let text = String(decoding: line, as: UTF8.self)
        #expect(text.contains(
            "\"treatment_high_watch_exposure\":1,\"user_active_degree\":\"full_active\",\"follow_user_num_range\":\"(0,10]\",\"follow_user_num\":12,\"onehot_feat4\":1.0,\"item_mean_show_cnt\":1758.8,\"item_mean_play_rate\":null,\"item_first_categories\":13,\"revision\":0"))
        let missing = try decodeLine(PanelLinesSink.render(record(user: 99), format: .jsonl, context: context()))
        #expect(missing["user_active_degree"] == .null && missing["follow_user_num"] == .null)
        let quoted = try decodeLine(PanelLinesSink.render(record(user: 15), format: .jsonl, context: context()))
        #expect(quoted["user_active_degree"] == .string("say \"hi\"") && quoted["onehot_feat4"] == .null)
    }

    @Test func csvQuotesOnlyWhatNeedsIt() {
        let header = String(decoding: PanelLinesSink.csvHeader(context: context()), as: UTF8.self)
        #expect(header.hasSuffix(
            ",treatment_high_watch_exposure,user_active_degree,follow_user_num_range,follow_user_num,onehot_feat4,item_mean_show_cnt,item_mean_play_rate,item_first_categories,revision,final\n"))
        let row = String(decoding: PanelLinesSink.render(record(user: 14), format: .csv, context: context()), as: UTF8.self)
        #expect(row.hasSuffix(",1,full_active,\"(0,10]\",12,1.0,1758.8,,13,0,false\n"))
        let other = String(decoding: PanelLinesSink.render(record(user: 15), format: .csv, context: context()), as: UTF8.self)
        #expect(other.hasSuffix(",1,\"say \"\"hi\"\"\",0,3,,1758.8,,13,0,false\n"))
        let none = String(decoding: PanelLinesSink.render(record(user: 99), format: .csv, context: context()), as: UTF8.self)
        #expect(none.hasSuffix(",1,,,,,1758.8,,13,0,false\n"))
    }
}

/// A batch of final records rendered on two cores (``PanelLinesSink/write(contentsOf:onTwoCores:)``) is written as
/// one thread writes it, byte for byte; a batch that holds a record that is not final, or a sink that keeps
/// renderings, is written on one.
@Suite struct TwoCoreRenderingTests {
    /// `count` records of several users over days that change inside the batch, their values varied.
    func records(_ count: Int, final: Bool = true) -> [UserDayRecord] {
        (0..<count).map { i in
            var r = ContextColumnsRenderingTests().record(user: Int32(14 + i % 3))
            r.day = CalendarDay(yyyymmdd: 20200705)!.adding(i / 37)
            r.daily.interactions = i
            r.daily.avgWatchRatio = Double(i) / 7
            r.daily.totalPlayDurationSec = Double(i) * 0.1
            r.lag1[2] = Double(i) / 3
            r.leads[i % 21] = Double(i) / 11
            r.revision = final ? 3 : 0
            r.isFinal = final
            return r
        }
    }

    /// The bytes `records` make through `write(contentsOf:onTwoCores:)` in batches of `batch`, and how many batches
    /// were rendered on two cores.
    func written(
        _ records: [UserDayRecord], format: PanelFormat, context: PanelContextColumns, batch: Int, onTwoCores: Bool,
        keepFirst: UserDayRecord? = nil
    ) throws -> (bytes: [UInt8], onTwoCores: Int) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("two-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("panel").path
        let output = try ByteOutput(path: path, resumeAt: nil)
        let sink = try PanelLinesSink(output: output, format: format, context: context)
        if let keepFirst { try sink.write(keepFirst) }
        var start = 0
        while start < records.count {
            let end = min(records.count, start + batch)
            try records[start..<end].withUnsafeBufferPointer { try sink.write(contentsOf: $0, onTwoCores: onTwoCores) }
            start = end
        }
        try output.close()
        return (try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))), sink.batchesOnTwoCores)
    }

    @Test(arguments: [PanelFormat.jsonl, .csv])
    func twoCoresWriteTheBytesOneWrites(format: PanelFormat) throws {
        for context in [PanelContextColumns.none, ContextColumnsRenderingTests().context()] {
            let all = records(1_000)
            let one = try written(all, format: format, context: context, batch: 1_024, onTwoCores: false)
            #expect(one.bytes.count > 100_000 && one.onTwoCores == 0)
            for batch in [PanelLinesSink.twoCoreMinimum - 1, PanelLinesSink.twoCoreMinimum, 333, 1_024] {
                let two = try written(all, format: format, context: context, batch: batch, onTwoCores: true)
                #expect(two.bytes == one.bytes, "batch \(batch)")
                // Every whole batch of at least the minimum on two cores (a last, shorter one on one).
                let whole = all.count / batch, last = all.count % batch
                let expected = batch < PanelLinesSink.twoCoreMinimum ? 0 : whole + (last >= PanelLinesSink.twoCoreMinimum ? 1 : 0)
                #expect(two.onTwoCores == expected, "batch \(batch)")
            }
        }
        // Not every record final, or a rendering kept: the same bytes too, written on one core.
        let mixed = records(200) + records(200, final: false)
        let mixedTwo = try written(mixed, format: format, context: .none, batch: 400, onTwoCores: true)
        #expect(mixedTwo.bytes == (try written(mixed, format: format, context: .none, batch: 400, onTwoCores: false)).bytes)
        #expect(mixedTwo.onTwoCores == 0)
        var kept = records(1, final: false)[0]
        kept.day = kept.day.adding(-1)
        let keptTwo = try written(records(300), format: format, context: .none, batch: 300, onTwoCores: true, keepFirst: kept)
        #expect(keptTwo.bytes == (try written(records(300), format: format, context: .none, batch: 300, onTwoCores: false, keepFirst: kept)).bytes)
        #expect(keptTwo.onTwoCores == 0)
    }
}
