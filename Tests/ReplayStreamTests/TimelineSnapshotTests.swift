import ReplayTestSupport
import Testing

@testable import ReplayStream

/// A user's timeline written into a checkpoint's snapshot and read back is the same state, bit for bit: its
/// encoding has exactly the size it announces, reads back to the same bytes, and the restored timeline goes on
/// closing days exactly as the original does (the rolling sums' windows, the oldest held day's `lag_1_*` values,
/// the open day and the closed days with their revision state); a snapshot whose counts are out of range is
/// refused, not trapped on.
struct TimelineSnapshotTests {
    @Test func fieldsAreLittleEndianEightByteWords() {
        var w = ByteWriter()
        w.int(0x0102_0304_0506_0708)
        w.double(-0.0)
        w.doubles([1.5])
        #expect(w.bytes.count == 32)
        #expect(Array(w.bytes[0..<8]) == [8, 7, 6, 5, 4, 3, 2, 1])
        #expect(Array(w.bytes[8..<16]) == [0, 0, 0, 0, 0, 0, 0, 0x80])
        var r = ByteReader(bytes: w.bytes)
        #expect((try? r.int()) == 0x0102_0304_0506_0708)
        #expect((try? r.double())?.bitPattern == (-0.0).bitPattern)
        #expect((try? r.doubles()) == [1.5])
    }

    @Test func aRestoredTimelineGoesOnExactlyAsTheOriginal() throws {
        let seed = testSeed(default: 0x5EED_7133)
        var random = SeededGenerator(seed: seed)
        let thresholds = TreatmentThresholds(highIntensity: 4, highWatchShare: 0.5)
        for historyLength in [UserTimeline.leadHistoryLength, 12] {
            var timeline = UserTimeline()
            timeline.historyLength = historyLength
            timeline.keepsRevisionState = historyLength > UserTimeline.leadHistoryLength
            var day = CalendarDay(rawValue: 18_450)
            for step in 0..<30 {
                // Some days inactive, some with a NaN watch ratio (the sums' windows then hold NaN).
                let events = Int(random.next() % 4) == 0 ? 0 : 1 + Int(random.next() % 9)
                for _ in 0..<events {
                    let ratio = Int(random.next() % 25) == 0 ? Double.nan : Double(random.next() % 3000) / 1000
                    timeline.open.add(
                        Interaction(
                            timestampMs: 0, userID: 1, videoID: Int32(random.next() % 40),
                            playDurationMs: Int64(random.next() % 20_000), videoDurationMs: 10_000, watchRatio: ratio))
                }
                var w = ByteWriter()
                timeline.encode(into: &w)
                #expect(w.bytes.count == timeline.encodedSize, "seed \(seed): step \(step)")
                var restored = try UserTimeline(decoding: w.bytes, historyLength: historyLength)
                var again = ByteWriter()
                restored.encode(into: &again)
                let firstDifference = zip(again.bytes, w.bytes).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                #expect(again.bytes.count == w.bytes.count && firstDifference == nil, "seed \(seed): step \(step), history \(historyLength)")
                #expect(restored.rolling == timeline.rolling, "seed \(seed): step \(step)")

                let totals = timeline.open.totals
                #expect(restored.open.totals == totals, "seed \(seed): step \(step)")
                #expect(restored.open.dailyValues().hasSameBits(as: timeline.open.dailyValues()), "seed \(seed): step \(step)")
                timeline.close(day: day, totals: totals, thresholds: thresholds)
                restored.close(day: day, totals: totals, thresholds: thresholds)
                #expect(Array(restored.history) == Array(timeline.history), "seed \(seed): step \(step), history \(historyLength)")
                for i in timeline.history.indices {
                    #expect(
                        UserDayRecord.sameBits(restored.history.lag1(at: i), timeline.history.lag1(at: i)),
                        "seed \(seed): step \(step), day \(i)")
                }
                #expect(restored.rolling == timeline.rolling, "seed \(seed): step \(step)")
                // The revision snapshots: one for each held day when they are kept, none otherwise.
                #expect(restored.rollingAfter == timeline.rollingAfter, "seed \(seed): step \(step)")
                #expect(timeline.rollingAfter.count == (timeline.keepsRevisionState ? timeline.history.count : 0))
                day = day.adding(1)
            }
        }
    }

    /// A rolling sum's counts are 32-bit in memory: a snapshot word that does not fit (or is negative, or counts
    /// more observations than the window holds) is a truncated snapshot, not a trap.
    @Test func aSnapshotWithARollingCountOutOfRangeIsRefused() throws {
        var timeline = UserTimeline()
        let thresholds = TreatmentThresholds(highIntensity: 4, highWatchShare: 0.5)
        for k in 0..<3 {
            timeline.open.add(
                Interaction(
                    timestampMs: 0, userID: 1, videoID: 7, playDurationMs: 1_000, videoDurationMs: 2_000, watchRatio: 0.5))
            timeline.close(day: CalendarDay(rawValue: 18_000 + Int32(k)), totals: timeline.open.totals, thresholds: thresholds)
        }
        var w = ByteWriter()
        timeline.encode(into: &w)
        _ = try UserTimeline(decoding: w.bytes)
        // The open day (empty after a close: 7 sums, the compensation, no videos), the sums' count, then the first
        // sum: its three doubles, then `observations` and `consecutiveSameValue`.
        let observations = (8 + 1 + 3) * 8, consecutive = observations + 8
        for (offset, value) in [
            (observations, Int64(Int32.max) + 1), (observations, 4), (observations, -1), (consecutive, Int64(Int32.max) + 1),
            (consecutive, -1),
        ] {
            var bytes = w.bytes
            withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<(offset + 8), with: $0) }
            #expect(throws: ByteReader.Truncated.self, "word at \(offset) = \(value)") { try UserTimeline(decoding: bytes) }
        }
    }

    /// Every user holds a timeline: its inline size and its closed days' are budgets (docs/DEVELOPING.md,
    /// "Compact timelines"), which a new field must not grow unnoticed.
    @Test func aTimelineKeepsItsSize() {
        #expect(MemoryLayout<ClosedDay>.stride == 112)
        #expect(MemoryLayout<PandasRollingSum>.stride == 72)
        #expect(MemoryLayout<DayTotals>.stride == 56)
        #expect(MemoryLayout<VideoSet>.size <= 24)
        #expect(MemoryLayout<UserTimeline>.stride <= 520, "\(MemoryLayout<UserTimeline>.stride)")
    }

    @Test func aRollingSumEqualsItselfBitForBit() {
        var a = PandasRollingSum()
        _ = a.push(.nan)
        _ = a.push(2)
        var b = a
        #expect(a == b)  // the window holds a NaN: the same state all the same
        _ = b.push(3)
        #expect(a != b)
        _ = a.push(3)
        #expect(a == b)
    }
}
