import Testing
@testable import ReplayStream

@Suite struct CalendarDayTests {
    @Test func roundTripsThroughCivilDates() {
        var day = CalendarDay(year: 1999, month: 12, day: 25)!
        for _ in 0..<1_000 {
            let c = day.civil
            #expect(CalendarDay(year: c.year, month: c.month, day: c.day) == day)
            #expect(CalendarDay(iso: day.description) == day)
            day = day.adding(17)
        }
    }

    @Test func knownDays() {
        #expect(CalendarDay(year: 1970, month: 1, day: 1)!.rawValue == 0)
        #expect(CalendarDay(yyyymmdd: 20200705)!.description == "2020-07-05")
        #expect(CalendarDay(yyyymmdd: 20200705)!.rawValue == 18448)
        #expect(CalendarDay(yyyymmdd: 20200229) != nil)
        #expect(CalendarDay(yyyymmdd: 20210229) == nil)
        #expect(CalendarDay(yyyymmdd: 20200231) == nil)
        #expect(CalendarDay(yyyymmdd: 20201301) == nil)
        #expect(CalendarDay(yyyymmdd: 20200700) == nil)
        #expect(CalendarDay(iso: "2020-7-05") == nil)
    }

    @Test func isoDatesAreTenBytesOfDigitsAndDashes() {
        #expect(CalendarDay(iso: "2020-07-05")?.rawValue == 18448)
        #expect(CalendarDay(iso: "0001-01-01")?.description == "0001-01-01")
        for text in ["+020-07-05", "2020-07-5 ", "2020-07-05 ", " 2020-07-05", "2020/07/05", "2020-02-30", "2020-13-01", ""] {
            #expect(CalendarDay(iso: text) == nil, "\(text)")
        }
        let bytes = Array("x2020-07-05x".utf8)
        let day = bytes.withUnsafeBytes { CalendarDay(iso: UnsafeRawBufferPointer(rebasing: $0[1..<11])) }
        #expect(day == CalendarDay(yyyymmdd: 20200705))
        var out: [UInt8] = []
        CalendarDay(yyyymmdd: 20200705)!.appendISO(to: &out)
        #expect(out == Array("2020-07-05".utf8))
    }
}
