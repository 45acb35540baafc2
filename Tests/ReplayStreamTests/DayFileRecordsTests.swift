import Foundation
import ReplayTestSupport
import Testing

@testable import ReplayStream

/// The day files' 28-byte slots (``DayFileRecords``): every event comes back as it was appended, those that fit a
/// slot and those that escape to the side file; a torn side file and a slot pointing past it are handled.
struct DayFileRecordsTests {
    static let day = CalendarDay(rawValue: 18_448)
    static var base: Int64 { Int64(day.rawValue) * 86_400_000 }

    /// Events at each edge of a slot's fields, on both sides of it, and the values a slot must keep bit for bit.
    static var edgeEvents: [Interaction] {
        func event(_ ts: Int64, play: Int64 = 1_000, video: Int64 = 2_000, ratio: Double = 0.5) -> Interaction {
            Interaction(
                timestampMs: ts, userID: Int32.max, videoID: 0, playDurationMs: play, videoDurationMs: video,
                watchRatio: ratio)
        }
        let fitting: [Interaction] = [  // ten events that fit a slot
            event(Interaction.missingTimestamp),
            event(base), event(base + 86_399_999), event(base - 50_400_000),
            event(base + Int64(Int32.max)), event(base + Int64(Int32.min) + 2),
            event(base + 1, play: 0, video: Int64(UInt32.max)),
            event(base + 2, ratio: -0.0), event(base + 3, ratio: .infinity),
            event(base + 4, ratio: Double(bitPattern: 0x7FF8_0000_0000_0001)),  // a NaN with a payload
        ]
        let escaping: [Interaction] = [
            event(base + Int64(Int32.max) + 1), event(base + Int64(Int32.min) + 1), event(base + Int64(Int32.min)),
            event(base - 31 * 86_400_000), event(0),
            event(base, play: Int64(UInt32.max) + 1), event(base, video: 1_000_000_000_000_000_000),
            event(base, play: -1),
        ]
        return fitting + escaping
    }

    /// An event's fields, its watch ratio as bits (a NaN equals itself here).
    static func bits(_ e: Interaction) -> [Int64] {
        [e.timestampMs, Int64(e.userID), Int64(e.videoID), e.playDurationMs, e.videoDurationMs,
         Int64(bitPattern: e.watchRatio.bitPattern)]
    }

    static func folder() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("day-records-\(UUID().uuidString)")
    }

    static func readAll(_ path: String) throws -> [Interaction] {
        var buffer: [Interaction] = []
        var read: [Interaction] = []
        try DayBuckets.forEachEvent(inFile: path, buffer: &buffer) { read.append($0) }
        return read
    }

    static func append(_ events: [Interaction], to path: String) throws {
        var scratch = events
        try scratch.withUnsafeMutableBytes { try DayFileRecords.append($0, to: path) }
    }

    /// Each edge event round-trips, through every reader: whole, a chunk at a time, by position, and one user's.
    @Test func everyEventComesBackAsAppended() throws {
        let dir = Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let buckets = try DayBuckets(directory: dir)
        let events = Self.edgeEvents
        for e in events { try buckets.append(e, day: Self.day) }
        try buckets.flush()
        let path = buckets.fileURL(for: Self.day).path
        #expect(DayBuckets.fileBytes(path) == events.count * DayFileRecords.slotSize)
        #expect(DayBuckets.fileBytes(DayFileRecords.widePath(of: path)) == 8 * DayFileRecords.wideSize)
        let read = try Self.readAll(path)
        #expect(read.map(Self.bits) == events.map(Self.bits))
        var whole: [Interaction] = []
        var order: [UInt64] = []
        try DayBuckets.events(inFile: path, by: .time, into: &whole, order: &order)
        #expect(whole.map(Self.bits) == events.map(Self.bits))
        #expect(try buckets.sortedEvents(for: Self.day, user: Int32.max).count == events.count)
        // By position, as a day is streamed: any range comes back as the same events.
        let stream = DayFileStream(
            path: path, count: events.count, wide: try DayFileRecords.readWide(DayFileRecords.widePath(of: path)))
        var chunk: [Interaction] = []
        for start in stride(from: 0, to: events.count, by: 5) {
            let end = min(events.count, start + 5)
            let at = try stream.read(start..<end, into: &chunk)
            #expect(chunk[at].map(Self.bits) == events[start..<end].map(Self.bits))
        }
    }

    /// Encoding in place then decoding in place gives the buffer's events back, for counts around the sizes where
    /// a slot and an event of the same index overlap.
    @Test func slotsEncodeAndDecodeInPlace() throws {
        var random = SeededGenerator(seed: testSeed(default: 3))
        for count in [0, 1, 2, 3, 4, 7, 100] {
            let events = (0..<count).map { i in
                Interaction(
                    timestampMs: Self.base + Int64(random.next() % 86_400_000), userID: Int32(i),
                    videoID: Int32(random.next() % 9),
                    playDurationMs: Int64(random.next() % 100_000), videoDurationMs: 1 + Int64(random.next() % 100_000),
                    watchRatio: Double(random.next() % 1_000) / 7)
            }
            var buffer = events
            let wide = buffer.withUnsafeMutableBytes { raw in
                DayFileRecords.encodeInPlace(raw, count: count, base: Self.base) { 0 }
            }
            #expect(wide.isEmpty)
            var none: [Interaction]? = []
            try buffer.withUnsafeMutableBytes { raw in
                try DayFileRecords.decodeInPlace(raw, count: count, base: Self.base, path: "unused", wide: &none)
            }
            #expect(buffer == events, "count \(count)")
        }
    }

    /// A side file cut inside an entry (a crash during its write) is written on from its last whole entry: the
    /// next escapes' slots point at what was written for them.
    @Test func escapesAfterATornSideFileAreFoundAgain() throws {
        let dir = Self.folder()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("day-\(Self.day.rawValue).events").path
        let far = Self.edgeEvents.filter { $0.timestampMs == 0 || $0.playDurationMs < 0 }
        try Self.append(far, to: path)
        let wide = DayFileRecords.widePath(of: path)
        #expect(DayBuckets.fileBytes(wide) == far.count * DayFileRecords.wideSize)
        // The first escape's entry loses its last 3 bytes and a stray half entry follows: a torn write.
        #expect(truncate(wide, off_t(DayFileRecords.wideSize - 3)) == 0)
        #expect(truncate(path, 0) == 0)
        try Self.append(far, to: path)
        #expect(try Self.readAll(path) == far)
    }

    /// A side file that cannot be written (here a folder stands at its path) fails the append with an error naming
    /// it, before any slot of the buffer is written; events that fit their slots need no side file.
    @Test func aSideFileThatCannotBeWrittenFailsTheAppendFirst() throws {
        let dir = Self.folder()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("day-\(Self.day.rawValue).events").path
        try FileManager.default.createDirectory(
            atPath: DayFileRecords.widePath(of: path), withIntermediateDirectories: false)
        let error = #expect(throws: POSIXFileError.self) { try Self.append(Self.edgeEvents, to: path) }
        #expect(error?.path == DayFileRecords.widePath(of: path))
        #expect(DayBuckets.fileBytes(path) == 0)
        let fitting = Array(Self.edgeEvents.prefix(10))  // the events that fit a slot
        try Self.append(fitting, to: path)
        #expect(try Self.readAll(path).map(Self.bits) == fitting.map(Self.bits))
        #expect(DayBuckets.fileBytes(path) == fitting.count * DayFileRecords.slotSize)
    }

    /// A slot that points past its side file's whole entries is a damaged file, named, not a crash.
    @Test func anEscapePastTheSideFileIsDamage() throws {
        let dir = Self.folder()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("day-\(Self.day.rawValue).events").path
        try Self.append(Self.edgeEvents, to: path)
        let wide = DayFileRecords.widePath(of: path)
        #expect(truncate(wide, off_t(2 * DayFileRecords.wideSize + 5)) == 0)
        let error = #expect(throws: DamagedFileError.self) { try Self.readAll(path) }
        #expect(error?.path == wide)
        try FileManager.default.removeItem(atPath: wide)
        #expect(throws: DamagedFileError.self) { try Self.readAll(path) }
    }

    /// Cutting the buckets back to a checkpoint removes the side files of the days it drops and keeps those of
    /// the days it keeps; deleting a retired day removes its side file too.
    @Test func restoreAndDeleteTakeTheSideFilesAlong() throws {
        let dir = Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let buckets = try DayBuckets(directory: dir)
        let a = Self.day, b = Self.day.adding(1)
        let far = Interaction(timestampMs: 0, userID: 1, videoID: 2, playDurationMs: 3, videoDurationMs: 4, watchRatio: 5)
        for _ in 0..<3 {
            try buckets.append(far, day: a)
            try buckets.append(far, day: b)
        }
        try buckets.flushAndSync()
        let wideA = DayFileRecords.widePath(of: buckets.fileURL(for: a).path)
        let wideB = DayFileRecords.widePath(of: buckets.fileURL(for: b).path)
        #expect(FileManager.default.fileExists(atPath: wideA) && FileManager.default.fileExists(atPath: wideB))
        try buckets.restore(counts: [a: 2])
        #expect(FileManager.default.fileExists(atPath: wideA) && !FileManager.default.fileExists(atPath: wideB))
        #expect(try buckets.sortedEvents(for: a) == [far, far])
        buckets.retireDay(a)
        try buckets.deleteFile(of: a)
        #expect(!FileManager.default.fileExists(atPath: wideA))
    }

    /// Dropping exact duplicates rewrites a day whose events escape: the new file's slots point into the day's
    /// side file, not into one beside the partial file.
    @Test func removingDuplicatesKeepsEscapesReadable() throws {
        let dir = Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let buckets = try DayBuckets(directory: dir)
        let far = Interaction(timestampMs: 7, userID: 1, videoID: 2, playDurationMs: 3, videoDurationMs: 4, watchRatio: 5)
        let near = Interaction(
            timestampMs: Self.base + 9, userID: 1, videoID: 2, playDurationMs: 3, videoDurationMs: 4, watchRatio: 5)
        for e in [near, far, near, far] { try buckets.append(e, day: Self.day) }
        try buckets.flush()
        #expect(try buckets.removeExactDuplicates { _, _ in } == 2)
        #expect(try buckets.sortedEvents(for: Self.day) == [far, near])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == [
            "day-\(Self.day.rawValue).events", "day-\(Self.day.rawValue).wide",
        ])
    }
}
