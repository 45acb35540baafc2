import CByteMask
import Foundation

/// Why a row of the interaction log is not in the panel. The raw value is what the rejects file says.
public struct RejectReason: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// No `date` and no `timestamp` (KuaiRec's stage-2 exposures): the notebook leaves them out.
    public static let missingTime = RejectReason(rawValue: "missing_time")
    /// A `date` that is not a calendar date (`20200231`, `abc`): the notebook turns it into NaT and drops the row.
    public static let invalidDate = RejectReason(rawValue: "invalid_date")
    /// A `timestamp` that is not a number.
    public static let invalidTimestamp = RejectReason(rawValue: "invalid_timestamp")
    /// `user_id` or `video_id` empty, not an integer, negative, or beyond 2^31-1.
    public static let invalidID = RejectReason(rawValue: "invalid_id")
    /// `play_duration` or `video_duration` empty, not an integer, or negative.
    public static let invalidDuration = RejectReason(rawValue: "invalid_duration")
    /// `watch_ratio` empty, not a number, negative or not finite.
    public static let invalidWatchRatio = RejectReason(rawValue: "invalid_watch_ratio")
    /// The row has fewer or more fields than the header.
    public static let wrongFieldCount = RejectReason(rawValue: "wrong_field_count")
    /// A quoted field with text after its closing quote.
    public static let malformedQuotes = RejectReason(rawValue: "malformed_quotes")
    /// `video_duration` is 0: `watch_ratio` would be infinite or undefined. The notebook keeps such a row
    /// (and its `inf` ratio); replay rejects it (never seen in KuaiRec, where the minimum is 140 ms).
    public static let zeroVideoDuration = RejectReason(rawValue: "zero_video_duration")
    /// A `timestamp` before 2000-01-01 or from 2100-01-01 (UTC), or more than
    /// ``InteractionDecoder/maxLabelDistanceDays`` days from the row's `date` label.
    public static let timestampOutOfRange = RejectReason(rawValue: "timestamp_out_of_range")
    /// A `date` label that is a calendar date but not within 2000-01-01 ... 2099-12-31: one such row
    /// would stretch the dense panel over centuries.
    public static let dateOutOfRange = RejectReason(rawValue: "date_out_of_range")
    /// An exact duplicate of the row before it in replay order, dropped by `--dedupe`. Counted only:
    /// it is not written to the rejects file (the row it repeats is kept).
    public static let duplicate = RejectReason(rawValue: "duplicate")
    /// A JSON lines row that is not a flat JSON object.
    public static let malformedJSON = RejectReason(rawValue: "malformed_json")
    /// A JSON lines row with a key that appears twice (`{"user_id":5,"user_id":7,...}`): which value is meant
    /// is unknown.
    public static let duplicateKey = RejectReason(rawValue: "duplicate_key")
    /// Live input: the row's day had already closed when it arrived, passed by the watermark (the rejects
    /// line says how late, in event time).
    public static let late = RejectReason(rawValue: "late")
    /// Live input: the row's day had been closed by `--idle-close` (after wall-clock silence) before the
    /// watermark passed it (the rejects line says how long after that close the row arrived).
    public static let idleClosed = RejectReason(rawValue: "idle_closed")
    /// Live input: the row's day is as far or further from the feed's first day than a panel may span
    /// (``IngestOptions/defaultMaxPanelDays``); one such row would stretch the dense panel over years.
    public static let outsidePanelSpan = RejectReason(rawValue: "outside_panel_span")
}

/// The header of an interaction CSV: where each required column is.
public struct InteractionColumns: Sendable, Equatable {
    /// The columns the panel needs, by KuaiRec's header names.
    public static let required = [
        "user_id", "video_id", "play_duration", "video_duration", "time", "date", "timestamp", "watch_ratio",
    ]
    /// Each required column's index in a row.
    public internal(set) var userID = 0, videoID = 0, playDuration = 0, videoDuration = 0, time = 0, date = 0,
        timestamp = 0, watchRatio = 0
    /// Number of columns in the header.
    public var count = 0
    /// The header is KuaiRec's own: exactly ``required``, in that order (``InteractionDecoder/decodePlainRow(_:)``).
    public var isKuaiRecLayout: Bool {
        count == 8 && userID == 0 && videoID == 1 && playDuration == 2 && videoDuration == 3 && time == 4 && date == 5
            && timestamp == 6 && watchRatio == 7
    }

    /// Finds the required columns by name; order and extra columns do not matter.
    /// - Throws: ``CSVFormatError`` naming the missing columns.
    public init(header names: [String]) throws {
        var index: [String: Int] = [:]
        for (i, raw) in names.enumerated() {
            var name = raw
            if i == 0, name.hasPrefix("\u{FEFF}") { name.removeFirst() }
            name = name.trimmingCharacters(in: .whitespaces)
            if index[name] == nil { index[name] = i }
        }
        let missing = Self.required.filter { index[$0] == nil }
        guard missing.isEmpty else {
            throw CSVFormatError(
                line: 1,
                message:
                    "the header lacks the column(s) \(missing.joined(separator: ", ")); found: \(names.joined(separator: ",")). An interaction CSV needs \(Self.required.joined(separator: ","))"
            )
        }
        userID = index["user_id"]!
        videoID = index["video_id"]!
        playDuration = index["play_duration"]!
        videoDuration = index["video_duration"]!
        time = index["time"]!
        date = index["date"]!
        timestamp = index["timestamp"]!
        watchRatio = index["watch_ratio"]!
        count = names.count
    }
}

/// Turns the fields of one CSV record into an ``Interaction`` and its day, or a ``RejectReason``.
///
/// Numbers are parsed straight from the bytes: integers by hand, `watch_ratio` correctly rounded (as pandas
/// 3's parser is) by ``DecimalParsing`` or else `strtod`, `timestamp` exactly into milliseconds.
public struct InteractionDecoder {
    /// The decoded row.
    public enum Outcome {
        case accepted(Interaction, day: CalendarDay, dateDisagreesWithTimestamp: Bool)
        case rejected(RejectReason)
    }

    private let columns: InteractionColumns
    private var zone: LocalDayResolver
    private var scratch = [CChar](repeating: 0, count: 64)
    private var lastDateField = ShortFieldKey.unset
    private var lastDateLabel: Int64?? = nil
    private var lastLabel: Int64 = .min
    private var lastLabelDay: CalendarDay?

    /// Creates a decoder for a header and the time zone that turns timestamps into days.
    public init(columns: InteractionColumns, timeZone: TimeZone) {
        self.columns = columns
        self.zone = LocalDayResolver(timeZone: timeZone)
    }

    /// Decodes the record last split by `fields`.
    public mutating func decode(_ record: UnsafeRawBufferPointer, fields: CSVFieldSplitter, fieldsOK: Bool) -> Outcome {
        if !fieldsOK { return .rejected(.malformedQuotes) }
        if fields.fieldCount != columns.count { return .rejected(.wrongFieldCount) }
        let c = columns
        let dateLabel: Int64?? = fields.withField(c.date, in: record) { cachedDateLabel($0) }
        let timestamp: Int64?? = fields.withField(c.timestamp, in: record) { Self.parseTimestampMs($0) }
        // Missing date and timestamp together: the stage-2 rows.
        if dateLabel == nil && timestamp == nil { return .rejected(.missingTime) }
        guard let user = fields.withField(c.userID, in: record, Self.parseID),
            let video = fields.withField(c.videoID, in: record, Self.parseID)
        else { return .rejected(.invalidID) }
        guard let play = fields.withField(c.playDuration, in: record, Self.parseDuration),
            let videoDuration = fields.withField(c.videoDuration, in: record, Self.parseDuration)
        else { return .rejected(.invalidDuration) }
        if videoDuration == 0 { return .rejected(.zeroVideoDuration) }
        guard let ratio = fields.withField(c.watchRatio, in: record, { parseDouble($0) }), ratio.isFinite, ratio >= 0
        else { return .rejected(.invalidWatchRatio) }
        return dated(user, video, play, videoDuration, ratio, dateLabel: dateLabel, timestamp: timestamp)
    }

    /// A row read in one scan when the header is KuaiRec's own (`InteractionColumns/isKuaiRecLayout`): the event,
    /// its day, and the `time` field's bytes (pointing into `record`).
    public struct PlainRow {
        public var event: Interaction
        public var day: CalendarDay
        public var dateDisagreesWithTimestamp: Bool
        public var timeText: UnsafeRawBufferPointer
    }

    /// Decodes a record of KuaiRec's own layout in one scan, without splitting it first: the four integer fields
    /// are read as their commas are found, the other fields go through the parsers ``decode(_:fields:fieldsOK:)``
    /// uses. Returns nil for every row it does not accept with exactly the values ``decode(_:fields:fieldsOK:)``
    /// would give it (a quote anywhere, an integer with a sign or a fraction, an empty field, a rejected row...):
    /// the caller then splits and decodes the row. Only for a header where `columns.isKuaiRecLayout`.
    ///
    /// Hand-written for speed: splitting the fields into offsets and reading each through them costs about half
    /// of the ingest's parse thread. A record of 16 to 128 bytes (KuaiRec's are 70-100) has its commas and quotes
    /// found at once, sixteen bytes a step (``commaBits(_:_:)``): with exactly seven commas and no quote its
    /// fields are read from those positions (``decodePlainFields(_:_:commas:)``), each independent of the others,
    /// where a scan reads each field only once the one before it has ended. Any other record is scanned.
    @inline(__always)
    public mutating func decodePlainRow(_ record: UnsafeRawBufferPointer) -> PlainRow? {
        guard let p = record.baseAddress else { return nil }
        let n = record.count
        if n >= 16 && n <= 128, let commas = Self.commaBits(p, n) {
            return decodePlainFields(p, n, commas: commas)
        }
        return scanPlainRow(p, n)
    }

    /// The commas of a record (at `p`, `n` bytes, 16 to 128) as bits (bit i of the first word for a comma at offset
    /// i, of the second for one at 64 + i), or nil when it holds a quote or another number of commas than seven.
    @inline(__always)
    static func commaBits(_ p: UnsafeRawPointer, _ n: Int) -> (UInt64, UInt64)? {
        var low: UInt64 = 0, high: UInt64 = 0, quotes: UInt32 = 0
        var i = 0
        if n >= 64 {
            // The first 64 bytes, where a KuaiRec row has six or seven of its commas, without a loop's branches.
            let m0 = replay_commas_and_quotes16(p), m1 = replay_commas_and_quotes16(p + 16)
            let m2 = replay_commas_and_quotes16(p + 32), m3 = replay_commas_and_quotes16(p + 48)
            low = UInt64(m0 & 0xFFFF) | UInt64(m1 & 0xFFFF) << 16 | UInt64(m2 & 0xFFFF) << 32
                | UInt64(m3 & 0xFFFF) << 48
            quotes = m0 | m1 | m2 | m3
            i = 64
        }
        while i + 16 <= n {
            let mask = replay_commas_and_quotes16(p + i)
            let commas = UInt64(mask & 0xFFFF)
            if i < 64 { low |= commas << UInt64(i) } else { high |= commas << UInt64(i &- 64) }
            quotes |= mask
            i &+= 16
        }
        if i < n {
            // The last 1-15 bytes: the sixteen that end the record, the ones already read shifted out.
            let read = UInt32(16 &- (n &- i))
            let mask = replay_commas_and_quotes16(p + (n &- 16))
            let commas = UInt64((mask & 0xFFFF) >> read)
            if i < 64 { low |= commas << UInt64(i) } else { high |= commas << UInt64(i &- 64) }
            quotes |= ((mask >> 16) >> read) << 16
        }
        guard quotes >> 16 == 0, low.nonzeroBitCount &+ high.nonzeroBitCount == 7 else { return nil }
        return (low, high)
    }

    /// ``decodePlainRow(_:)`` of a record whose seven commas are the bits of `commas` (``commaBits(_:_:)``).
    @inline(__always)
    private mutating func decodePlainFields(_ p: UnsafeRawPointer, _ n: Int, commas: (UInt64, UInt64)) -> PlainRow? {
        var (low, high) = commas
        @inline(__always) func next() -> Int {
            if low != 0 {
                defer { low &= low &- 1 }
                return low.trailingZeroBitCount
            }
            defer { high &= high &- 1 }
            return 64 &+ high.trailingZeroBitCount
        }
        let c0 = next(), c1 = next(), c2 = next(), c3 = next(), c4 = next(), c5 = next(), c6 = next()
        guard let user = Self.plainDigits(p, from: 0, to: c0, n, maxDigits: 9),
            let video = Self.plainDigits(p, from: c0 &+ 1, to: c1, n, maxDigits: 9),
            let play = Self.plainDigits(p, from: c1 &+ 1, to: c2, n, maxDigits: 18),
            let videoDuration = Self.plainDigits(p, from: c2 &+ 1, to: c3, n, maxDigits: 18), videoDuration != 0,
            c5 > c4 &+ 1, c6 > c5 &+ 1, n > c6 &+ 1,
            case .some(.some(let label)) = cachedDateLabel(
                UnsafeRawBufferPointer(start: p + c4 + 1, count: c5 &- c4 &- 1))
        else { return nil }
        let timestamp = Self.parseTimestampMs(UnsafeRawBufferPointer(start: p + c5 + 1, count: c6 &- c5 &- 1))
        guard case .some(.some) = timestamp,
            let ratio = parseDouble(UnsafeRawBufferPointer(start: p + c6 + 1, count: n &- c6 &- 1)),
            ratio.isFinite, ratio >= 0,
            case .accepted(let event, let day, let disagrees) = dated(
                Int32(truncatingIfNeeded: user), Int32(truncatingIfNeeded: video), play, videoDuration, ratio,
                dateLabel: .some(.some(label)), timestamp: timestamp)
        else { return nil }
        return PlainRow(
            event: event, day: day, dateDisagreesWithTimestamp: disagrees,
            timeText: UnsafeRawBufferPointer(start: p + c3 + 1, count: c4 &- c3 &- 1))
    }

    /// The value of the digits at `p[start..<end]`, a field of a record of `n` bytes; nil when it is empty, longer
    /// than `maxDigits` (at most 18) or holds a byte that is not a digit.
    @inline(__always)
    static func plainDigits(_ p: UnsafeRawPointer, from start: Int, to end: Int, _ n: Int, maxDigits: Int) -> Int64? {
        let k = end &- start
        guard k > 0, k <= maxDigits else { return nil }
        if k <= 8 && start &+ 8 <= n {
            // The k digits moved to the top bytes, '0's below them: the same number, read in three multiplications.
            let word = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: start, as: UInt64.self))
            let digits = (word << UInt64(64 &- 8 &* k)) | (0x3030_3030_3030_3030 >> UInt64(8 &* k))
            guard DecimalParsing.isEightDigits(digits) else { return nil }
            return Int64(DecimalParsing.eightDigitsValue(digits))
        }
        var value: Int64 = 0
        for j in start..<end {
            let d = p.load(fromByteOffset: j, as: UInt8.self) &- 0x30
            guard d <= 9 else { return nil }
            value = value &* 10 &+ Int64(d)
        }
        return value
    }

    /// ``decodePlainRow(_:)`` by one scan: each integer read as its comma is found, each other field's end found
    /// eight bytes at a time.
    @inline(__always)
    private mutating func scanPlainRow(_ p: UnsafeRawPointer, _ n: Int) -> PlainRow? {
        var i = 0
        // Ids: at most 9 digits (below 2^31); durations: at most 18 (no overflow). The comma must follow.
        guard let user = Self.plainDigits(p, &i, n, maxDigits: 9), let video = Self.plainDigits(p, &i, n, maxDigits: 9),
            let play = Self.plainDigits(p, &i, n, maxDigits: 18),
            let videoDuration = Self.plainDigits(p, &i, n, maxDigits: 18), videoDuration != 0,
            let timeEnd = Self.plainFieldEnd(p, from: i, n)
        else { return nil }
        let time = UnsafeRawBufferPointer(start: p + i, count: timeEnd &- i)
        i = timeEnd &+ 1
        guard let dateEnd = Self.plainFieldEnd(p, from: i, n), dateEnd > i,
            case .some(.some(let label)) = cachedDateLabel(UnsafeRawBufferPointer(start: p + i, count: dateEnd &- i)),
            let timestampEnd = Self.plainFieldEnd(p, from: dateEnd &+ 1, n), timestampEnd > dateEnd &+ 1
        else { return nil }
        let dateLabel: Int64?? = .some(.some(label))
        let timestamp = Self.parseTimestampMs(
            UnsafeRawBufferPointer(start: p + dateEnd + 1, count: timestampEnd &- dateEnd &- 1))
        guard case .some(.some) = timestamp, timestampEnd &+ 1 < n,
            let ratio = parseDouble(UnsafeRawBufferPointer(start: p + timestampEnd + 1, count: n &- timestampEnd &- 1)),
            ratio.isFinite, ratio >= 0,
            case .accepted(let event, let day, let disagrees) = dated(
                Int32(truncatingIfNeeded: user), Int32(truncatingIfNeeded: video), play, videoDuration, ratio,
                dateLabel: dateLabel, timestamp: timestamp)
        else { return nil }
        return PlainRow(event: event, day: day, dateDisagreesWithTimestamp: disagrees, timeText: time)
    }

    /// The digits from `i` up to the next comma as a value, `i` moved past the comma; nil when a byte before the
    /// comma is not a digit, there is no digit or more than `maxDigits` (at most 18), or no comma follows.
    @inline(__always)
    static func plainDigits(_ p: UnsafeRawPointer, _ i: inout Int, _ n: Int, maxDigits: Int) -> Int64? {
        let start = i
        // Up to seven digits and their comma in one word: the digits' count from a mask of the bytes that are
        // not digits (exact per byte: no carry crosses a byte), their value in three multiplications.
        if start &+ 8 <= n {
            let word = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: start, as: UInt64.self))
            let highNibbleNot3 = (word & 0xF0F0_F0F0_F0F0_F0F0) ^ 0x3030_3030_3030_3030
            let lowNibbleOver9 = ((word & 0x0F0F_0F0F_0F0F_0F0F) &+ 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0
            let other = highNibbleNot3 | lowNibbleOver9
            let marks = (((other & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7F7F_7F7F_7F7F_7F7F) | other) & 0x8080_8080_8080_8080
            if marks != 0 {
                let k = marks.trailingZeroBitCount &>> 3
                guard k > 0, k <= maxDigits, p.load(fromByteOffset: start &+ k, as: UInt8.self) == 0x2C else { return nil }
                // The k digits moved to the top bytes, '0's below them: the same number.
                let digits = (word << UInt64(64 &- 8 &* k)) | (0x3030_3030_3030_3030 >> UInt64(8 &* k))
                i = start &+ k &+ 1
                return Int64(DecimalParsing.eightDigitsValue(digits))
            }
        }
        var value: Int64 = 0
        var j = i
        while j < n {
            let b = p.load(fromByteOffset: j, as: UInt8.self)
            let d = b &- 0x30
            if d > 9 {
                guard b == 0x2C, j > start, j &- start <= maxDigits else { return nil }
                i = j &+ 1
                return value
            }
            // Wrapping: a value of more than `maxDigits` digits is discarded at the comma.
            value = value &* 10 &+ Int64(d)
            j &+= 1
        }
        return nil
    }

    /// The offset of the comma ending the field that starts at `i`, found eight bytes at a time; nil when the field
    /// holds a quote (the splitter would unquote it) or no comma follows.
    @inline(__always)
    static func plainFieldEnd(_ p: UnsafeRawPointer, from i: Int, _ n: Int) -> Int? {
        var j = i
        while j &+ 8 <= n {
            let word = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: j, as: UInt64.self))
            let commas = CSVFieldSplitter.bytesEqual(word, 0x2C)
            let quotes = CSVFieldSplitter.bytesEqual(word, 0x22)
            if commas != 0 {
                let first = commas & (0 &- commas)
                return quotes & (first &- 1) == 0 ? j &+ commas.trailingZeroBitCount &>> 3 : nil
            }
            if quotes != 0 { return nil }
            j &+= 8
        }
        while j < n {
            let b = p.load(fromByteOffset: j, as: UInt8.self)
            if b == 0x2C { return j }
            if b == 0x22 { return nil }
            j &+= 1
        }
        return nil
    }

    /// The `date` field's label, parsed once while it repeats (rows come grouped by user and time).
    @inline(__always)
    private mutating func cachedDateLabel(_ bytes: UnsafeRawBufferPointer) -> Int64?? {
        let key = ShortFieldKey(bytes)
        if key == lastDateField && key != .unset { return lastDateLabel }
        let parsed = Self.parseDateLabel(bytes)
        lastDateField = key
        lastDateLabel = parsed
        return parsed
    }

    /// The end of ``decode(_:fields:fieldsOK:)`` once the ids, durations and ratio are read: the timestamp's and the
    /// date label's checks, and the day.
    @inline(__always)
    private mutating func dated(
        _ user: Int32, _ video: Int32, _ play: Int64, _ videoDuration: Int64, _ ratio: Double, dateLabel: Int64??,
        timestamp: Int64??
    ) -> Outcome {
        var ts = Interaction.missingTimestamp
        if let timestamp {
            guard let value = timestamp else { return .rejected(.invalidTimestamp) }
            guard Self.timestampRange.contains(value) else { return .rejected(.timestampOutOfRange) }
            ts = value
        }
        let day: CalendarDay
        var disagrees = false
        if let dateLabel {
            guard let label = dateLabel else { return .rejected(.invalidDate) }
            let parsed: CalendarDay
            if label == lastLabel, let cached = lastLabelDay {
                parsed = cached
            } else {
                guard let fresh = CalendarDay(yyyymmdd: label) else { return .rejected(.invalidDate) }
                // Only labels in range are cached, so a cached label needs no second check.
                guard Self.dayRange.contains(fresh) else { return .rejected(.dateOutOfRange) }
                lastLabel = label
                lastLabelDay = fresh
                parsed = fresh
            }
            day = parsed
            if ts != Interaction.missingTimestamp {
                let tsDay = zone.day(ofUnixMilliseconds: ts)
                if tsDay != parsed {
                    if abs(tsDay.distance(to: parsed)) > Self.maxLabelDistanceDays {
                        return .rejected(.timestampOutOfRange)
                    }
                    disagrees = true
                }
            }
        } else {
            day = zone.day(ofUnixMilliseconds: ts)
        }
        let event = Interaction(
            timestampMs: ts, userID: user, videoID: video, playDurationMs: play, videoDurationMs: videoDuration,
            watchRatio: ratio)
        return .accepted(event, day: day, dateDisagreesWithTimestamp: disagrees)
    }

    /// Timestamps accepted: 2000-01-01T00:00Z up to (not including) 2100-01-01T00:00Z, in Unix milliseconds.
    public static let timestampRange: Range<Int64> = 946_684_800_000..<4_102_444_800_000
    /// Days accepted for a `date` label: 2000-01-01 ... 2099-12-31.
    public static let dayRange: ClosedRange<CalendarDay> =
        CalendarDay(year: 2000, month: 1, day: 1)!...CalendarDay(year: 2099, month: 12, day: 31)!
    /// The most a row's timestamp day may differ from its `date` label (KuaiRec: at most 11 days).
    public static let maxLabelDistanceDays = 31

    // MARK: - Number parsing from bytes

    /// nil for an empty field; .some(nil) for a field that is not a number.
    public static func parseDateLabel(_ bytes: UnsafeRawBufferPointer) -> Int64?? {
        if bytes.isEmpty { return nil }
        // `20200705` or `20200705.0`: the notebook rounds (half to even) before formatting %Y%m%d.
        if let whole = parseIntegerWithZeroFraction(bytes) { return .some(whole) }
        guard let value = parseDoubleStatic(bytes), value.isFinite, abs(value) < 1e15 else { return .some(nil) }
        return .some(Int64(value.rounded(.toNearestOrEven)))
    }

    /// Unix seconds with up to three decimals, into exact milliseconds. nil = empty, .some(nil) = invalid.
    public static func parseTimestampMs(_ bytes: UnsafeRawBufferPointer) -> Int64?? {
        if bytes.isEmpty { return nil }
        // KuaiRec's form, ten digits, a dot and three (`1593898068.378`), in two words and no loop: the first
        // eight digits, then the word that ends the text with its dot taken out (the last two digits of the
        // seconds and the three of the milliseconds, five digits).
        if bytes.count == 14, let base = bytes.baseAddress {
            let first = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
            let last = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 6, as: UInt64.self)) >> 16
            let five = (last & 0xFFFF | (last >> 24) << 16) << 24 | 0x30_3030
            if (last >> 16) & 0xFF == 0x2E, DecimalParsing.isEightDigits(first), DecimalParsing.isEightDigits(five) {
                let value = DecimalParsing.eightDigitsValue(first) &* 100_000 &+ DecimalParsing.eightDigitsValue(five)
                return .some(Int64(value))
            }
        }
        var seconds: Int64 = 0
        var i = 0
        let n = bytes.count
        var digits = 0
        // Unix seconds have ten digits: the first eight in one word (see ``DecimalParsing``).
        if n >= 8, let base = bytes.baseAddress {
            let word = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
            if DecimalParsing.isEightDigits(word) {
                seconds = Int64(DecimalParsing.eightDigitsValue(word))
                digits = 8
                i = 8
            }
        }
        while i < n, bytes[i] >= 0x30, bytes[i] <= 0x39 {
            if digits > 12 { return .some(fallbackTimestamp(bytes)) }
            seconds = seconds * 10 + Int64(bytes[i] - 0x30)
            digits += 1
            i += 1
        }
        if digits == 0 { return .some(fallbackTimestamp(bytes)) }
        var millis: Int64 = 0
        if i < n {
            guard bytes[i] == 0x2E else { return .some(fallbackTimestamp(bytes)) }
            i += 1
            var scale: Int64 = 100
            var extra = false
            var roundUp = false
            var firstExtra = true
            while i < n {
                let b = bytes[i]
                guard b >= 0x30, b <= 0x39 else { return .some(fallbackTimestamp(bytes)) }
                if scale > 0 {
                    millis += Int64(b - 0x30) * scale
                    scale /= 10
                } else {
                    // More than millisecond precision: round to the nearest millisecond.
                    if firstExtra { roundUp = b >= 0x35; firstExtra = false }
                    extra = true
                }
                i += 1
            }
            if extra && roundUp { millis += 1 }
        }
        return .some(seconds * 1000 + millis)
    }

    private static func fallbackTimestamp(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        guard let value = parseDoubleStatic(bytes), value.isFinite, abs(value) < 9e12 else { return nil }
        return Int64((value * 1000).rounded())
    }

    /// A non-negative integer id that fits in 31 bits (`123` or `123.0`).
    public static func parseID(_ bytes: UnsafeRawBufferPointer) -> Int32? {
        guard let v = parseIntegerWithZeroFraction(bytes), v >= 0, v <= Int64(Int32.max) else { return nil }
        return Int32(v)
    }

    /// A non-negative integer duration in milliseconds (`4381` or `4381.0`).
    public static func parseDuration(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        guard let v = parseIntegerWithZeroFraction(bytes), v >= 0 else { return nil }
        return v
    }

    /// Digits with an optional `-` and an optional all-zero fraction; nil otherwise or on overflow.
    public static func parseIntegerWithZeroFraction(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        let n = bytes.count
        guard n > 0 else { return nil }
        // Fast path: up to 18 plain digits cannot overflow.
        if n <= 18 {
            var value: Int64 = 0
            var plain = true
            for i in 0..<n {
                let d = bytes[i] &- 0x30
                if d > 9 {
                    plain = false
                    break
                }
                value = value &* 10 &+ Int64(d)
            }
            if plain { return value }
        }
        var i = 0
        var negative = false
        if bytes[0] == 0x2D { negative = true; i = 1 }
        var value: Int64 = 0
        let start = i
        while i < n, bytes[i] >= 0x30, bytes[i] <= 0x39 {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(bytes[i] - 0x30))
            if o1 || o2 { return nil }
            value = a
            i += 1
        }
        if i == start { return nil }
        if i < n {
            guard bytes[i] == 0x2E else { return nil }
            i += 1
            while i < n {
                guard bytes[i] == 0x30 else { return nil }
                i += 1
            }
        }
        return negative ? -value : value
    }

    private mutating func parseDouble(_ bytes: UnsafeRawBufferPointer) -> Double? {
        Self.parseDouble(bytes, scratch: &scratch)
    }

    public static func parseDoubleStatic(_ bytes: UnsafeRawBufferPointer) -> Double? {
        var scratch = [CChar](repeating: 0, count: 64)
        return parseDouble(bytes, scratch: &scratch)
    }

    /// A decimal number, correctly rounded (`strtod`), the whole field consumed. nil for empty or invalid.
    public static func parseDouble(_ bytes: UnsafeRawBufferPointer, scratch: inout [CChar]) -> Double? {
        let n = bytes.count
        guard n > 0 else { return nil }
        if let fast = DecimalParsing.parse(bytes) { return fast }
        if scratch.count < n + 1 { scratch = [CChar](repeating: 0, count: n + 1) }
        return scratch.withUnsafeMutableBufferPointer { buf -> Double? in
            let base = buf.baseAddress!
            UnsafeMutableRawPointer(base).copyMemory(from: bytes.baseAddress!, byteCount: n)
            base[n] = 0
            // Reject what strtod accepts but a CSV number is not (leading spaces, hex).
            let first = UInt8(bitPattern: base[0])
            guard first == 0x2D || first == 0x2E || (first >= 0x30 && first <= 0x39) || first == 0x69 || first == 0x49
                || first == 0x6E || first == 0x4E
            else { return nil }
            // strtod also reads hexadecimal floats (`0x1p3`): pandas does not.
            let k = first == 0x2D ? 1 : 0
            if n > k + 1, base[k] == 0x30, base[k + 1] == 0x78 || base[k + 1] == 0x58 { return nil }
            var end: UnsafeMutablePointer<CChar>?
            let value = strtod(base, &end)
            guard let end, end == base + n else { return nil }
            return value
        }
    }
}

/// A field of up to 16 bytes as two words and its length, for comparing a field with the last one in a few
/// compares (hand-written: a generic `elementsEqual` over the bytes costs more than parsing the field).
/// Longer fields are all ``unset``, which is never treated as equal to a cached field.
struct ShortFieldKey: Equatable {
    private var first: UInt64
    private var last: UInt64
    private var count: Int

    /// The key of no field (and of every field longer than 16 bytes).
    static let unset = ShortFieldKey(first: 0, last: 0, count: -1)

    private init(first: UInt64, last: UInt64, count: Int) {
        self.first = first
        self.last = last
        self.count = count
    }

    /// The key of `bytes`: its first and last eight bytes (overlapping when shorter than 16, together all of
    /// them) and its length, or ``unset`` when longer than 16 bytes.
    @inline(__always)
    init(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        guard n <= 16 else {
            self = .unset
            return
        }
        guard n >= 8, let base = bytes.baseAddress else {
            var word: UInt64 = 0
            for i in 0..<n { word |= UInt64(bytes[i]) << UInt64(8 * i) }
            self.init(first: word, last: 0, count: n)
            return
        }
        self.init(
            first: base.loadUnaligned(as: UInt64.self),
            last: base.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self), count: n)
    }
}

/// Turns Unix times into calendar days in an IANA time zone, caching the zone's current UTC offset
/// between transitions so that the per-row cost is a comparison and a division.
public struct LocalDayResolver {
    private let timeZone: TimeZone
    private var validFrom: Int64 = 1
    private var validUntil: Int64 = 0
    private var offsetSeconds: Int64 = 0

    /// Creates a resolver for `timeZone`.
    public init(timeZone: TimeZone) { self.timeZone = timeZone }

    /// The local calendar day of an instant given in Unix milliseconds.
    public mutating func day(ofUnixMilliseconds ms: Int64) -> CalendarDay {
        let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        if seconds < validFrom || seconds >= validUntil {
            let date = Date(timeIntervalSince1970: TimeInterval(seconds))
            offsetSeconds = Int64(timeZone.secondsFromGMT(for: date))
            validFrom = seconds
            if let next = timeZone.nextDaylightSavingTimeTransition(after: date) {
                validUntil = Int64(next.timeIntervalSince1970.rounded(.down))
            } else {
                validUntil = Int64.max
            }
        }
        let local = seconds + offsetSeconds
        let day = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        return CalendarDay(rawValue: Int32(truncatingIfNeeded: day))
    }
}
