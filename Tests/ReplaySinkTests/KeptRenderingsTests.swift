import Testing
import ReplayStream

@testable import ReplaySink

/// The renderings a panel sink keeps for records not yet final: found by user and day, for dense, negative and
/// very large user ids; a day that takes another's slot replaces it, and nothing is found for a day not kept.
@Suite struct KeptRenderingsTests {
    /// A record whose `total_play_duration_sec` is `playSeconds`, rendered in the `joined` form.
    func rendered(playSeconds: Double, joined: Bool = false) -> (PanelLinesSink.CachedRecord, [UInt8]) {
        var d = DailyValues()
        d.totalPlayDurationSec = playSeconds
        let record = UserDayRecord(
            userID: 0, day: CalendarDay(rawValue: 0), daily: d, lag1: LagValues(repeating: 0),
            prior3: LagValues(repeating: 0), leads: LeadValues(repeating: .nan), treatmentHighIntensity: 0,
            treatmentHighWatchExposure: 0, revision: 0, isFinal: false)
        let scratch = LineScratch()
        var date: [UInt8] = []
        record.day.appendISO(to: &date)
        return withExtendedLifetime(scratch) {
            let constants = PanelLinesSink.renderConstantParts(record, date: date, joined: joined, scratch: scratch)
            return (
                PanelLinesSink.CachedRecord(record, constants: constants),
                Array(UnsafeRawBufferPointer(rebasing: constants.text[constants.playSeconds])))
        }
    }

    /// Keeps a record whose `total_play_duration_sec` is `playSeconds` for `user`'s `day`.
    func keep(_ kept: inout PanelLinesSink.KeptRenderings, _ user: Int32, _ day: CalendarDay, playSeconds: Double, joined: Bool = false) {
        let (record, text) = rendered(playSeconds: playSeconds, joined: joined)
        text.withUnsafeBytes { kept.set(user, day, record, playSecondsText: $0) }
    }

    @Test func eachUserAndDayFindsItsOwnRendering() {
        var kept = PanelLinesSink.KeptRenderings()
        let users: [Int32] = [0, 7, 7_175, -3, 1 << 30, Int32.min, 70_000]
        let days = (0..<8).map { CalendarDay(rawValue: 18_450 + Int32($0)) }
        for (u, user) in users.enumerated() {
            for (d, day) in days.enumerated() { keep(&kept, user, day, playSeconds: Double(u * 10 + d) + 0.5) }
        }
        for (u, user) in users.enumerated() {
            for (d, day) in days.enumerated() {
                let value = Double(u * 10 + d) + 0.5
                #expect(kept.get(user, day)?.daily.totalPlayDurationSec == value)
                #expect(kept.playSeconds(user, day, ifValue: value).map { $0.withUnsafeBytes { Array($0) } } == Array("\(value)".utf8))
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
        keep(&kept, 3, day, playSeconds: 1.5)
        keep(&kept, 3, day.adding(8), playSeconds: 2.5)
        #expect(kept.get(3, day) == nil)
        #expect(kept.playSeconds(3, day, ifValue: 1.5) == nil)
        #expect(kept.get(3, day.adding(8))?.daily.totalPlayDurationSec == 2.5)
        kept.remove(3, day)
        #expect(kept.get(3, day.adding(8)) != nil)
        kept.remove(3, day.adding(8))
        #expect(kept.get(3, day.adding(8)) == nil)
    }

    /// Both forms of the kept text (JSON's lengths then values, CSV's values joined by commas) find
    /// `total_play_duration_sec`'s text, and the CSV form is the line's first 26 fields as written.
    @Test(arguments: [false, true]) func bothFormsFindThePlaySecondsText(joined: Bool) {
        var kept = PanelLinesSink.KeptRenderings()
        let day = CalendarDay(rawValue: 0)
        keep(&kept, 5, day, playSeconds: 12.25, joined: joined)
        #expect(kept.playSeconds(5, day, ifValue: 12.25).map { $0.withUnsafeBytes { Array($0) } } == Array("12.25".utf8))
        let text = kept.get(5, day)!.text
        if joined {
            let line = PanelLinesSink.render(
                UserDayRecord(
                    userID: 0, day: day, daily: kept.get(5, day)!.daily, lag1: LagValues(repeating: 0),
                    prior3: LagValues(repeating: 0), leads: LeadValues(repeating: .nan), treatmentHighIntensity: 0,
                    treatmentHighWatchExposure: 0, revision: 0, isFinal: false),
                format: .csv)
            #expect(text.count(where: { $0 == 0x2C }) == PanelLinesSink.CachedRecord.count - 1)
            #expect(Array(line.prefix(text.count)) == text)
            #expect(line[text.count] == 0x2C)
        } else {
            #expect(text.prefix(PanelLinesSink.CachedRecord.count).allSatisfy { $0 < 64 })
        }
    }

    /// A kept number's text is held inline up to 24 bytes (the longest text of a `Double`), found only for the
    /// same value bit for bit; a longer or empty text is not kept.
    @Test func keptNumberTextsHoldUpToTwentyFourBytes() {
        typealias Kept = PanelLinesSink.KeptNumberText
        for value in [0.0, 12.25, 1.0e-7, -2.2250738585072014e-308, 1.7976931348623157e308] {
            let text = Array("\(value)".utf8)
            let kept = text.withUnsafeBytes { Kept(value, text: $0) }
            #expect(kept.text(ifValue: value)?.withUnsafeBytes { Array($0) } == text)
            #expect(kept.text(ifValue: value.nextUp) == nil)
        }
        #expect(Array("-0.0".utf8).withUnsafeBytes { Kept(-0.0, text: $0) }.text(ifValue: 0.0) == nil)
        #expect([UInt8](repeating: 0x31, count: 25).withUnsafeBytes { Kept(1, text: $0) }.text(ifValue: 1) == nil)
        #expect(Kept(1, text: UnsafeRawBufferPointer(start: nil, count: 0)).text(ifValue: 1) == nil)
        #expect(Kept.none.text(ifValue: 0) == nil)
    }
}
