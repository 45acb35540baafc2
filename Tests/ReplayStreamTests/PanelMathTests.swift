import Foundation
import ReplayTestSupport
import Testing
@testable import ReplayStream

@Suite struct PanelMathTests {
    @Test func quantileMatchesNumpyLinear() {
        var h = ValueHistogram()
        for v in [1.0, 2, 3, 4] { h.add(v) }
        #expect(h.quantileLinear(0.75) == 3.25)  // numpy.quantile([1,2,3,4], .75)
        #expect(h.median() == 2.5)
        var g = ValueHistogram()
        for v in [10.0, 70, 70, 20, 5] { g.add(v) }
        #expect(g.quantileLinear(0.75) == 70)  // sorted 5,10,20,70,70: index 3
        #expect(g.median() == 20)
        var one = ValueHistogram()
        one.add(6.5)
        #expect(one.quantileLinear(0.75) == 6.5)
        var empty = ValueHistogram()
        #expect(empty.median().isNaN)
    }

    @Test func rollingSumEqualsThreeDaySums() {
        let seed = testSeed(default: 0x5EED_0002)
        var rng = SeededGenerator(seed: seed)
        var values: [Double] = []
        var rolling = PandasRollingSum()
        #expect(rolling.push(.nan).isNaN)
        for t in 0..<500 {
            let v = Bool.random(using: &rng) ? 0 : Double.random(in: 0...1000, using: &rng)
            values.append(v)
            let got = rolling.push(v)
            let want = values.suffix(3).reduce(0, +)
            #expect(abs(got - want) <= 1e-9 * max(1, abs(want)), "seed \(seed): t=\(t), \(got) vs \(want)")
        }
    }

    @Test func rollingSumReturnsValueTimesCountForARun() {
        // pandas GH#42064: a window of equal values returns value × count exactly.
        var r = PandasRollingSum()
        _ = r.push(.nan)
        _ = r.push(0.1)
        _ = r.push(0.7)
        _ = r.push(0.1)
        _ = r.push(0.1)
        #expect(r.push(0.1) == 0.1 * 3)
    }

    @Test func dailyValuesFollowTheNotebook() {
        var a = DayAggregate()
        for (i, ratio) in [0.5, 0.8, 1.2, 0.8].enumerated() {
            a.add(Interaction(timestampMs: Int64(i), userID: 1, videoID: Int32(i % 3), playDurationMs: 1000 + Int64(i),
                              videoDurationMs: 2000, watchRatio: ratio))
        }
        let d = a.dailyValues()
        #expect(d.interactions == 4 && d.uniqueVideos == 3 && d.highWatchCount == 3 && d.completeOrRewatchCount == 1)
        #expect(d.totalPlayDurationMs == 4006 && d.totalPlayDurationSec == 4.006)
        #expect(d.highWatchShare == 0.75 && d.activeDay == 1)
        #expect(DayAggregate().dailyValues() == DailyValues())
    }
}
