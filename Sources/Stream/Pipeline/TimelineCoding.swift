/// A little-endian byte writer for the state's binary records (fixed layouts, no field names:
/// the state folder's format version guards them). Its fields are written by ``FieldWriter``.
struct ByteWriter {
    var bytes: [UInt8] = []

    /// Appends exactly `count` bytes, written by `body` into memory reserved for them at once.
    @inline(__always)
    mutating func append(exactly count: Int, _ body: (inout FieldWriter) -> Void) {
        bytes.append(addingCapacity: count) { span in
            span.withUnsafeMutableBufferPointer { memory, initialized in
                var fields = FieldWriter(UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: memory[..<count])))
                body(&fields)
                precondition(fields.count == count, "\(fields.count) bytes written where \(count) were reserved")
                initialized = count
            }
        }
    }

    mutating func int(_ v: Int) { append(exactly: 8) { $0.int(v) } }
    mutating func int64(_ v: Int64) { append(exactly: 8) { $0.int64(v) } }
    mutating func double(_ v: Double) { append(exactly: 8) { $0.double(v) } }
    mutating func doubles<Values: Collection<Double>>(_ v: Values) { append(exactly: 8 + 8 * v.count) { $0.doubles(v) } }
}

/// Writes 8-byte little-endian fields into memory reserved for them (``ByteWriter/append(exactly:_:)``),
/// trapping on a field past its end.
///
/// Hand-written because a checkpoint encodes every user's timeline (~300 fields a user) on the event loop: here a
/// field is one store, where a growable array's append per field costs ~6 times as much (in `perf record` of a
/// cached big replay, 0.42% of the samples in `UserTimeline.encode` against 2.75%).
struct FieldWriter {
    /// The reserved bytes: valid while ``ByteWriter/append(exactly:_:)``'s body runs, the only place a writer is
    /// made.
    private let memory: UnsafeMutableRawBufferPointer
    /// The bytes written so far.
    private(set) var count = 0

    /// A writer filling `memory` from its start.
    fileprivate init(_ memory: UnsafeMutableRawBufferPointer) { self.memory = memory }

    @inline(__always)
    mutating func int64(_ v: Int64) {
        precondition(count + 8 <= memory.count, "a field past the reserved bytes")
        memory.storeBytes(of: v.littleEndian, toByteOffset: count, as: Int64.self)
        count += 8
    }
    @inline(__always) mutating func int(_ v: Int) { int64(Int64(v)) }
    @inline(__always) mutating func double(_ v: Double) { int64(Int64(bitPattern: v.bitPattern)) }
    @inline(__always)
    mutating func doubles<Values: Collection<Double>>(_ v: Values) {
        int(v.count)
        for d in v { double(d) }
    }
}

/// Reads what ``ByteWriter`` wrote; throws on truncated input.
struct ByteReader {
    let bytes: [UInt8]
    var offset = 0

    struct Truncated: Error {}

    mutating func int64() throws -> Int64 {
        guard offset + 8 <= bytes.count else { throw Truncated() }
        var v: Int64 = 0
        for i in 0..<8 { v |= Int64(bytes[offset + i]) << (8 * i) }
        offset += 8
        return v
    }
    mutating func int() throws -> Int { Int(try int64()) }
    mutating func double() throws -> Double { Double(bitPattern: UInt64(bitPattern: try int64())) }
    mutating func doubles() throws -> [Double] {
        let n = try int()
        guard n >= 0, n <= 64 else { throw Truncated() }
        return try (0..<n).map { _ in try double() }
    }
}

extension UserTimeline {
    /// The number of bytes ``encode(into:)`` writes, computed without encoding: the snapshot buffer is sized
    /// from it before anything is written (see `PanelEngine.encodedTimelines()`, which checks the two agree).
    /// Every field is 8 bytes; an array of doubles is its count and its values.
    var encodedSize: Int {
        func doubles(_ n: Int) -> Int { 8 + 8 * n }
        func sumSize(_ r: PandasRollingSum) -> Int { 6 * 8 + doubles(r.windowCount) + 8 }
        var size = 8 * 8 + 8 * open.videos.count  // the open day: 8 fields and the videos
        size += 8 + rolling.reduce(0) { $0 + sumSize($1) }
        size += 8 + doubles(previousLagBase?.count ?? 0)
        size += 8
        for c in history {
            // day, 3 counts, 8 doubles, 3 counts; the lags; 2 treatments, revision, finalized; the sums
            size += 15 * 8 + doubles(c.lag1.count) + doubles(c.prior3.count) + 4 * 8
            if c.daily.hasItemContext { size += 5 * 8 }  // the item context after the active-day word
            size += 8 + (rollingAfter[c.day] ?? []).reduce(0) { $0 + sumSize($1) }
        }
        return size
    }

    /// Appends the user's state, the open day's aggregates included, to `w` (``encodedSize`` bytes).
    func encode(into w: inout ByteWriter) {
        w.append(exactly: encodedSize) { encode(into: &$0) }
    }

    /// Writes the user's state to `w`, which must have room for ``encodedSize`` bytes.
    func encode(into w: inout FieldWriter) {
        w.int(open.interactions)
        w.int(open.videos.count)
        for v in open.videos.sorted() { w.int(Int(v)) }
        w.int64(open.playDurationMs)
        w.int64(open.videoDurationMs)
        w.double(open.watchRatioSum)
        w.double(open.watchRatioCompensation)
        w.int(open.highWatchCount)
        w.int(open.completeOrRewatchCount)
        w.int(rolling.count)
        for r in rolling { w.rollingSum(r) }
        w.int(previousLagBase == nil ? 0 : 1)
        if let previousLagBase { w.doubles(previousLagBase) } else { w.int(0) }
        w.int(history.count)
        for c in history {
            w.int(Int(c.day.rawValue))
            let d = c.daily
            w.int(d.interactions)
            w.int(d.uniqueVideos)
            w.int64(d.totalPlayDurationMs)
            w.double(d.avgPlayDurationMs)
            w.double(d.avgVideoDurationMs)
            w.double(d.avgWatchRatio)
            w.double(d.totalPlayDurationSec)
            w.double(d.avgPlayDurationSec)
            w.double(d.avgVideoDurationSec)
            w.double(d.highWatchShare)
            w.double(d.completeOrRewatchShare)
            w.int(d.highWatchCount)
            w.int(d.completeOrRewatchCount)
            // Bit 32 of the active-day word: the item context follows (most runs have none: no bytes for it).
            w.int(d.activeDay | (d.hasItemContext ? 1 << 32 : 0))
            if d.hasItemContext {
                w.double(d.itemMeanShowCount)
                w.double(d.itemMeanPlayRate)
                w.int(d.itemFirstCategories)
                w.int(d.itemDailyMatched)
                w.int(d.itemCategoryMatched)
            }
            w.doubles(c.lag1)
            w.doubles(c.prior3)
            w.int(c.treatmentHighIntensity)
            w.int(c.treatmentHighWatchExposure)
            w.int(c.nextRevision)
            w.int(c.finalized ? 1 : 0)
            let sums = rollingAfter[c.day] ?? []
            w.int(sums.count)
            for r in sums { w.rollingSum(r) }
        }
    }

    /// Restores what ``encode(into:)`` wrote, for a timeline keeping `historyLength` closed days.
    init<Bytes: Collection<UInt8>>(decoding encoded: Bytes, historyLength: Int = UserTimeline.leadHistoryLength) throws {
        let bytes = Array(encoded)
        self.historyLength = historyLength
        keepsRevisionState = historyLength > UserTimeline.leadHistoryLength
        var r = ByteReader(bytes: bytes)
        open = DayAggregate()
        open.interactions = try r.int()
        let videoCount = try r.int()
        guard videoCount >= 0, videoCount <= open.interactions, videoCount <= bytes.count / 8 else { throw ByteReader.Truncated() }
        for _ in 0..<videoCount { open.videos.insert(Int32(truncatingIfNeeded: try r.int())) }
        open.playDurationMs = try r.int64()
        open.videoDurationMs = try r.int64()
        open.watchRatioSum = try r.double()
        open.watchRatioCompensation = try r.double()
        open.highWatchCount = try r.int()
        open.completeOrRewatchCount = try r.int()
        let n = try r.int()
        guard n == 5 else { throw ByteReader.Truncated() }
        rolling = []
        for _ in 0..<n { rolling.append(try r.rollingSum()) }
        let hasPrevious = try r.int() == 1
        let previous = try r.doubles()
        if hasPrevious {
            guard previous.count == LagValues.fixedCount else { throw ByteReader.Truncated() }
            previousLagBase = LagValues(previous)
        } else {
            previousLagBase = nil
        }
        let count = try r.int()
        guard count >= 0, count <= UserTimeline.maxHistoryLength else { throw ByteReader.Truncated() }
        history = ClosedDays()
        for _ in 0..<count {
            let day = CalendarDay(rawValue: Int32(try r.int()))
            var d = DailyValues()
            d.interactions = try r.int()
            d.uniqueVideos = try r.int()
            d.totalPlayDurationMs = try r.int64()
            d.avgPlayDurationMs = try r.double()
            d.avgVideoDurationMs = try r.double()
            d.avgWatchRatio = try r.double()
            d.totalPlayDurationSec = try r.double()
            d.avgPlayDurationSec = try r.double()
            d.avgVideoDurationSec = try r.double()
            d.highWatchShare = try r.double()
            d.completeOrRewatchShare = try r.double()
            d.highWatchCount = try r.int()
            d.completeOrRewatchCount = try r.int()
            let activeWord = try r.int()
            d.activeDay = activeWord & 0xFFFF_FFFF
            if activeWord >> 32 & 1 == 1 {
                d.itemMeanShowCount = try r.double()
                d.itemMeanPlayRate = try r.double()
                d.itemFirstCategories = try r.int()
                d.itemDailyMatched = try r.int()
                d.itemCategoryMatched = try r.int()
            }
            let lag1 = try r.doubles(), prior3 = try r.doubles()
            guard lag1.count == LagValues.fixedCount, prior3.count == LagValues.fixedCount else { throw ByteReader.Truncated() }
            let thi = try r.int()
            let thw = try r.int()
            let rev = try r.int()
            let fin = try r.int() == 1
            let snapshotCount = try r.int()
            guard snapshotCount == 0 || snapshotCount == 5 else { throw ByteReader.Truncated() }
            var snapshot: [PandasRollingSum] = []
            for _ in 0..<snapshotCount { snapshot.append(try r.rollingSum()) }
            if snapshotCount > 0 { rollingAfter[day] = snapshot }
            history.append(
                ClosedDay(
                    day: day, daily: d, lag1: LagValues(lag1), prior3: LagValues(prior3), treatmentHighIntensity: thi,
                    treatmentHighWatchExposure: thw, nextRevision: rev, finalized: fin))
        }
    }
}

extension FieldWriter {
    mutating func rollingSum(_ r: PandasRollingSum) {
        double(r.sum)
        double(r.compensationAdd)
        double(r.compensationRemove)
        int(r.observations)
        int(r.consecutiveSameValue)
        double(r.previousValue)
        int(r.windowCount)
        for i in 0..<r.windowCount { double(r.windowStorage[i]) }
        int(r.length)
    }
}

extension ByteReader {
    mutating func rollingSum() throws -> PandasRollingSum {
        var s = PandasRollingSum()
        s.sum = try double()
        s.compensationAdd = try double()
        s.compensationRemove = try double()
        s.observations = try int()
        s.consecutiveSameValue = try int()
        s.previousValue = try double()
        guard s.setWindow(try doubles()) else { throw Truncated() }
        s.length = try int()
        return s
    }
}
