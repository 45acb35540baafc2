/// The `time` column's text (`2020-07-05 05:27:48.378`), as pandas' `to_datetime` reads it with the
/// format it inferred from the column's first value.
public enum NaiveTimeText {
    /// The last valid `YYYY-MM-DD` read and its day (a column's values mostly repeat their date).
    public struct DateCache: Sendable {
        var text: UInt64 = 0
        var rest: UInt16 = 0
        var day: Int32 = 0
        var valid = false

        /// No date read yet.
        public init() {}

        init(text: UInt64, rest: UInt16, day: Int32, valid: Bool) {
            self.text = text
            self.rest = rest
            self.day = day
            self.valid = valid
        }
    }

    /// Milliseconds since 1970 of the wall-clock time (no zone), or nil when the text does not match
    /// `YYYY-MM-DD HH:MM:SS` followed by `.` and 1-9 digits (`withFraction`) or by nothing.
    public static func parse(_ b: UnsafeRawBufferPointer, withFraction: Bool) -> Int64? {
        var cache = DateCache()
        return parse(b, withFraction: withFraction, cache: &cache)
    }

    /// ``parse(_:withFraction:)``, reusing the day of the last valid date when the text starts with the
    /// same ten bytes (hand-written: called for every row of the ingest pass, where the date repeats).
    @inline(__always)
    public static func parse(_ b: UnsafeRawBufferPointer, withFraction: Bool, cache: inout DateCache) -> Int64? {
        guard b.count >= 19 else { return nil }
        @inline(__always) func digits(_ from: Int, _ count: Int) -> Int? {
            var v = 0
            for i in from..<(from + count) {
                let c = b[i] &- 0x30
                guard c <= 9 else { return nil }
                v = v * 10 + Int(c)
            }
            return v
        }
        let text = b.loadUnaligned(as: UInt64.self)
        let rest = b.loadUnaligned(fromByteOffset: 8, as: UInt16.self)
        let day: Int32
        if cache.valid && cache.text == text && cache.rest == rest {
            day = cache.day
        } else {
            guard b[4] == 0x2D, b[7] == 0x2D, let y = digits(0, 4), let mo = digits(5, 2), let d = digits(8, 2),
                let parsed = CalendarDay(year: y, month: mo, day: d)
            else { return nil }
            day = parsed.rawValue
            cache = DateCache(text: text, rest: rest, day: day, valid: true)
        }
        guard b[10] == 0x20, let clock = clockSeconds(b.loadUnaligned(fromByteOffset: 11, as: UInt64.self)) else {
            return nil
        }
        var millis = 0
        if withFraction {
            guard b.count >= 21, b.count <= 29, b[19] == 0x2E, let f = digits(20, b.count - 20) else { return nil }
            var scaled = f
            var places = b.count - 20
            while places > 3 {
                scaled /= 10
                places -= 1
            }
            while places < 3 {
                scaled *= 10
                places += 1
            }
            millis = scaled
        } else if b.count != 19 {
            return nil
        }
        return ((Int64(day) * 86_400 + Int64(clock)) * 1000) + Int64(millis)
    }

    /// The seconds since midnight of `HH:MM:SS` (the eight bytes of `word`, first byte lowest), or nil when it is not
    /// two digits, `:`, two, `:`, two, with hours below 24 and minutes and seconds below 60. Read as one word
    /// (hand-written: every row of the ingest pass has a `time` field; byte by byte, the clock took most of the
    /// field's reading).
    @inline(__always)
    static func clockSeconds(_ word: UInt64) -> Int? {
        let w = UInt64(littleEndian: word)
        let colons: UInt64 = 0x0000_FF00_00FF_0000  // bytes 2 and 5
        guard w & colons == 0x0000_3A00_003A_0000 else { return nil }
        // The colons as '0', then every byte a digit: its high nibble 3, and still 3 after adding 6 (no byte
        // carries into the next: each is at most 0x3F before the addition).
        let digits = (w & ~colons) | 0x0000_3000_0030_0000
        let highNibbles: UInt64 = 0xF0F0_F0F0_F0F0_F0F0
        guard digits & highNibbles == 0x3030_3030_3030_3030,
            (digits &+ 0x0606_0606_0606_0606) & highNibbles == 0x3030_3030_3030_3030
        else { return nil }
        let v = digits & 0x0F0F_0F0F_0F0F_0F0F
        @inline(__always) func pair(_ byte: UInt64) -> Int { Int((v >> (8 * byte)) & 0xFF) * 10 + Int((v >> (8 * byte + 8)) & 0xFF) }
        let h = pair(0), m = pair(3), s = pair(6)
        guard h < 24, m < 60, s < 60 else { return nil }
        return h * 3600 + m * 60 + s
    }

    /// `YYYY-MM-DD HH:MM:SS.mmm` of milliseconds since 1970 (wall clock).
    public static func format(_ ms: Int64) -> String {
        let days = ms >= 0 ? ms / 86_400_000 : (ms - 86_399_999) / 86_400_000
        let rest = ms - days * 86_400_000
        let h = rest / 3_600_000, m = rest / 60_000 % 60, s = rest / 1000 % 60, f = rest % 1000
        func pad(_ v: Int64, _ w: Int) -> String {
            let t = String(v)
            return String(repeating: "0", count: max(0, w - t.count)) + t
        }
        return "\(CalendarDay(rawValue: Int32(days))) \(pad(h, 2)):\(pad(m, 2)):\(pad(s, 2)).\(pad(f, 3))"
    }
}
