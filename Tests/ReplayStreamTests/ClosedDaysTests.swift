import ReplayTestSupport
import Testing

@testable import ReplayStream

/// A timeline's ring of closed days holds what an array dropping its oldest days would: the same days in the
/// same order after any mix of appends under a limit, appends without one, limits that shrink and grow, and
/// writes through the subscript.
struct ClosedDaysTests {
    func day(_ n: Int32) -> ClosedDay {
        ClosedDay(
            day: CalendarDay(rawValue: n), daily: DailyValues(), lag1: LagValues(repeating: 0),
            prior3: LagValues(repeating: 0), treatmentHighIntensity: 0, treatmentHighWatchExposure: 0,
            nextRevision: 0, finalized: false)
    }

    @Test func theRingHoldsWhatAnArrayDroppingItsOldestWould() {
        let seed = testSeed(default: 5)
        var random = SeededGenerator(seed: seed)
        var ring = ClosedDays()
        var array: [ClosedDay] = []
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
                if array.count >= limit { array.removeFirst(array.count - limit + 1) }
                array.append(day(n))
            }
            #expect(Array(ring) == array, "seed \(seed): after step \(n), limit \(limit)")
            #expect(ring.first == array.first && ring.last == array.last && ring.count == array.count)
            // Read in place: the same days, and the oldest's date.
            #expect(ring.indices.map { i in ring.reading(i) { $0 } } == array, "seed \(seed): after step \(n)")
            #expect(ring.oldestDay == array.first?.day)
        }
    }

    @Test func aFullRingOverwritesItsOldestDay() {
        var ring = ClosedDays()
        for n in Int32(0)..<20 { ring.append(day(n), keepingAtMost: 8) }
        #expect(ring.map(\.day.rawValue) == Array(12..<20))
        #expect(ring[0].day.rawValue == 12 && ring[7].day.rawValue == 19)
    }
}
