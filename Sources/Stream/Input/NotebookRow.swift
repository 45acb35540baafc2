import Foundation

/// One row of the log as the notebook's `interactions` frame holds it, read from the row's text: its values,
/// its `event_date`, which of its time fields are empty, its `time` field read as a time, and the day the panel
/// files it under. What the interaction diagnostics count of a row, taken out of the text on the thread that splits
/// the row, so that the counting needs neither the text nor its fields (it runs on another thread, in file
/// order).
///
/// A fixed-size value without references (60 bytes): ingest passes hand rows between threads in reused arrays.
public struct NotebookRow: Sendable {
    /// The row's values (for a row the panel rejects, as the notebook reads them; its timestamp is
    /// ``Interaction/missingTimestamp`` when the field is empty or not a number).
    public var event: Interaction
    /// The day the panel files the row under, or `Int32.min` for a row the panel rejects.
    public var dayRawValue: Int32
    /// `event_date` (the `date` label's day), or `Int32.min` when it is missing.
    public var eventDateRawValue: Int32
    /// The `time` field read as a wall-clock time (``NaiveTimeText``) in the format its own length names (with a
    /// fraction when longer than 19 bytes), in milliseconds since 1970; ``unreadableTime`` when it is not one.
    @usableFromInline var timeTextMs: Int64
    /// False for a row the notebook's frame leaves out; the other properties are then meaningless.
    public var isKept: Bool
    /// The `date` field is empty.
    public var dateIsEmpty: Bool
    /// The `timestamp` field is empty.
    public var timestampIsEmpty: Bool
    /// Bytes of the `time` field, at most 255 (0: the field is empty).
    @usableFromInline var timeTextCount: UInt8

    /// ``timeTextMs`` of a `time` field that is empty or not a time in the format its length names.
    @inlinable static var unreadableTime: Int64 { .min }

    /// A row left out of the notebook's frame (its ids or numbers do not parse).
    public static let leftOut = NotebookRow(
        event: Interaction(timestampMs: 0, userID: 0, videoID: 0, playDurationMs: 0, videoDurationMs: 0, watchRatio: 0),
        dayRawValue: .min, eventDateRawValue: .min, isKept: false, dateIsEmpty: false, timestampIsEmpty: false,
        timeTextMs: unreadableTime, timeTextCount: 0)

    private init(
        event: Interaction, dayRawValue: Int32, eventDateRawValue: Int32, isKept: Bool, dateIsEmpty: Bool,
        timestampIsEmpty: Bool, timeTextMs: Int64, timeTextCount: UInt8
    ) {
        self.event = event
        self.dayRawValue = dayRawValue
        self.eventDateRawValue = eventDateRawValue
        self.isKept = isKept
        self.dateIsEmpty = dateIsEmpty
        self.timestampIsEmpty = timestampIsEmpty
        self.timeTextMs = timeTextMs
        self.timeTextCount = timeTextCount
    }

    /// The day the panel files the row under; nil for a row it rejects.
    @inlinable public var day: CalendarDay? { dayRawValue == .min ? nil : CalendarDay(rawValue: dayRawValue) }
    /// `event_date`; nil when missing.
    @inlinable public var eventDate: CalendarDay? {
        eventDateRawValue == .min ? nil : CalendarDay(rawValue: eventDateRawValue)
    }

    /// The `time` field is empty.
    @inlinable public var timeIsEmpty: Bool { timeTextCount == 0 }

    /// The `time` field is longer than `YYYY-MM-DD HH:MM:SS`: pandas, inferring the column's format from its first
    /// value, infers one with a fraction from such a value.
    @inlinable public var timeTextHasFraction: Bool { timeTextCount > 19 }

    /// The `time` field as pandas' `to_datetime` reads it under the column's inferred format (`withFraction`:
    /// `YYYY-MM-DD HH:MM:SS.f` with 1-9 digits, else `YYYY-MM-DD HH:MM:SS`), in milliseconds since 1970 (wall
    /// clock); nil when it is empty or not a time in that format. A text is one in at most one of the two
    /// formats, the one its length names, which is the one it was read in.
    @inlinable public func timeText(withFraction: Bool) -> Int64? {
        timeTextMs == Self.unreadableTime || timeTextHasFraction != withFraction ? nil : timeTextMs
    }

    /// `timeTextMs` and `timeTextCount` of a `time` field.
    @inline(__always)
    static func readTime(_ time: UnsafeRawBufferPointer, cache: inout NaiveTimeText.DateCache) -> (Int64, UInt8) {
        let count = UInt8(Swift.min(time.count, Int(UInt8.max)))
        guard count > 0, let ms = NaiveTimeText.parse(time, withFraction: time.count > 19, cache: &cache) else {
            return (unreadableTime, count)
        }
        return (ms, count)
    }

    /// Reads the row last split by `fields` as the notebook does, given the decoder's `outcome`: a kept row
    /// for every accepted row and for every rejected row whose ids, durations and `watch_ratio` parse, else
    /// ``leftOut``.
    @inline(__always)
    public init(
        _ record: UnsafeRawBufferPointer, fields: CSVFieldSplitter, columns c: InteractionColumns,
        outcome: InteractionDecoder.Outcome, timeCache: inout NaiveTimeText.DateCache
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
        let (ms, count) = fields.withField(c.time, in: record) { Self.readTime($0, cache: &timeCache) }
        self.init(
            event: event, dayRawValue: day, eventDateRawValue: eventDate, isKept: true, dateIsEmpty: dateEmpty,
            timestampIsEmpty: timestampEmpty, timeTextMs: ms, timeTextCount: count)
    }

    /// An accepted row whose `date` and `timestamp` fields are not empty (``InteractionDecoder/decodePlainRow(_:)``):
    /// what ``init(_:fields:columns:outcome:timeCache:)`` makes of it.
    @inline(__always)
    public init(
        accepted event: Interaction, day: CalendarDay, timeText time: UnsafeRawBufferPointer,
        timeCache: inout NaiveTimeText.DateCache
    ) {
        let (ms, count) = Self.readTime(time, cache: &timeCache)
        self.init(
            event: event, dayRawValue: day.rawValue, eventDateRawValue: day.rawValue, isKept: true, dateIsEmpty: false,
            timestampIsEmpty: false, timeTextMs: ms, timeTextCount: count)
    }

    /// Stores ``init(accepted:day:timeText:timeCache:)``'s row at `row` (memory for one, initialized or not: the row
    /// holds no references), field by field: a row built whole goes through a stack temporary, whose copy's 16-byte
    /// loads stall on the stores of its small fields (store forwarding; ``NotebookRows``).
    @inline(__always)
    static func store(
        accepted event: Interaction, day: CalendarDay, timeText time: UnsafeRawBufferPointer,
        timeCache: inout NaiveTimeText.DateCache, at row: UnsafeMutablePointer<NotebookRow>
    ) {
        let (ms, count) = readTime(time, cache: &timeCache)
        row.pointee.event = event
        row.pointee.dayRawValue = day.rawValue
        row.pointee.eventDateRawValue = day.rawValue
        row.pointee.timeTextMs = ms
        row.pointee.isKept = true
        row.pointee.dateIsEmpty = false
        row.pointee.timestampIsEmpty = false
        row.pointee.timeTextCount = count
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
