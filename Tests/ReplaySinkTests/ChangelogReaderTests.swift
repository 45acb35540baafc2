import Foundation
import ReplaySink
import ReplayStream
import Testing

/// ``ChangelogReader`` read from the end backwards and started at an offset (`replay tail -n N`, `tail -f`),
/// and ``PanelFieldSelection`` (`tail --fields`).
@Suite struct ChangelogReaderTests {
    func file(_ text: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("changelog-\(UUID().uuidString).jsonl")
        try Data(text.utf8).write(to: url)
        return url
    }

    /// Every line `readLinesBackward` delivers (the last first), with its completeness.
    func backward(_ text: String, blockSize: Int) throws -> ([(String, Bool)], ChangelogReader.BackwardEnd) {
        let url = try file(text)
        defer { try? FileManager.default.removeItem(at: url) }
        let reader = try ChangelogReader(path: url.path)
        var lines: [(String, Bool)] = []
        let end = try reader.readLinesBackward(from: reader.fileSize, blockSize: blockSize) { line, complete in
            lines.append((String(decoding: line, as: UTF8.self), complete))
            return true
        }
        return (lines, end)
    }

    @Test func linesReadBackwardsAreTheLinesInReverseWhateverTheBlockSize() throws {
        let texts = ["", "a\n", "a\nbb\n\nccc\n", "a\nbb\npartial", "only partial", "\n\n", "x\n" + String(repeating: "y", count: 300) + "\nz\n"]
        for text in texts {
            var forward = text.split(separator: "\n", omittingEmptySubsequences: false).map { (String($0), true) }
            forward[forward.count - 1].1 = false  // what follows the last newline
            if forward.last!.0.isEmpty { forward.removeLast() }
            let expected = Array(forward.reversed())
            for blockSize in [1, 2, 3, 7, 64, 1 << 16] {
                let (lines, end) = try backward(text, blockSize: blockSize)
                #expect(end == .reachedTop)
                #expect(lines.map(\.0) == expected.map(\.0), "\(text.debugDescription), block \(blockSize)")
                #expect(lines.map(\.1) == expected.map(\.1), "\(text.debugDescription), block \(blockSize)")
            }
        }
    }

    @Test func backwardsStopsWhenAskedAndRefusesAnOverlongLine() throws {
        let url = try file("1\n2\n3\n4\n")
        defer { try? FileManager.default.removeItem(at: url) }
        let reader = try ChangelogReader(path: url.path)
        var seen: [String] = []
        let end = try reader.readLinesBackward(from: reader.fileSize, blockSize: 3) { line, _ in
            seen.append(String(decoding: line, as: UTF8.self))
            return seen.count < 2
        }
        #expect(end == .stopped && seen == ["4", "3"])
        let long = try backward("a\n" + String(repeating: "x", count: ChangelogReader.maxLineBytes + 10) + "\n", blockSize: 1 << 16)
        #expect(long.1 == .lineTooLong && long.0.isEmpty)
    }

    @Test func aReaderStartedAtAnOffsetReadsOnFromThereAndSeesRewrites() throws {
        let url = try file("one\ntwo\nthr")
        defer { try? FileManager.default.removeItem(at: url) }
        let reader = try ChangelogReader(path: url.path)
        try reader.startReading(at: 8)
        #expect(try reader.lineCount(before: 8) == 2)
        var lines: [String] = []
        let collect: (UnsafeRawBufferPointer) -> Bool = { lines.append(String(decoding: $0, as: UTF8.self)); return true }
        try reader.readAvailable(collect)
        #expect(lines.isEmpty && reader.heldBackBytes == 3)
        let handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
        handle.write(Data("ee\nfour\n".utf8))
        try handle.close()
        #expect(reader.change() == .none)
        try reader.readAvailable(collect)
        #expect(lines == ["three", "four"])
        // The bytes before the start changed: another run rewrote the file.
        let rewrite = try FileHandle(forWritingTo: url)
        rewrite.write(Data("ONE".utf8))
        try rewrite.close()
        #expect(reader.change() == .rewritten)
    }

    @Test func aSelectionPrintsTheChosenValuesAsWritten() throws {
        let line = Array(
            ("{\"user_id\":14,\"event_date\":\"2020-07-05\",\"avg_watch_ratio\":1.0844813553059367,\"lag_1_interactions\":null,"
                + "\"revision\":2,\"final\":true}").utf8)
        let selection = try PanelFieldSelection(["final", "event_date", "avg_watch_ratio", "lag_1_interactions", "user_id"])
        #expect(String(decoding: selection.header, as: UTF8.self) == "final\tevent_date\tavg_watch_ratio\tlag_1_interactions\tuser_id")
        // A real record holds every column: build one from the sink's own line.
        var d = DailyValues()
        d.interactions = 26
        d.avgWatchRatio = 1.0844813553059367
        let record = UserDayRecord(
            userID: 14, day: CalendarDay(yyyymmdd: 20_200_705)!, daily: d, lag1: [.nan, .nan, .nan, .nan, .nan],
            prior3: [0, 0, 0, 0, 0], leads: LeadValues(repeating: .nan), treatmentHighIntensity: 0,
            treatmentHighWatchExposure: 1, revision: 2, isFinal: true)
        let full = Array(PanelLinesSink.render(record).dropLast())
        let reader = PanelCSVWriter()
        var json: [UInt8] = [], tsv: [UInt8] = []
        try full.withUnsafeBytes { try selection.append($0, as: .json, reader: reader, to: &json) }
        try full.withUnsafeBytes { try selection.append($0, as: .tsv, reader: reader, to: &tsv) }
        #expect(
            String(decoding: json, as: UTF8.self)
                == "{\"final\":true,\"event_date\":\"2020-07-05\",\"avg_watch_ratio\":1.0844813553059367,\"lag_1_interactions\":null,\"user_id\":14}")
        #expect(String(decoding: tsv, as: UTF8.self) == "true\t2020-07-05\t1.0844813553059367\t\t14")
        // A line that is not a record is refused, and the output is left alone.
        var out: [UInt8] = []
        #expect(throws: PanelCSVWriter.LineProblem.self) { try line.withUnsafeBytes { try selection.append($0, as: .json, reader: reader, to: &out) } }
        #expect(out.isEmpty)
        #expect(throws: PanelFieldSelection.Problem.unknown(["nope"])) { try PanelFieldSelection(["user_id", "nope"]) }
        #expect(throws: PanelFieldSelection.Problem.repeated("user_id")) { try PanelFieldSelection(["user_id", "user_id"]) }
        #expect(throws: PanelFieldSelection.Problem.empty) { try PanelFieldSelection([]) }
    }
}
