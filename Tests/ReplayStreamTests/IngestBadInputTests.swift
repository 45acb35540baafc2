import Foundation
import Testing
@testable import ReplayStream

/// Keeps rejected rows in memory.
final class RecordingRejects: RejectWriter {
    var rows: [(line: Int64, reason: String, raw: [UInt8])] = []
    func reject(line: Int64, reason: RejectReason, raw: UnsafeRawBufferPointer) throws {
        rows.append((line, reason.rawValue, Array(raw)))
    }
}

/// The ingest pass on small CSV files written in the test.
@Suite struct IngestBadInputTests {
    static let header = "user_id,video_id,play_duration,video_duration,time,date,timestamp,watch_ratio"
    static let rows = [
        "14,148,4381,6067,2020-07-05 05:27:48.378,20200705.0,1593898068.378,0.7221031811438932",
        "14,183,11635,6100,2020-07-05 05:28:00.057,20200705.0,1593898080.057,1.907377049180328",
        "15,183,100,6100,2020-07-06 05:28:00.057,20200706.0,1593984480.057,0.0163",
    ]

    struct Run {
        var summary: IngestSummary
        var rejects: [(line: Int64, reason: String, raw: [UInt8])]
        /// Each day's events in replay order, read before the temporary folder goes.
        var events: [CalendarDay: [Interaction]]
        /// What `DayBuckets.verify` said about the buckets for the accepted count.
        var damage: String?
    }

    func ingest(
        _ bytes: [UInt8], options: IngestOptions = IngestOptions(timeZone: TimeZone(identifier: "Asia/Shanghai")!),
        dedupe: Bool = false, progress: @escaping (URL) -> Void = { _ in }
    ) throws -> Run {
        try Self.withInput(bytes) { source, buckets, csv in
            let rejects = RecordingRejects()
            var summary = try Ingest.run(
                source: source, options: options, buckets: buckets, rejects: rejects, progress: { _, _ in progress(csv) })
            if dedupe { try Ingest.dropExactDuplicates(in: buckets, summary: &summary) }
            var events: [CalendarDay: [Interaction]] = [:]
            for day in buckets.eventCounts.keys { events[day] = try buckets.sortedEvents(for: day) }
            return Run(
                summary: summary, rejects: rejects.rows, events: events,
                damage: buckets.verify(expectedEvents: summary.rowsAccepted))
        }
    }

    /// Calls `body` with `bytes` written as a CSV in a temporary folder (removed afterwards), opened as the input,
    /// empty day buckets beside it, and the CSV's URL.
    static func withInput<T>(_ bytes: [UInt8], _ body: (MatrixSource, DayBuckets, URL) throws -> T) throws -> T {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("replay-ingest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = dir.appendingPathComponent("m.csv")
        try Data(bytes).write(to: csv)
        let buckets = try DayBuckets(directory: dir.appendingPathComponent("events"))
        defer { buckets.settleWrites() }  // before the folder is removed: the ingest leaves its fsync running
        return try body(MatrixSource.open(input: csv.path, matrix: .small), buckets, csv)
    }

    @Test func textQuirksAreReadLikePandasReadsThem() throws {
        // Byte-order mark, quoted header names, blank lines before the header and between rows, CRLF,
        // columns in another order plus an extra one, quoted values, no newline after the last row.
        let header = "\u{FEFF}\"watch_ratio\",extra,timestamp,date,time,video_duration,play_duration,video_id,user_id"
        var lines = ["", "\r", header]
        for row in Self.rows {
            let f = row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            lines.append("\(f[7]),\"a,\"\"b\"\"\",\(f[6]),\(f[5]),\"\(f[4])\",\(f[3]),\(f[2]),\(f[1]),\(f[0])")
            lines.append("")
        }
        let text = lines.joined(separator: "\r\n").trimmingCharacters(in: .newlines)
        let quirky = try ingest(Array(text.utf8))
        let plain = try ingest(Array(([Self.header] + Self.rows).joined(separator: "\n").utf8 + [0x0A]))
        #expect(quirky.summary.rowsRead == 3 && quirky.summary.rowsAccepted == 3 && quirky.rejects.isEmpty)
        var a = quirky.summary, b = plain.summary
        (a.inputLocation, a.bytesRead, b.inputLocation, b.bytesRead) = ("", 0, "", 0)
        (a.content, b.content) = (nil, nil)  // other bytes, the same rows
        #expect(a == b)
        #expect(quirky.events.values.map(\.count).reduce(0, +) == 3)
        #expect(quirky.events == plain.events)
    }

    @Test func rowsReadIsAcceptedPlusRejectedAndRejectsKeepLineAndRawText() throws {
        let bad = ["1,2,3,0,x,20200705,1593898068.378,inf", "1,2,3,4,x,20200231,,0.5", "garbage", "1,2,3,4,x,,,0.5"]
        let text = ([Self.header, Self.rows[0], bad[0], "", bad[1], bad[2], Self.rows[1], bad[3]]).joined(separator: "\n")
        let run = try ingest(Array(text.utf8))
        #expect(run.summary.rowsRead == 6)
        #expect(run.summary.rowsAccepted == 2 && run.summary.rowsRejected == 4)
        #expect(run.summary.rowsRead == run.summary.rowsAccepted + run.summary.rowsRejected)
        #expect(run.rejects.map(\.line) == [3, 5, 6, 8])
        #expect(run.rejects.map(\.reason) == ["zero_video_duration", "invalid_date", "wrong_field_count", "missing_time"])
        #expect(run.rejects.map { String(decoding: $0.raw, as: UTF8.self) } == bad)
        #expect(run.summary.rejected == ["zero_video_duration": 1, "invalid_date": 1, "wrong_field_count": 1, "missing_time": 1])
    }

    @Test func aBinaryFileIsNotTakenForACSV() {
        var bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00]
        bytes += Array("\n1,2\n".utf8)
        #expect {
            _ = try ingest(bytes)
        } throws: { error in
            "\(error)".contains("neither an archive") && "\(error)".contains("89 50 4e 47")
        }
    }

    @Test func aHeaderWithoutARequiredColumnStopsBeforeAnyRow() throws {
        let text = "user_id,video_id,play_duration,time,date,timestamp,watch_ratio\n" + Self.rows[0] + "\n"
        #expect {
            _ = try ingest(Array(text.utf8))
        } throws: { error in
            guard let e = error as? CSVFormatError else { return false }
            return e.line == 1 && e.message.contains("lacks the column(s) video_duration")
        }
    }

    @Test func moreThanMaxBytesIsRefused() throws {
        let text = ([Self.header] + Array(repeating: Self.rows[0], count: 200)).joined(separator: "\n")
        var options = IngestOptions(timeZone: TimeZone(identifier: "Asia/Shanghai")!)
        options.maxBytes = 4096
        #expect {
            _ = try ingest(Array(text.utf8), options: options)
        } throws: { error in
            switch (error as? IngestLimitError)?.limit {
            case .statedSize(_, let maxBytes), .expandedSize(let maxBytes, _): return maxBytes == 4096
            default: return false
            }
        }
        options.maxBytes = Int64(text.utf8.count)
        #expect(try ingest(Array(text.utf8), options: options).summary.rowsAccepted == 200)
    }

    @Test func anOverlongLineIsAnErrorWithItsLineNumber() throws {
        let long = String(repeating: "9", count: (1 << 20) + 10)
        let text = [Self.header, Self.rows[0], "1,2,3,4,x,20200705,1593898068.378,\(long)", Self.rows[1]].joined(separator: "\n")
        #expect {
            _ = try ingest(Array(text.utf8))
        } throws: { error in
            guard let e = error as? CSVFormatError else { return false }
            return e.line == 3 && e.message.contains("longer than 1048576 bytes") && e.source != nil
        }
    }

    @Test func aFileThatChangesWhileReadIsRefused() throws {
        let text = ([Self.header] + Self.rows).joined(separator: "\n") + "\n"
        #expect {
            _ = try ingest(Array(text.utf8)) { csv in
                // The download goes on while we read: append a row.
                let handle = try! FileHandle(forWritingTo: csv)
                handle.seekToEndOfFile()
                handle.write(Data((Self.rows[0] + "\n").utf8))
                try! handle.close()
            }
        } throws: { error in
            (error as? InputError)?.message.contains("changed while it was being read") == true
        }
    }

    @Test func dedupeDropsExactDuplicatesAndCountsThem() throws {
        // Row 0 three times (one with another watch_ratio: not a duplicate), row 1 twice.
        let other = Self.rows[0].replacingOccurrences(of: "0.7221031811438932", with: "0.5")
        let text = [Self.header, Self.rows[0], Self.rows[1], Self.rows[0], other, Self.rows[1], Self.rows[0], Self.rows[2]]
            .joined(separator: "\n")
        let kept = try ingest(Array(text.utf8))
        #expect(kept.summary.rowsAccepted == 7 && kept.summary.duplicatesDropped == 0)
        let dropped = try ingest(Array(text.utf8), dedupe: true)
        #expect(dropped.summary.duplicatesDropped == 3)
        #expect(dropped.summary.rejected == ["duplicate": 3])
        #expect(dropped.summary.rowsAccepted == 4)
        #expect(dropped.summary.rowsRead == dropped.summary.rowsAccepted + dropped.summary.rowsRejected)
        #expect(dropped.rejects.isEmpty)
        let day = CalendarDay(year: 2020, month: 7, day: 5)!
        #expect(dropped.events[day]?.count == 3)
        #expect(dropped.damage == nil && kept.damage == nil)
        // The batch thresholds see the deduplicated user-days (user 14 on 07-05: 3 plays, not 6).
        var expected = ThresholdDistribution()
        expected.add(interactions: 3, highWatchCount: 1)
        expected.add(interactions: 1, highWatchCount: 0)
        var got = dropped.summary.distribution
        #expect(got.thresholds() == expected.thresholds())
    }

    @Test func aUserDaySplitAcrossTheFileIsOneUserDayOfTheThresholds() throws {
        // User 14's 07-05 comes in three stretches, between user 15's rows: one user-day of 3 plays (2 high-watch).
        let high = Self.rows[0].replacingOccurrences(of: "0.7221031811438932", with: "2.5")
        let text = [Self.header, Self.rows[0], Self.rows[2], Self.rows[1], Self.rows[2], high, Self.rows[2]]
            .joined(separator: "\n")
        let run = try ingest(Array(text.utf8))
        #expect(run.summary.rowsAccepted == 6)
        var expected = ThresholdDistribution()
        expected.add(interactions: 3, highWatchCount: 2)
        expected.add(interactions: 3, highWatchCount: 0)
        #expect(run.summary.distribution == expected)
        #expect(run.summary.distribution.activeUserDays == 2)
    }

    @Test func aPanelSpanningMoreThanMaxDaysIsRefused() throws {
        let text = [Self.header, Self.rows[0], "14,148,4381,6067,x,20990101,,0.5"].joined(separator: "\n")
        #expect {
            _ = try ingest(Array(text.utf8))
        } throws: { error in
            guard case .panelSpan(let days, _, _, let users, let maxDays) = (error as? IngestLimitError)?.limit else { return false }
            return days == 28670 && users == 1 && maxDays == IngestOptions.defaultMaxPanelDays
        }
    }

    @Test func stoppingEarlyWithBuffersInFlightDoesNotTrap() throws {
        // More than the prefetcher's ring (4 × 1 MiB) so that it is full when --rows stops the reading.
        let text = ([Self.header] + Array(repeating: Self.rows[0], count: 70_000)).joined(separator: "\n")
        var options = IngestOptions(timeZone: TimeZone(identifier: "Asia/Shanghai")!)
        options.rowLimit = 10
        for _ in 0..<3 {
            #expect(try ingest(Array(text.utf8), options: options).summary.rowsRead == 10)
        }
    }
}
