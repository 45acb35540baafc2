import Foundation

/// A calendar day as a count of days since 1970-01-01 (proleptic Gregorian), the panel's time index.
///
/// Days are plain integers so that ordering, arithmetic (`day + 7`) and storage are cheap; the
/// conversions below are the only place that knows about years, months and leap days.
public struct CalendarDay: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Days since 1970-01-01.
    public var rawValue: Int32

    /// Wraps a day number (days since 1970-01-01).
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The day with the given civil date, or nil when the date does not exist (`2020-02-31`).
    public init?(year: Int, month: Int, day: Int) {
        guard (1...12).contains(month), day >= 1, day <= CalendarDay.daysInMonth(year: year, month: month),
            (1...9999).contains(year)
        else { return nil }
        rawValue = Int32(CalendarDay.daysFromCivil(year: year, month: month, day: day))
    }

    /// Parses KuaiRec's numeric date label `YYYYMMDD` (already rounded to an integer).
    public init?(yyyymmdd value: Int64) {
        guard value >= 1_000_101, value <= 99_991_231 else { return nil }
        self.init(year: Int(value / 10_000), month: Int(value / 100 % 100), day: Int(value % 100))
    }

    /// Parses `YYYY-MM-DD`: exactly ten bytes, digits and two dashes, naming a date that exists.
    public init?(iso text: UnsafeRawBufferPointer) {
        guard text.count == 10, text[4] == 0x2D, text[7] == 0x2D else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for k in range {
                let digit = text[k] &- 0x30
                guard digit < 10 else { return nil }
                value = value * 10 + Int(digit)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10) else { return nil }
        self.init(year: year, month: month, day: day)
    }

    /// Parses `YYYY-MM-DD` (see ``init(iso:)-(UnsafeRawBufferPointer)``).
    public init?(iso text: String) {
        var text = text
        guard let day = text.withUTF8({ CalendarDay(iso: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = day
    }

    public static func < (lhs: CalendarDay, rhs: CalendarDay) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The day `n` days later.
    public func adding(_ n: Int) -> CalendarDay { CalendarDay(rawValue: rawValue + Int32(n)) }

    /// Number of days from `self` to `other`.
    public func distance(to other: CalendarDay) -> Int { Int(other.rawValue - rawValue) }

    /// The instant (Unix ms) the day ends in `zone`: its next local midnight.
    public func endMilliseconds(in zone: TimeZone) -> Int64 {
        let naive = Double(adding(1).rawValue) * 86_400
        let offset = Double(zone.secondsFromGMT(for: Date(timeIntervalSince1970: naive)))
        return Int64((naive - offset) * 1000)
    }

    /// The civil date of this day.
    @inlinable
    public var civil: (year: Int, month: Int, day: Int) {
        // Howard Hinnant's civil_from_days, valid for the whole proleptic Gregorian calendar.
        let z = Int(rawValue) + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// Appends `YYYY-MM-DD` to `out` (a year outside 0...9999 as its decimal text).
    @inlinable
    public func appendISO(to out: inout [UInt8]) {
        let c = civil
        @inline(__always) func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                out.append(UInt8(rest / divisor) + 0x30)
                rest %= divisor
                divisor /= 10
            }
        }
        if (0...9999).contains(c.year) {
            digits(c.year, 4)
        } else {
            out.append(contentsOf: String(c.year).utf8)
        }
        out.append(0x2D)
        digits(c.month, 2)
        out.append(0x2D)
        digits(c.day, 2)
    }

    /// `YYYY-MM-DD`.
    public var description: String {
        var text: [UInt8] = []
        text.reserveCapacity(10)
        appendISO(to: &text)
        return String(decoding: text, as: UTF8.self)
    }

    /// `YYYYMMDD` as an integer.
    public var yyyymmdd: Int {
        let c = civil
        return c.year * 10_000 + c.month * 100 + c.day
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
