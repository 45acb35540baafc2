import Foundation

/// One row of the log as the notebook's `interactions` frame holds it, read from the row's text: its values,
/// its `event_date`, which of its time fields are empty, its `time` text, and the day the panel files it
/// under. What the interaction diagnostics count of a row, taken out of the text on the thread that splits
/// the row, so that the counting needs neither the text nor its fields (it runs on another thread, in file
/// order).
///
/// A fixed-size value without references: ingest passes hand rows between threads in reused arrays.
public struct NotebookRow: Sendable {
    /// The row's values (for a row the panel rejects, as the notebook reads them; its timestamp is
    /// ``Interaction/missingTimestamp`` when the field is empty or not a number).
    public var event: Interaction
    /// The day the panel files the row under, or `Int32.min` for a row the panel rejects.
    public var dayRawValue: Int32
    /// `event_date` (the `date` label's day), or `Int32.min` when it is missing.
    public var eventDateRawValue: Int32
    /// False for a row the notebook's frame leaves out; the other properties are then meaningless.
    public var isKept: Bool
    /// The `date` field is empty.
    public var dateIsEmpty: Bool
    /// The `timestamp` field is empty.
    public var timestampIsEmpty: Bool
    /// Bytes of the `time` field, at most ``timeTextCapacity`` (longer fields are cut there: no text that
    /// long is a time the notebook's format reads, and the cut keeps it so).
    @usableFromInline var timeTextCount: UInt8
    /// The `time` field's first bytes (up to ``timeTextCapacity``).
    @usableFromInline var timeText: (UInt64, UInt64, UInt64, UInt64)

    /// The most bytes of the `time` field kept: one more than the longest time text the notebook's formats
    /// read (`YYYY-MM-DD HH:MM:SS.` and nine digits), so that a longer field stays longer than that.
    public static let timeTextCapacity = 30

    /// A row left out of the notebook's frame (its ids or numbers do not parse).
    public static let leftOut = NotebookRow(
        event: Interaction(timestampMs: 0, userID: 0, videoID: 0, playDurationMs: 0, videoDurationMs: 0, watchRatio: 0),
        dayRawValue: .min, eventDateRawValue: .min, isKept: false, dateIsEmpty: false, timestampIsEmpty: false,
        timeTextCount: 0, timeText: (0, 0, 0, 0))

    private init(
        event: Interaction, dayRawValue: Int32, eventDateRawValue: Int32, isKept: Bool, dateIsEmpty: Bool,
        timestampIsEmpty: Bool, timeTextCount: UInt8, timeText: (UInt64, UInt64, UInt64, UInt64)
    ) {
        self.event = event
        self.dayRawValue = dayRawValue
        self.eventDateRawValue = eventDateRawValue
        self.isKept = isKept
        self.dateIsEmpty = dateIsEmpty
        self.timestampIsEmpty = timestampIsEmpty
        self.timeTextCount = timeTextCount
        self.timeText = timeText
    }

    /// The day the panel files the row under; nil for a row it rejects.
    @inlinable public var day: CalendarDay? { dayRawValue == .min ? nil : CalendarDay(rawValue: dayRawValue) }
    /// `event_date`; nil when missing.
    @inlinable public var eventDate: CalendarDay? {
        eventDateRawValue == .min ? nil : CalendarDay(rawValue: eventDateRawValue)
    }

    /// Calls `body` with the `time` field's bytes (cut at ``timeTextCapacity``).
    @inlinable
    public func withTimeText<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(of: timeText) { try body(UnsafeRawBufferPointer(rebasing: $0.prefix(Int(timeTextCount)))) }
    }

    /// Reads the row last split by `fields` as the notebook does, given the decoder's `outcome`: a kept row
    /// for every accepted row and for every rejected row whose ids, durations and `watch_ratio` parse, else
    /// ``leftOut``.
    @inline(__always)
    public init(
        _ record: UnsafeRawBufferPointer, fields: CSVFieldSplitter, columns c: InteractionColumns,
        outcome: InteractionDecoder.Outcome
    ) {
        let dateEmpty = fields.fieldCount > c.date && fields.withField(c.date, in: record) { $0.isEmpty }
        let event: Interaction
        var eventDate = Int32.min
        var day = Int32.min
        switch outcome {
        case .accepted(let e, let accepted, _):
            event = e
            day = accepted.rawValue
            if !dateEmpty { eventDate = accepted.rawValue }
        case .rejected:
            guard let e = Self.valuesOfRejected(record, fields: fields, columns: c, dateEmpty: dateEmpty, eventDate: &eventDate)
            else {
                self = .leftOut
                return
            }
            event = e
        }
        // A kept row has every column (the decoder accepts only such rows, and so does valuesOfRejected).
        let timestampEmpty = fields.withField(c.timestamp, in: record) { $0.isEmpty }
        var text: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        let count = fields.withField(c.time, in: record) { bytes -> Int in
            text = Self.packedTimeText(bytes)
            return min(bytes.count, Self.timeTextCapacity)
        }
        self.init(
            event: event, dayRawValue: day, eventDateRawValue: eventDate, isKept: true, dateIsEmpty: dateEmpty,
            timestampIsEmpty: timestampEmpty, timeTextCount: UInt8(count), timeText: text)
    }

    /// An accepted row whose `date` and `timestamp` fields are not empty (``InteractionDecoder/decodePlainRow(_:)``):
    /// what ``init(_:fields:columns:outcome:)`` makes of it.
    @inline(__always)
    public init(accepted event: Interaction, day: CalendarDay, timeText time: UnsafeRawBufferPointer) {
        self.init(
            event: event, dayRawValue: day.rawValue, eventDateRawValue: day.rawValue, isKept: true, dateIsEmpty: false,
            timestampIsEmpty: false, timeTextCount: UInt8(min(time.count, Self.timeTextCapacity)),
            timeText: Self.packedTimeText(time))
    }

    /// The first ``timeTextCapacity`` bytes of `time` as four little-endian words, zero after the text: built in
    /// registers from loads inside the field (a `memcpy` of the text's bytes into the words, read back as words,
    /// stalls on store forwarding: a tenth of the one-scan decoding's samples in `perf annotate`).
    @inline(__always)
    static func packedTimeText(_ time: UnsafeRawBufferPointer) -> (UInt64, UInt64, UInt64, UInt64) {
        let n = min(time.count, timeTextCapacity)
        guard n > 0, let base = time.baseAddress else { return (0, 0, 0, 0) }
        @inline(__always) func word(_ offset: Int) -> UInt64 {
            UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        }
        /// The bytes `start..<start + count` (count 1...8) in the low bytes of a word, read with loads inside the text.
        @inline(__always) func part(_ start: Int, _ count: Int) -> UInt64 {
            if count == 8 { return word(start) }
            if n >= 8 { return word(start + count - 8) >> UInt64(8 * (8 - count)) }  // the 8 bytes ending at the part's end
            var value: UInt64 = 0
            for i in 0..<count { value |= UInt64(base.load(fromByteOffset: start + i, as: UInt8.self)) << UInt64(8 * i) }
            return value
        }
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        words.0 = part(0, Swift.min(n, 8))
        if n > 8 { words.1 = part(8, Swift.min(n - 8, 8)) }
        if n > 16 { words.2 = part(16, Swift.min(n - 16, 8)) }
        if n > 24 { words.3 = part(24, n - 24) }
        return words
    }

    /// A rejected row's values as the notebook reads them (it reads every row the decoder rejects for its
    /// date or time), or nil when its ids or numbers cannot be read (the notebook could not either).
    @inline(__always)
    private static func valuesOfRejected(
        _ record: UnsafeRawBufferPointer, fields: CSVFieldSplitter, columns c: InteractionColumns, dateEmpty: Bool,
        eventDate: inout Int32
    ) -> Interaction? {
        guard fields.fieldCount == c.count,
            let user = fields.withField(c.userID, in: record, InteractionDecoder.parseID),
            let video = fields.withField(c.videoID, in: record, InteractionDecoder.parseID),
            let play = fields.withField(c.playDuration, in: record, InteractionDecoder.parseIntegerWithZeroFraction),
            let length = fields.withField(c.videoDuration, in: record, InteractionDecoder.parseIntegerWithZeroFraction),
            let ratio = fields.withField(c.watchRatio, in: record, InteractionDecoder.parseDoubleStatic), ratio.isFinite
        else { return nil }
        var ts = Interaction.missingTimestamp
        if case .some(.some(let t)) = fields.withField(c.timestamp, in: record, InteractionDecoder.parseTimestampMs) {
            ts = t
        }
        if !dateEmpty, case .some(.some(let label)) = fields.withField(c.date, in: record, InteractionDecoder.parseDateLabel),
            let labelDay = CalendarDay(yyyymmdd: label)
        {
            eventDate = labelDay.rawValue
        }
        return Interaction(
            timestampMs: ts, userID: user, videoID: video, playDurationMs: play, videoDurationMs: length,
            watchRatio: ratio)
    }
}
