import Foundation
import Testing
@testable import ReplayStream

/// Keeps every row an observer is shown, as comparable text.
final class RecordingObserver: IngestObserver {
    var begun: [InteractionColumns] = []
    var rows: [String] = []
    func begin(columns: InteractionColumns) throws { begun.append(columns) }
    /// Each row's video, and the video the pass said was ahead of it.
    var videos: [Int32] = []
    var hints: [Int32] = []
    func observe(_ row: NotebookRow) throws { rows.append(IngestParseStageTests.describe(row)) }
    func observe(_ row: NotebookRow, videoAhead: Int32) throws {
        videos.append(row.event.videoID)
        hints.append(videoAhead)
        try observe(row)
    }
}

/// The ingest pass's parse thread and fold over inputs of several blocks: every row reaches the observer, the
/// buckets and the rejects file once, in file order, whatever block it was parsed in; a row limit, a stop and
/// an error in a later block end the pass where they occur, with the same error as in a single block.
@Suite struct IngestParseStageTests {
    static let header = "user_id,video_id,play_duration,video_duration,time,date,timestamp,watch_ratio"

    /// A row as comparable text: every value the observer counts.
    static func describe(_ row: NotebookRow) -> String {
        guard row.isKept else { return "left out" }
        let e = row.event
        return
            "\(e.timestampMs) \(e.userID) \(e.videoID) \(e.playDurationMs) \(e.videoDurationMs) \(e.watchRatio.bitPattern) day \(row.dayRawValue) date \(row.eventDateRawValue) \(row.dateIsEmpty) \(row.timestampIsEmpty) time \(row.timeTextCount) \(row.timeTextMs)"
    }

    /// `count` rows over 40 users and 5 days, grouped by user, timestamps from 06:00 of their `date` label's day
    /// (Asia/Shanghai) to 24 hours later (a quarter of them on the next day): every 97th has neither date nor timestamp (rejected,
    /// kept by the notebook), every 331st an unreadable watch ratio (rejected and left out), every 1,009th a
    /// quoted time, every 4,001st a time field longer than any time text.
    static func csv(rows count: Int) -> [UInt8] {
        var text = header + "\n"
        for i in 0..<count {
            let user = i * 40 / count
            let day = 5 + i % 5
            let second = 1_593_900_000 + (day - 5) * 86_400 + (i &* 7_919) % 86_400
            var time = "2020-07-0\(day) 0\(i % 10):1\(i % 10):2\(i % 10).\(100 + i % 900)"
            if i % 1009 == 0 { time = "\"\(time)\"" }
            if i % 4001 == 0 { time = "2020-07-05 01:02:03.123456789012345678901234567890" }
            var date = "2020070\(day).0", timestamp = "\(second).\(100 + i % 900)"
            if i % 97 == 0 { (date, timestamp) = ("", "") }
            let ratio = i % 331 == 0 ? "abc" : "0.\(1000 + i % 9000)"
            text += "\(user),\(i % 777),\(1000 + i),\(20_000 + i % 50),\(time),\(date),\(timestamp),\(ratio)\n"
        }
        return Array(text.utf8)
    }

    /// The rows the observer should see: the whole input parsed on one thread, in one piece.
    static func expectedRows(_ bytes: [UInt8], limit: Int = .max) throws -> [String] {
        try expectedPass(bytes, limit: limit).rows
    }

    /// ``expectedRows(_:limit:)``, and how many of the rows are accepted with a `date` label that is not their
    /// timestamp's day.
    static func expectedPass(_ bytes: [UInt8], limit: Int = .max) throws -> (rows: [String], dateDisagreements: Int) {
        var disagreements = 0
        var assembler = CSVRecordAssembler()
        var splitter = CSVFieldSplitter()
        var columns: InteractionColumns?
        var decoder: InteractionDecoder?
        var timeCache = NaiveTimeText.DateCache()
        var rows: [String] = []
        let body: (UnsafeRawBufferPointer, Int64) throws -> Bool = { record, line in
            guard let c = columns else {
                if record.isEmpty { return true }
                columns = try Ingest.readHeader(record, line: line, splitter: &splitter)
                decoder = InteractionDecoder(columns: columns!, timeZone: TimeZone(identifier: "Asia/Shanghai")!)
                return true
            }
            if rows.count == limit { return false }
            let ok = splitter.split(record)
            let outcome = decoder!.decode(record, fields: splitter, fieldsOK: ok)
            if case .accepted(_, _, true) = outcome { disagreements += 1 }
            rows.append(describe(NotebookRow(record, fields: splitter, columns: c, outcome: outcome, timeCache: &timeCache)))
            return true
        }
        let goOn = try bytes.withUnsafeBytes { try assembler.feed($0, body) }
        if goOn { try assembler.finish(body) }
        return (rows, disagreements)
    }

    struct Pass {
        var summary: IngestSummary
        var rejects: [(line: Int64, reason: String, raw: [UInt8])]
        var observed: RecordingObserver
        var eventsInBuckets: Int
    }

    func ingest(
        _ bytes: [UInt8], rowLimit: Int? = nil, hashesContent: Bool = true, chunkBytes: Int? = nil,
        shouldStop: @escaping () -> Bool = { false }
    ) throws -> Pass {
        try IngestBadInputTests.withInput(bytes) { source, buckets, _ in
            let rejects = RecordingRejects()
            let observer = RecordingObserver()
            var options = IngestOptions(
                rowLimit: rowLimit, timeZone: TimeZone(identifier: "Asia/Shanghai")!, hashesContent: hashesContent)
            if let chunkBytes { options.chunkBytes = chunkBytes }
            let summary = try Ingest.run(
                source: source, options: options, buckets: buckets, rejects: rejects, shouldStop: shouldStop,
                observer: observer)
            return Pass(
                summary: summary, rejects: rejects.rows, observed: observer,
                eventsInBuckets: buckets.eventCounts.values.reduce(0, +))
        }
    }

    @Test func everyRowOfManyBlocksIsFoldedOnceInFileOrder() throws {
        let bytes = Self.csv(rows: 90_000)
        #expect(bytes.count > 6 << 20)  // more blocks than the parse ring and the inflate ring hold together
        let pass = try ingest(bytes)
        let expected = try Self.expectedRows(bytes)
        #expect(pass.observed.begun.count == 1)
        #expect(pass.observed.rows.count == expected.count)
        #expect(pass.observed.rows == expected)
        #expect(pass.summary.rowsRead == 90_000)
        #expect(pass.summary.rowsAccepted + pass.summary.rowsRejected == 90_000)
        #expect(pass.eventsInBuckets == pass.summary.rowsAccepted)
        #expect(pass.rejects.count == pass.summary.rowsRejected)
        // Rejects come in file order, each with its line and its own text.
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(pass.rejects.map(\.line) == pass.rejects.map(\.line).sorted())
        for reject in pass.rejects { #expect(String(decoding: reject.raw, as: UTF8.self) == lines[Int(reject.line) - 1]) }
        let missingTime = (0..<90_000).filter { $0 % 97 == 0 }.count
        #expect(pass.summary.rejected["missing_time"] == missingTime)
        #expect(pass.summary.content?.bytes == Int64(bytes.count))
        #expect(pass.summary.content?.readToEnd == true)
        let digest = XXH64()
        bytes.withUnsafeBytes { digest.update($0) }
        #expect(pass.summary.content == ContentDigest(bytes: Int64(bytes.count), xxh64: digest.value, readToEnd: true))
    }

    /// Without ``IngestOptions/hashesContent`` (a zip, identified by its directory) the pass records no content
    /// digest and reads, folds and counts exactly the same rows.
    @Test func aPassThatDoesNotHashRecordsNoDigestAndTheSameRows() throws {
        let bytes = Self.csv(rows: 30_000)
        let hashed = try ingest(bytes)
        let plain = try ingest(bytes, hashesContent: false)
        #expect(hashed.summary.content?.bytes == Int64(bytes.count))
        #expect(plain.summary.content == nil)
        #expect(plain.observed.rows == hashed.observed.rows)
        #expect(plain.eventsInBuckets == hashed.eventsInBuckets)
        var withoutDigest = hashed.summary
        withoutDigest.content = nil
        withoutDigest.inputLocation = plain.summary.inputLocation  // each pass reads its own temporary copy
        #expect(plain.summary == withoutDigest)
    }

    /// The observer is told, with each row, the video of the row ``Ingest/observerLookahead`` rows later (the last
    /// rows of a block: of a later row of the same block), for its prefetch.
    @Test func theObserverIsToldTheVideoOfTheRowEightAhead() throws {
        let bytes = Self.csv(rows: 90_000)
        let pass = try ingest(bytes)
        let (videos, hints) = (pass.observed.videos, pass.observed.hints)
        #expect(videos.count == 90_000 && hints.count == 90_000)
        let ahead = Ingest.observerLookahead
        var exact = 0
        for i in videos.indices {
            let j = min(i + ahead, videos.count - 1)
            if hints[i] == videos[j] {
                exact += 1
            } else {
                #expect((i..<j).contains { videos[$0] == hints[i] }, "row \(i) was told a video not in its next \(ahead) rows")
            }
        }
        // At most `ahead` rows a block are told a nearer row's video (blocks of up to 1 MiB; 64 KiB assumed here).
        #expect(exact >= videos.count - ahead * (bytes.count / (64 << 10) + 1))
    }

    /// The rows whose `date` label names another day than their timestamp are counted once each, in every block
    /// (a quarter of the generated rows), and only up to a row
    /// limit that ends the pass inside a block.
    @Test(arguments: [nil, 41_234, 2_000] as [Int?])
    func dateLabelDisagreementsAreCountedOncePerRow(rowLimit: Int?) throws {
        let bytes = Self.csv(rows: 60_000)
        let expected = try Self.expectedPass(bytes, limit: rowLimit ?? .max)
        #expect(expected.dateDisagreements > (rowLimit ?? 60_000) / 8)
        let pass = try ingest(bytes, rowLimit: rowLimit, chunkBytes: 64 << 10)
        #expect(pass.summary.dateLabelDisagreements == expected.dateDisagreements)
        #expect(pass.observed.rows == expected.rows)
    }

    @Test func aRowLimitInALaterBlockEndsThePassThere() throws {
        let bytes = Self.csv(rows: 60_000)
        let pass = try ingest(bytes, rowLimit: 41_234)
        #expect(pass.summary.rowsRead == 41_234)
        #expect(pass.observed.rows == (try Self.expectedRows(bytes, limit: 41_234)))
        #expect(pass.summary.content?.readToEnd == false)
        #expect(pass.eventsInBuckets == pass.summary.rowsAccepted)
    }

    @Test func aStopBetweenBlocksEndsThePass() throws {
        var polls = 0
        #expect(throws: IngestInterrupted.self) {
            _ = try ingest(Self.csv(rows: 60_000)) {
                polls += 1
                return polls == 2
            }
        }
        #expect(polls == 2)
    }

    @Test func aBadRecordInALaterBlockIsTheSameError() throws {
        // An unclosed quote three blocks in: everything after it is one record, longer than any record may be.
        var lines = String(decoding: Self.csv(rows: 40_000), as: UTF8.self).split(separator: "\n").map(String.init)
        lines.insert("1,2,\"3", at: 30_000)
        let bytes = Array((lines.joined(separator: "\n") + "\n" + String(repeating: "A", count: 1 << 20) + "\n").utf8)
        do {
            _ = try ingest(bytes)
            Issue.record("the pass should fail")
        } catch let error as CSVFormatError {
            #expect(error.source?.hasSuffix("m.csv") == true)
            #expect(error.message.contains("longer than"))
        }
    }

    /// The `time` field as a split row reads it: a field longer than any time text is a time in neither format
    /// (and names the fractional one, as its length would to pandas), an empty one is missing.
    @Test func aSplitRowReadsItsTimeFieldInTheFormatItsLengthNames() throws {
        let c = try InteractionColumns(header: Self.header.split(separator: ",").map(String.init))
        var splitter = CSVFieldSplitter()
        var decoder = InteractionDecoder(columns: c, timeZone: TimeZone(identifier: "UTC")!)
        var cache = NaiveTimeText.DateCache()
        let long = "2020-07-05 01:02:03.123456789012345678901234567890"
        let cases: [(String, empty: Bool, fraction: Bool, read: String?)] = [
            (long, false, true, nil), ("", true, false, nil), ("2020-07-05 01:02:03", false, false, "2020-07-05 01:02:03.000"),
            ("2020-07-05 01:02:03.5", false, true, "2020-07-05 01:02:03.500"),
        ]
        for (time, empty, fraction, read) in cases {
            let record = Array("1,2,3,4,\(time),20200705,1593910923.123,0.5".utf8)
            let row = record.withUnsafeBytes { bytes in
                let ok = splitter.split(bytes)
                let outcome = decoder.decode(bytes, fields: splitter, fieldsOK: ok)
                return NotebookRow(bytes, fields: splitter, columns: c, outcome: outcome, timeCache: &cache)
            }
            #expect(row.isKept)
            #expect(row.timeIsEmpty == empty && row.timeTextHasFraction == fraction, "\(time)")
            #expect(row.timeText(withFraction: fraction).map(NaiveTimeText.format) == read, "\(time)")
            #expect(row.timeText(withFraction: !fraction) == nil, "\(time)")
        }
    }

    /// An input with what makes chunks hard to cut: blank lines before the header over several chunks (the
    /// header is then a later chunk's), CRLF lines, quoted fields holding line ends, and rows rejected for them.
    static func awkwardCSV(rows count: Int) -> [UInt8] {
        var lines = String(decoding: csv(rows: count), as: UTF8.self).split(separator: "\n").map(String.init)
        for i in stride(from: lines.count - 1, through: 1, by: -977) {
            lines.insert("7,8,9,10,\"2020-07-05\n01:02:03.5\",20200705,1593910923.123,0.5", at: i)
        }
        for i in stride(from: lines.count - 1, through: 1, by: -1_501) { lines[i] += "\r" }
        return Array((String(repeating: "\n", count: 9_000) + lines.joined(separator: "\n") + "\n").utf8)
    }

    /// Cut into thousands of chunks of a few KB, read by two workers in turn, an input folds exactly as in chunks
    /// of 1 MiB (where it is one chunk): the same rows to the observer, the same rejects with the same lines
    /// and texts, the same summary.
    @Test func smallChunksFoldExactlyAsOneChunk() throws {
        let bytes = Self.awkwardCSV(rows: 12_000)
        let whole = try ingest(bytes)
        for chunkBytes in [64, 4_096] {
            let cut = try ingest(bytes, chunkBytes: chunkBytes)
            #expect(cut.observed.begun.count == 1)
            #expect(cut.observed.rows == whole.observed.rows, "chunks of \(chunkBytes) bytes")
            #expect(cut.rejects.map(\.line) == whole.rejects.map(\.line))
            #expect(cut.rejects.map(\.raw) == whole.rejects.map(\.raw))
            var summary = cut.summary
            summary.inputLocation = whole.summary.inputLocation  // each pass reads its own temporary copy
            #expect(summary == whole.summary)
            #expect(cut.eventsInBuckets == whole.eventsInBuckets)
        }
        #expect(whole.observed.rows == (try Self.expectedRows(bytes)))
        #expect(whole.summary.rowsRead > 12_000 && whole.summary.rowsRejected > 0)
    }

    /// A row limit that falls inside a small chunk ends the pass at the same row as in one chunk, with no row
    /// or reject past it; the digest covers the chunks read.
    @Test func aRowLimitInsideASmallChunkEndsThePassThere() throws {
        let bytes = Self.awkwardCSV(rows: 8_000)
        for limit in [1, 331, 5_000] {
            let whole = try ingest(bytes, rowLimit: limit)
            let cut = try ingest(bytes, rowLimit: limit, chunkBytes: 1_000)
            #expect(cut.summary.rowsRead == limit)
            #expect(cut.observed.rows == whole.observed.rows)
            #expect(cut.observed.rows == (try Self.expectedRows(bytes, limit: limit)))
            #expect(cut.rejects.map(\.line) == whole.rejects.map(\.line))
            var (a, b) = (cut.summary, whole.summary)
            #expect(a.content?.readToEnd == false && b.content?.readToEnd == false)
            let prefix = Array(bytes[0..<Int(a.content!.bytes)])
            let digest = XXH64()
            prefix.withUnsafeBytes { digest.update($0) }
            #expect(a.content == ContentDigest(bytes: Int64(prefix.count), xxh64: digest.value, readToEnd: false))
            (a.content, b.content) = (nil, nil)
            a.inputLocation = b.inputLocation
            a.bytesRead = b.bytesRead  // how far the source was read ahead when the pass stopped
            #expect(a == b)
        }
    }

    /// What is wrong after the row limit is not read: a pass whose limit falls before an over-long record or an
    /// unclosed quote ends at the limit, in chunks of 1 MiB or of 4 KB; one whose limit falls after them fails.
    @Test func whatIsWrongPastTheRowLimitIsNotRead() throws {
        let rows = String(decoding: Self.csv(rows: 3_000), as: UTF8.self)
        for tail in ["1,2,\"3\n4,5", String(repeating: "x", count: (1 << 20) + 10) + "\n"] {
            let input = Array((rows + tail).utf8)
            for chunkBytes in [nil, 4_096] {
                let pass = try ingest(input, rowLimit: 2_000, chunkBytes: chunkBytes)
                #expect(pass.summary.rowsRead == 2_000)
                #expect(pass.summary.content?.readToEnd == false)
            }
            #expect(throws: CSVFormatError.self) { try ingest(input, rowLimit: 3_001) }
        }
    }

    /// Errors found in a later small chunk: the same error, at the same line, as in one chunk.
    @Test func errorsInALaterSmallChunkAreTheSame() throws {
        let rows = String(decoding: Self.csv(rows: 3_000), as: UTF8.self)
        let inputs = [
            rows + "1,2,\"3\n" + String(repeating: "4,", count: 600_000) + "\n",  // an unclosed quote: one record too long
            rows + "1,2,\"3,4\n5,6",  // a quote never closed before the end
            rows + String(repeating: "x", count: (1 << 20) + 10) + "\n9,9\n",  // one line too long
        ]
        for input in inputs.map({ Array($0.utf8) }) {
            func failure(_ chunkBytes: Int?) -> CSVFormatError? {
                do {
                    _ = try ingest(input, chunkBytes: chunkBytes)
                    return nil
                } catch { return error as? CSVFormatError }
            }
            let whole = try #require(failure(nil))
            let cut = try #require(failure(4_096))
            #expect(cut.line == whole.line && cut.message == whole.message)
            #expect(whole.line == 3_002)
        }
    }

}

/// ``NotebookRows``: a block's rows, appended past every growth of its memory, cut at a row limit and emptied
/// for the next chunk keep exactly the rows appended, in order.
@Suite struct NotebookRowsTests {
    private static func row(_ i: Int, cache: inout NaiveTimeText.DateCache) -> NotebookRow {
        let event = Interaction(
            timestampMs: 1_593_878_400_000 + Int64(i), userID: Int32(i % 7_176), videoID: Int32(i % 10_728),
            playDurationMs: Int64(i), videoDurationMs: Int64(2 * i + 1), watchRatio: Double(i) / 7)
        return Array("2020-07-05 00:00:00.000".utf8).withUnsafeBytes {
            NotebookRow(accepted: event, day: CalendarDay(rawValue: Int32(18_448 + i % 3)), timeText: $0, timeCache: &cache)
        }
    }

    @Test func rowsAppendedThroughEveryGrowthAreKeptInOrder() {
        var cache = NaiveTimeText.DateCache()
        var rows = NotebookRows()
        defer { rows.deallocate() }
        #expect(rows.buffer.isEmpty)
        for i in 0..<20_000 { rows.append(Self.row(i, cache: &cache)) }
        #expect(rows.count == 20_000)
        #expect(rows.buffer.map(\.event) == (0..<20_000).map { Self.row($0, cache: &cache).event })
        #expect(rows.buffer.map(\.dayRawValue) == (0..<20_000).map { Int32(18_448 + $0 % 3) })
        rows.keepFirst(12_345)
        #expect(rows.buffer.map(\.event.playDurationMs) == (0..<12_345).map { Int64($0) })
        rows.removeAll()
        #expect(rows.buffer.isEmpty)
        for i in 50_000..<50_100 { rows.append(Self.row(i, cache: &cache)) }
        #expect(rows.buffer.map(\.event.playDurationMs) == (50_000..<50_100).map { Int64($0) })
    }
}
