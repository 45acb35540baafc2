import Testing
import ReplayStream

@testable import ReplaySink

/// The renderings a panel sink keeps for records not yet final: found by user and day, for dense, negative and
/// very large user ids; a day that takes another's slot replaces it, and nothing is found for a day not kept.
@Suite struct KeptRenderingsTests {
    func cached(playSeconds: Double) -> PanelLinesSink.CachedRecord {
        var d = DailyValues()
        d.totalPlayDurationSec = playSeconds
        let record = UserDayRecord(
            userID: 0, day: CalendarDay(rawValue: 0), daily: d, lag1: LagValues(repeating: 0),
            prior3: LagValues(repeating: 0), leads: LeadValues(repeating: .nan), treatmentHighIntensity: 0,
            treatmentHighWatchExposure: 0, revision: 0, isFinal: false)
        let scratch = LineScratch()
        return withExtendedLifetime(scratch) {
            PanelLinesSink.CachedRecord(
                record, text: PanelLinesSink.renderConstantParts(record, date: Array("2020-07-05".utf8), scratch: scratch))
        }
    }

    @Test func eachUserAndDayFindsItsOwnRendering() {
        var kept = PanelLinesSink.KeptRenderings()
        let users: [Int32] = [0, 7, 7_175, -3, 1 << 30, Int32.min, 70_000]
        let days = (0..<8).map { CalendarDay(rawValue: 18_450 + Int32($0)) }
        for (u, user) in users.enumerated() {
            for (d, day) in days.enumerated() { kept.set(user, day, cached(playSeconds: Double(u * 10 + d) + 0.5)) }
        }
        for (u, user) in users.enumerated() {
            for (d, day) in days.enumerated() {
                let value = Double(u * 10 + d) + 0.5
                #expect(kept.get(user, day)?.daily.totalPlayDurationSec == value)
                #expect(kept.playSeconds(user, day, ifValue: value).map { Array($0) } == Array("\(value)".utf8))
                #expect(kept.playSeconds(user, day, ifValue: value + 1) == nil)
            }
            #expect(kept.get(user, days[0].adding(-1)) == nil)
        }
        #expect(kept.get(1, days[0]) == nil)
        #expect(kept.get(-4, days[0]) == nil)
    }

    @Test func aDayEightDaysLaterTakesTheSlotAndRemoveDropsOnlyItsOwnDay() {
        var kept = PanelLinesSink.KeptRenderings()
        let day = CalendarDay(rawValue: 18_450)
        kept.set(3, day, cached(playSeconds: 1.5))
        kept.set(3, day.adding(8), cached(playSeconds: 2.5))
        #expect(kept.get(3, day) == nil)
        #expect(kept.playSeconds(3, day, ifValue: 1.5) == nil)
        #expect(kept.get(3, day.adding(8))?.daily.totalPlayDurationSec == 2.5)
        kept.remove(3, day)
        #expect(kept.get(3, day.adding(8)) != nil)
        kept.remove(3, day.adding(8))
        #expect(kept.get(3, day.adding(8)) == nil)
    }
}
