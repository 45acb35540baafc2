import ReplayTestSupport
import Testing

@testable import ReplayStream

/// A timeline's ring of closed days holds what an array dropping its oldest days would: the same days in the
/// same order, and the same `lag_1_*` values (the day before's lag columns, NaN as 0, or those of the last day
/// dropped), after any mix of appends under a limit, appends without one, limits that shrink and grow, and writes
/// through the subscript.
struct ClosedDaysTests {
    /// Day `n`: inactive every fifth day, a NaN ratio sum every seventh, the sums otherwise from `n`.
    func day(_ n: Int32) -> ClosedDay {
        var t = DayTotals()
        if n % 5 != 0 {
            t.interactions = Int(n % 13) + 1
            t.playDurationMs = Int64(n) * 1_237
            t.watchRatioSum = n % 7 == 0 ? .nan : Double(n) / 3
            t.highWatchCount = Int(n % 3)
        }
        return ClosedDay(
            day: CalendarDay(rawValue: n), totals: t, prior3: LagValues(repeating: Double(n)),
            treatmentHighIntensity: Int(n % 2), treatmentHighWatchExposure: 0, nextRevision: 0, finalized: false)
    }

    /// The `lag_1_*` values of the day after one with these sums: its lag columns, NaN as 0.
    func lag1(after totals: DayTotals?) -> [Double] {
        guard let totals else { return [0, 0, 0, 0, 0] }
        let base = totals.lagBase
        return (0..<5).map { base[$0].isNaN ? 0 : base[$0] }
    }

    @Test func theRingHoldsWhatAnArrayDroppingItsOldestWould() {
        let seed = testSeed(default: 5)
        var random = SeededGenerator(seed: seed)
        var ring = ClosedDays()
        var array: [ClosedDay] = []
        var lastDropped: ClosedDay?
        var limit = 8
        for n in Int32(0)..<2_000 {
            switch Int(random.next() % 20) {
            case 0: limit = 1 + Int(random.next() % 12)
            case 1:
                ring.append(day(n))
                array.append(day(n))
            case 2 where !array.isEmpty:
                let i = Int(random.next() % UInt64(array.count))
                ring[i].nextRevision += 1
                array[i].nextRevision += 1
            default:
                ring.append(day(n), keepingAtMost: limit)
                if array.count >= limit {
                    lastDropped = array[array.count - limit]
                    array.removeFirst(array.count - limit + 1)
                }
                array.append(day(n))
            }
            #expect(Array(ring) == array, "seed \(seed): after step \(n), limit \(limit)")
            #expect(ring.first == array.first && ring.last == array.last && ring.count == array.count)
            // Read in place: the same days, and the oldest's date.
            #expect(ring.indices.map { i in ring.reading(i) { $0 } } == array, "seed \(seed): after step \(n)")
            #expect(ring.oldestDay == array.first?.day)
            for i in array.indices {
                let expected = lag1(after: i == 0 ? lastDropped?.totals : array[i - 1].totals)
                let lag = ring.lag1(at: i)
                #expect((0..<5).map { lag[$0].bitPattern } == expected.map(\.bitPattern), "seed \(seed): step \(n), day \(i)")
            }
        }
    }

    @Test func aFullRingOverwritesItsOldestDay() {
        var ring = ClosedDays()
        for n in Int32(0)..<20 { ring.append(day(n), keepingAtMost: 8) }
        #expect(ring.map(\.day.rawValue) == Array(12..<20))
        #expect(ring[0].day.rawValue == 12 && ring[7].day.rawValue == 19)
    }
}
