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
        func sumSize(_ r: PandasRollingSum) -> Int { 6 * 8 + doubles(Int(r.windowCount)) + 8 }
        func sumsSize(_ sums: RollingSums?) -> Int { sums.map { s in (0..<RollingSums.count).reduce(0) { $0 + sumSize(s[$1]) } } ?? 0 }
        var size = 8 * 8 + 8 * open.videos.count  // the open day: its 7 sums, the compensation, the videos
        size += 8 + sumsSize(rolling)
        size += 8 + doubles(history.oldestLag1.count)
        for c in history {
            // day, the 7 sums, the context word; prior_3day; 2 treatments, revision, finalized; the rolling sums
            size += 9 * 8 + doubles(c.prior3.count) + 4 * 8
            if itemContexts[c.day] != nil { size += 5 * 8 }  // the item context after its word
            size += 8 + sumsSize(rollingAfter[c.day])
        }
        return size
    }

    /// Appends the user's state, the open day's aggregates included, to `w` (``encodedSize`` bytes).
    func encode(into w: inout ByteWriter) {
        w.append(exactly: encodedSize) { encode(into: &$0) }
    }

    /// Writes the user's state to `w`, which must have room for ``encodedSize`` bytes.
    func encode(into w: inout FieldWriter) {
        w.totals(open.totals)
        w.double(open.watchRatioCompensation)
        for v in open.videos.sorted() { w.int(Int(v)) }
        w.rollingSums(rolling)
        w.int(history.count)
        w.doubles(history.oldestLag1)
        for c in history {
            w.int(Int(c.day.rawValue))
            w.totals(c.totals)
            // 1 when the item context follows (most runs have none: no bytes for it).
            let context = itemContexts.isEmpty ? nil : itemContexts[c.day]
            w.int(context == nil ? 0 : 1)
            if let context {
                w.double(context.itemMeanShowCount)
                w.double(context.itemMeanPlayRate)
                w.int(context.itemFirstCategories)
                w.int(context.itemDailyMatched)
                w.int(context.itemCategoryMatched)
            }
            w.doubles(c.prior3)
            w.int(c.treatmentHighIntensity)
            w.int(c.treatmentHighWatchExposure)
            w.int(c.nextRevision)
            w.int(c.finalized ? 1 : 0)
            if let sums = rollingAfter[c.day] { w.rollingSums(sums) } else { w.int(0) }
        }
    }

    /// Restores what ``encode(into:)`` wrote, for a timeline keeping `historyLength` closed days.
    init<Bytes: Collection<UInt8>>(decoding encoded: Bytes, historyLength: Int = UserTimeline.leadHistoryLength) throws {
        let bytes = Array(encoded)
        self.historyLength = historyLength
        keepsRevisionState = historyLength > UserTimeline.leadHistoryLength
        var r = ByteReader(bytes: bytes)
        open = DayAggregate()
        let openTotals = try r.totals()
        open.interactions = openTotals.interactions
        open.playDurationMs = openTotals.playDurationMs
        open.videoDurationMs = openTotals.videoDurationMs
        open.watchRatioSum = openTotals.watchRatioSum
        open.highWatchCount = openTotals.highWatchCount
        open.completeOrRewatchCount = openTotals.completeOrRewatchCount
        open.watchRatioCompensation = try r.double()
        let videoCount = openTotals.uniqueVideos
        guard videoCount >= 0, videoCount <= open.interactions, videoCount <= bytes.count / 8 else { throw ByteReader.Truncated() }
        for _ in 0..<videoCount { open.videos.insert(Int32(truncatingIfNeeded: try r.int())) }
        guard try r.int() == RollingSums.count else { throw ByteReader.Truncated() }
        rolling = try r.rollingSums()
        let count = try r.int()
        guard count >= 0, count <= UserTimeline.maxHistoryLength else { throw ByteReader.Truncated() }
        let oldestLag1 = try r.doubles()
        guard oldestLag1.count == LagValues.fixedCount else { throw ByteReader.Truncated() }
        history = ClosedDays(oldestLag1: LagValues(oldestLag1))
        for _ in 0..<count {
            let day = CalendarDay(rawValue: Int32(try r.int()))
            let t = try r.totals()
            var context: ItemContextValues?
            switch try r.int() {
            case 0: break
            case 1:
                var c = ItemContextValues()
                c.itemMeanShowCount = try r.double()
                c.itemMeanPlayRate = try r.double()
                c.itemFirstCategories = try r.int()
                c.itemDailyMatched = try r.int()
                c.itemCategoryMatched = try r.int()
                context = c
            default: throw ByteReader.Truncated()
            }
            let prior3 = try r.doubles()
            guard prior3.count == LagValues.fixedCount else { throw ByteReader.Truncated() }
            let thi = try r.int()
            let thw = try r.int()
            let rev = try r.int()
            let fin = try r.int() == 1
            switch try r.int() {
            case 0: break
            case RollingSums.count: rollingAfter[day] = try r.rollingSums()
            default: throw ByteReader.Truncated()
            }
            history.append(
                ClosedDay(
                    day: day, totals: t, prior3: LagValues(prior3), treatmentHighIntensity: thi,
                    treatmentHighWatchExposure: thw, nextRevision: rev, finalized: fin))
            setItemContext(context, of: day)
        }
    }
}

extension FieldWriter {
    /// A day's sums, seven fields.
    mutating func totals(_ t: DayTotals) {
        int(t.interactions)
        int(t.uniqueVideos)
        int64(t.playDurationMs)
        int64(t.videoDurationMs)
        double(t.watchRatioSum)
        int(t.highWatchCount)
        int(t.completeOrRewatchCount)
    }

    /// The five sums after their count.
    mutating func rollingSums(_ sums: RollingSums) {
        int(RollingSums.count)
        for c in 0..<RollingSums.count { rollingSum(sums[c]) }
    }

    mutating func rollingSum(_ r: PandasRollingSum) {
        double(r.sum)
        double(r.compensationAdd)
        double(r.compensationRemove)
        int(Int(r.observations))
        int(Int(r.consecutiveSameValue))
        double(r.previousValue)
        int(Int(r.windowCount))
        for i in 0..<Int(r.windowCount) { double(r.windowStorage[i]) }
        int(Int(r.length))
    }
}

extension ByteReader {
    mutating func rollingSum() throws -> PandasRollingSum {
        var s = PandasRollingSum()
        s.sum = try double()
        s.compensationAdd = try double()
        s.compensationRemove = try double()
        s.observations = try count()
        s.consecutiveSameValue = try count()
        s.previousValue = try double()
        guard s.setWindow(try doubles()) else { throw Truncated() }
        s.length = try count()
        guard s.observations <= PandasRollingSum.windowSize else { throw Truncated() }
        return s
    }

    /// A day's sums (``FieldWriter/totals(_:)``).
    mutating func totals() throws -> DayTotals {
        var t = DayTotals()
        t.interactions = try int()
        t.uniqueVideos = try int()
        t.playDurationMs = try int64()
        t.videoDurationMs = try int64()
        t.watchRatioSum = try double()
        t.highWatchCount = try int()
        t.completeOrRewatchCount = try int()
        return t
    }

    /// The five sums (their count read before).
    mutating func rollingSums() throws -> RollingSums {
        var sums = RollingSums()
        for c in 0..<RollingSums.count { sums[c] = try rollingSum() }
        return sums
    }

    /// A count of a rolling sum: 0 to `Int32.max`.
    private mutating func count() throws -> Int32 {
        guard let n = Int32(exactly: try int()), n >= 0 else { throw Truncated() }
        return n
    }
}
