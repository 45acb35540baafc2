import Foundation
import Testing
@testable import ReplayStream

/// ``NaiveTimeText/parse(_:withFraction:cache:)`` (its clock read as one word, its date cached) against a reading
/// written plainly from the format: `YYYY-MM-DD HH:MM:SS`, then `.` and 1-9 digits under the fractional format.
@Suite struct NaiveTimeTextTests {
    /// The plain reading: every byte checked one at a time, the date never cached.
    static func reference(_ text: [UInt8], withFraction: Bool) -> Int64? {
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for i in range {
                guard (0x30...0x39).contains(text[i]) else { return nil }
                value = value * 10 + Int(text[i] - 0x30)
            }
            return value
        }
        let length = withFraction ? 21...29 : 19...19
        guard length.contains(text.count), text[4] == 0x2D, text[7] == 0x2D, text[10] == 0x20, text[13] == 0x3A,
            text[16] == 0x3A, let y = number(0..<4), let mo = number(5..<7), let d = number(8..<10),
            let day = CalendarDay(year: y, month: mo, day: d), let h = number(11..<13), let mi = number(14..<16),
            let s = number(17..<19), h < 24, mi < 60, s < 60
        else { return nil }
        var millis = 0
        if withFraction {
            guard text[19] == 0x2E, let f = number(20..<text.count) else { return nil }
            let places = text.count - 20
            millis = places >= 3 ? f / Int(pow(10.0, Double(places - 3))) : f * Int(pow(10.0, Double(3 - places)))
        }
        return (Int64(day.rawValue) * 86_400 + Int64(h * 3600 + mi * 60 + s)) * 1000 + Int64(millis)
    }

    /// Valid times of both formats, each byte of each replaced by bytes that break it (or keep it valid), and
    /// every length around them, read in order with one cache (so that a changed byte of the date meets a cached
    /// date): the same value or nil as the plain reading, under both formats.
    @Test func everyByteOfTheFormatIsChecked() {
        let valid = [
            "2020-07-05 05:27:48", "2020-07-05 05:27:48.378", "2020-07-05 23:59:59.9", "2020-12-31 00:00:00.123456789",
            "1999-02-28 19:09:09.05",
        ]
        let replacements: [UInt8] = [0x00, 0x20, 0x2D, 0x2E, 0x2F, 0x30, 0x32, 0x35, 0x36, 0x39, 0x3A, 0x3F, 0x41, 0xB0, 0xFF]
        var texts: [[UInt8]] = []
        for text in valid.map({ Array($0.utf8) }) {
            texts.append(text)
            for cut in 0..<text.count { texts.append(Array(text[..<cut])) }
            texts.append(text + [0x37])
            texts.append(text + Array("1234567890".utf8))
            for i in text.indices {
                for r in replacements {
                    var changed = text
                    changed[i] = r
                    texts.append(changed)
                    texts.append(text)  // the valid text again: its date back in the cache
                }
            }
        }
        var cache = NaiveTimeText.DateCache()
        var readAsTimes = 0
        for text in texts {
            let padded = text + [UInt8](repeating: 0x30, count: 8)  // digits after the field: a load past it would show
            for fraction in [false, true] {
                let read = padded.withUnsafeBytes {
                    NaiveTimeText.parse(UnsafeRawBufferPointer(rebasing: $0[0..<text.count]), withFraction: fraction, cache: &cache)
                }
                let expected = Self.reference(text, withFraction: fraction)
                #expect(read == expected, "\(String(decoding: text, as: UTF8.self)) fraction \(fraction)")
                if read != nil { readAsTimes += 1 }
            }
        }
        #expect(readAsTimes > texts.count / 3)  // most are the valid texts or still valid
    }
}
