import Dispatch
import ReplayStream

/// Writes user-day records one line each, as JSON lines (``PanelFormat/jsonl``: one object per line, keys in
/// the notebook's column order, then `revision` and `final`; counts as integers, unknown values `null`) or as
/// CSV (``PanelFormat/csv``: the same columns in the same order under a header line written once, the same
/// number text, an unknown value as an empty field, `event_date` unquoted, `true`/`false`).
///
/// A record is written up to four times (revision 0, then as its leads mature); the parts that never
/// change between revisions (aggregates, lags) are rendered once and kept until the
/// record's final revision, and so is each day's `total_play_duration_sec`, which later records
/// reuse as a lead. Memory: at most eight days of records per user (~0.4 KB a record: its values and their
/// text, see ``KeptRenderings``).
///
/// A kept rendering is used only for a record whose values it was rendered from, compared bit for bit,
/// so a record re-issued with other values (a late row revised its day) is rendered anew.
public final class PanelLinesSink: RecordSink {
    private let output: any PanelLineOutput
    private let layout: Layout
    private let keys: [UnsafeBufferPointer<UInt8>]
    private var cache = KeptRenderings()
    /// The memory a record's constant parts are rendered in (then kept, or used once for a final record).
    private let constantsScratch = LineScratch(bytes: PanelLinesSink.constantPartsBound)
    /// The last day whose date was rendered, and its text (a day's records come together).
    private var renderedDate: (day: CalendarDay, text: [UInt8]) = (CalendarDay(rawValue: .min), [])
    /// The joined columns' text (nil: none joined).
    private let context: ContextRendering?

    /// The text of a record's values that are the same in every revision: its first 26 columns (through
    /// `prior_3day_high_watch_share`), kept from revision 0 until the record is final. Memory: the values'
    /// text alone, without JSON's keys (interleaved again when a revision is written), in an array of exactly
    /// its size, ~0.25 KB, and the values it was rendered from, its aggregates and lags, held inline.
    ///
    /// The text's form is the layout's (``Layout/joinsConstants``): for JSON lines each value's length (one
    /// byte each, ``count`` of them), then the values back to back; for CSV the values joined by commas, the
    /// line's first 26 fields as they are written, copied into a revision's line at once (not 26 separators and
    /// 26 values appended one by one).
    struct CachedRecord {
        /// The aggregates the text was rendered from.
        var daily: DailyValues
        /// The `lag_1_*` values the text was rendered from.
        var lag1: LagValues
        /// The `prior_3day_*` values the text was rendered from.
        var prior3: LagValues
        /// The values' text in the layout's form (`event_date` without quotes; an unknown value empty).
        var text: [UInt8]

        /// Keeps `constants`' text, rendered from `record`.
        init(_ record: UserDayRecord, constants: ConstantParts) {
            daily = record.daily
            lag1 = record.lag1
            prior3 = record.prior3
            text = Array(constants.text)
        }

        /// What an empty slot holds: no text.
        static let placeholder = CachedRecord()

        private init() {
            daily = DailyValues()
            lag1 = LagValues(repeating: 0)
            prior3 = LagValues(repeating: 0)
            text = []
        }

        /// The number of columns kept.
        static let count = 26
        /// The column of `total_play_duration_sec`.
        static let playSecondsColumn = 10

        /// True when the text renders `record` (kept for its key): its aggregates, `lag_1_*` and
        /// `prior_3day_*` are the ones the text was rendered from, bit for bit (NaN equals NaN).
        func renders(_ record: UserDayRecord) -> Bool {
            daily.hasSameBits(as: record.daily) && UserDayRecord.sameBits(lag1, record.lag1)
                && UserDayRecord.sameBits(prior3, record.prior3)
        }
    }

    /// A kept day's `total_play_duration_sec` and its text, held inline (40 bytes): a line reads the text of
    /// each of the seven days after its own as a lead, and read from the kept rendering's array (a heap block of
    /// its own, behind a 240-byte slot copied out first) those reads miss the caches (they held half of the
    /// samples of the render thread's line function in `perf annotate`, with CSV every revision). A user's eight
    /// are adjacent.
    struct KeptNumberText {
        /// The value's bits (compared bit for bit).
        let bits: UInt64
        /// The text's length; 0 when nothing is kept (an empty slot, or a text longer than ``capacity``).
        let count: UInt8
        /// The text's bytes, from the first word's lowest byte.
        let words: (UInt64, UInt64, UInt64)

        /// The longest text kept: 24 bytes, the longest shortest-round-trip text of a `Double`
        /// (`-2.2250738585072014e-308`).
        static let capacity = 24

        /// Nothing kept.
        static let none = KeptNumberText(bits: 0, count: 0, words: (0, 0, 0))

        private init(bits: UInt64, count: UInt8, words: (UInt64, UInt64, UInt64)) {
            self.bits = bits
            self.count = count
            self.words = words
        }

        /// `text`, the text of `value` (nothing kept when it is empty or longer than ``capacity``).
        init(_ value: Double, text: UnsafeRawBufferPointer) {
            guard !text.isEmpty, text.count <= Self.capacity else {
                self = .none
                return
            }
            var words: (UInt64, UInt64, UInt64) = (0, 0, 0)
            withUnsafeMutableBytes(of: &words) { $0.baseAddress!.copyMemory(from: text.baseAddress!, byteCount: text.count) }
            self.init(bits: value.bitPattern, count: UInt8(text.count), words: words)
        }

        /// The text when the value kept is `value`, bit for bit.
        @inline(__always)
        func text(ifValue value: Double) -> KeptNumberText? {
            count > 0 && bits == value.bitPattern ? self : nil
        }

        /// Calls `body` with the text's bytes.
        @inline(__always)
        func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
            var words = self.words
            return Swift.withUnsafeBytes(of: &words) { body(UnsafeRawBufferPointer(rebasing: $0[0..<Int(count)])) }
        }
    }

    /// The renderings kept for the records not yet final, by user and day: eight slots a user, a day in slot
    /// `day mod 8` with its day beside it. A user's records not yet final are the days of its last week and
    /// the day closing (a record is final once the seventh day after it has closed), eight consecutive days
    /// that never share a slot; a slot that holds another day is overwritten, which costs only a rendering
    /// (a record or lead not found here is rendered from its values, the same text). A user's slots are found
    /// through a dense array for small ids (KuaiRec's are 0-7,175) and a dictionary otherwise: one lookup a
    /// write, where a dictionary of (user, day) keys took one for the record and one for each of its seven
    /// leads' `total_play_duration_sec` (5% of a cached replay's CPU in perf, with CSV every revision).
    /// Memory: eight slots (~0.3 KB each with their text) for each user with a record written not yet final.
    struct KeptRenderings {
        /// Each slot's day (``emptyDay`` when nothing is kept) and its rendering (``CachedRecord/placeholder`` when
        /// empty): two arrays whose elements are read in place (an array of optional slots would copy each slot,
        /// ~300 bytes, out on every read, several times a line).
        private var days: [CalendarDay] = []
        private var records: [CachedRecord] = []
        /// Each slot's `total_play_duration_sec` with its text (``KeptNumberText/none`` when empty).
        private var playSeconds: [KeptNumberText] = []
        private static let emptyDay = CalendarDay(rawValue: .min)
        /// Each user's first slot + 1 (0: none), for the ids `0..<dense.count`.
        private var dense: [Int32] = []
        /// Each user's first slot, for the ids `dense` does not cover.
        private var sparse: [Int32: Int32] = [:]

        static let slotsPerUser = 8

        /// The ids the dense array may cover with `users` users: 16 ids (64 bytes) a user, 65,536 at least.
        private static func denseLimit(users: Int) -> Int { max(1 << 16, 16 * users) }

        /// The slot of `user`'s `day`, if the user has slots.
        @inline(__always)
        private func slot(_ user: Int32, _ day: CalendarDay) -> Int? {
            let base: Int
            if user >= 0, Int(user) < dense.count {
                guard dense[Int(user)] > 0 else { return nil }
                base = Int(dense[Int(user)]) - 1
            } else {
                guard let first = sparse[user] else { return nil }
                base = Int(first)
            }
            return base + Int(day.rawValue & Int32(Self.slotsPerUser - 1))
        }

        /// Reserves the slots of `users` users at once. The slot arrays grow as users first write (every
        /// user within the first days); grown by doubling, each growth holds the old and the new arrays
        /// together while it copies (KuaiRec's big matrix: the renderings' 7.5 MB and 15 MB at the replay's
        /// second second, the whole run's highest memory).
        mutating func reserve(users: Int) {
            let slots = users * Self.slotsPerUser
            days.reserveCapacity(slots)
            records.reserveCapacity(slots)
            playSeconds.reserveCapacity(slots)
        }

        /// The slot of `user`'s `day`, giving the user its slots first if it has none.
        private mutating func makeSlot(_ user: Int32, _ day: CalendarDay) -> Int {
            if let i = slot(user, day) { return i }
            let base = Int32(days.count)
            days += repeatElement(Self.emptyDay, count: Self.slotsPerUser)
            records += repeatElement(.placeholder, count: Self.slotsPerUser)
            playSeconds += repeatElement(.none, count: Self.slotsPerUser)
            let users = days.count / Self.slotsPerUser
            if user >= 0, Int(user) < Self.denseLimit(users: users) {
                if Int(user) >= dense.count { dense += repeatElement(0, count: Int(user) + 1 - dense.count) }
                dense[Int(user)] = base + 1
            } else {
                sparse[user] = base
            }
            return Int(base) + Int(day.rawValue & Int32(Self.slotsPerUser - 1))
        }

        /// The rendering kept for `user`'s `day`, if any.
        func get(_ user: Int32, _ day: CalendarDay) -> CachedRecord? {
            guard let i = slot(user, day), days[i] == day else { return nil }
            return records[i]
        }

        /// The text kept for `user`'s `day` when it renders `record` (``CachedRecord/renders(_:)``), read in place
        /// (``get(_:_:)`` copies the ~300-byte rendering).
        @inline(__always)
        func text(_ user: Int32, _ day: CalendarDay, rendering record: UserDayRecord) -> [UInt8]? {
            guard let i = slot(user, day), days[i] == day else { return nil }
            // Through the buffer: the array's subscript copies the ~240-byte slot out before reading it.
            return records.withUnsafeBufferPointer { slots in slots[i].renders(record) ? slots[i].text : nil }
        }

        /// The kept text of `user`'s `day`'s `total_play_duration_sec` when it is `value`, bit for bit.
        @inline(__always)
        func playSeconds(_ user: Int32, _ day: CalendarDay, ifValue value: Double) -> KeptNumberText? {
            guard let i = slot(user, day), days[i] == day else { return nil }
            return playSeconds[i].text(ifValue: value)
        }

        /// Keeps `record` for `user`'s `day` (replacing what its slot held), with its `total_play_duration_sec`'s
        /// text, `playSecondsText`.
        mutating func set(_ user: Int32, _ day: CalendarDay, _ record: CachedRecord, playSecondsText: UnsafeRawBufferPointer) {
            let i = makeSlot(user, day)
            days[i] = day
            playSeconds[i] = KeptNumberText(record.daily.totalPlayDurationSec, text: playSecondsText)
            records[i] = record
        }

        /// True when nothing was ever kept (no user has slots): a sink given final revisions only.
        var keepsNothing: Bool { days.isEmpty }

        /// Drops what is kept for `user`'s `day`.
        mutating func remove(_ user: Int32, _ day: CalendarDay) {
            guard let i = slot(user, day), days[i] == day else { return }
            days[i] = Self.emptyDay
            records[i] = .placeholder
            playSeconds[i] = .none
        }
    }

    /// Writes to `output` in `format`, with the `context` columns joined; a CSV output that is empty (new, or cut
    /// back to nothing) gets its header.
    /// - Throws: what writing the header throws.
    /// `expectedUsers`: how many users will write records (the ingest's count), whose kept renderings are
    /// reserved at once (``KeptRenderings/reserve(users:)``); 0 when not known (a live feed).
    public init(
        output: any PanelLineOutput, format: PanelFormat = .jsonl, context: PanelContextColumns = .none,
        expectedUsers: Int = 0
    ) throws {
        self.output = output
        cache.reserve(users: expectedUsers)
        layout = format == .csv ? .csv : .json
        keys = layout.keys
        self.context = ContextRendering(context, format: format)
        if format == .csv, output.length == 0 {
            let header = PanelLinesSink.csvHeader(context: context)
            try output.append { $0.append(contentsOf: header) }
        }
    }

    /// A record's values that are the same in every revision as text (``CachedRecord``'s form), and where
    /// `total_play_duration_sec`'s text is in it.
    struct ConstantParts {
        /// The text, valid until the scratch memory it is in is used again.
        let text: UnsafeRawBufferPointer
        /// Where `total_play_duration_sec`'s text is in ``text``.
        let playSeconds: Range<Int>
    }

    /// What differs between the formats: each column's prefix, the text of an unknown value, the date's
    /// quotes, the revision and final suffixes, the header.
    struct Layout: Sendable {
        let prefixes: KeyPrefixes
        /// True when a record's constant parts are kept as the line's text itself (CSV: the values joined by
        /// commas, nothing to interleave), false when each value's length is kept for the keys to go between
        /// them (JSON lines).
        let joinsConstants: Bool
        /// The text of an unknown value, the date's quote, the revision's prefix and the final suffixes.
        let parts: LineParts
        let header: [UInt8]?
        /// Each column's prefix.
        var keys: [UnsafeBufferPointer<UInt8>] { prefixes.buffers }
        /// The bytes of every column's prefix, the quotes and the longest suffix together.
        let fixedBytes: Int

        init(prefixes: KeyPrefixes, joinsConstants: Bool, null: String, dateQuote: String, revisionKey: String,
             finalTrue: String, finalFalse: String, header: [UInt8]?) {
            self.prefixes = prefixes
            self.joinsConstants = joinsConstants
            func text(_ string: String) -> UnsafeRawBufferPointer {
                UnsafeRawBufferPointer(PanelLinesSink.permanent(Array(string.utf8)))
            }
            parts = LineParts(
                null: text(null), dateQuote: text(dateQuote), revisionKey: text(revisionKey), finalTrue: text(finalTrue),
                finalFalse: text(finalFalse))
            self.header = header
            fixedBytes = prefixes.buffers.reduce(0) { $0 + $1.count } + 2 * dateQuote.utf8.count
                + revisionKey.utf8.count + max(finalTrue.utf8.count, finalFalse.utf8.count)
        }

        static let json = Layout(
            prefixes: sharedKeyPrefixes, joinsConstants: false, null: "null", dateQuote: "\"", revisionKey: ",\"revision\":",
            finalTrue: ",\"final\":true}\n", finalFalse: ",\"final\":false}\n", header: nil)
        static let csv = Layout(
            prefixes: sharedSeparators, joinsConstants: true, null: "", dateQuote: "", revisionKey: ",", finalTrue: ",true\n",
            finalFalse: ",false\n", header: Array((UserDayRecord.columnNames + ["revision", "final"]).joined(separator: ",").utf8) + [0x0A])
    }

    /// A format's fixed texts in memory allocated once for the process and never freed (see ``KeyPrefixes``).
    ///
    /// `@unchecked Sendable`: the buffers are written once, while the layouts (lazily initialized statics) are
    /// built, and never written or freed afterwards.
    struct LineParts: @unchecked Sendable {
        let null: UnsafeRawBufferPointer
        let dateQuote: UnsafeRawBufferPointer
        let revisionKey: UnsafeRawBufferPointer
        let finalTrue: UnsafeRawBufferPointer
        let finalFalse: UnsafeRawBufferPointer
    }

    /// The column prefixes (JSON's `,"name":`, CSV's `,`), for every thread that renders. Kept in memory
    /// allocated once for the process and never freed, and handed out as buffer pointers: appending a
    /// `[UInt8]` element of an array retains and releases it, which was ~25% of the rendering thread's time
    /// in perf (58 keys per line).
    ///
    /// `@unchecked Sendable`: the buffers are written once, while the lazily initialized static below is
    /// built (Swift runs that once, before any thread can read it), and never written or freed afterwards.
    struct KeyPrefixes: @unchecked Sendable {
        let buffers: [UnsafeBufferPointer<UInt8>]
    }

    private static let sharedKeyPrefixes = KeyPrefixes(
        buffers: UserDayRecord.columnNames.enumerated().map { i, name in
            permanent(Array(((i == 0 ? "{\"" : ",\"") + name + "\":").utf8))
        })

    /// The CSV's column prefixes: nothing before the first, a comma before every other.
    private static let sharedSeparators = KeyPrefixes(
        buffers: UserDayRecord.columnNames.indices.map { permanent($0 == 0 ? [] : [0x2C]) })

    fileprivate static func permanent(_ bytes: [UInt8]) -> UnsafeBufferPointer<UInt8> {
        let storage = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(1, bytes.count))
        _ = storage.initialize(from: bytes)
        return UnsafeBufferPointer(rebasing: storage[0..<bytes.count])
    }

    /// Bytes written so far.
    public var length: Int64 { output.length }

    public func write(_ record: UserDayRecord) throws {
        let user = record.userID
        if let kept = cache.text(user, record.day, rendering: record) {
            try kept.withUnsafeBytes { try append(record, constants: $0) }
        } else {
            if record.day != renderedDate.day {
                renderedDate = (record.day, [])
                record.day.appendISO(to: &renderedDate.text)
            }
            let constants = PanelLinesSink.renderConstantParts(
                record, date: renderedDate.text, joined: layout.joinsConstants, scratch: constantsScratch)
            if !record.isFinal {
                cache.set(
                    user, record.day, CachedRecord(record, constants: constants),
                    playSecondsText: UnsafeRawBufferPointer(rebasing: constants.text[constants.playSeconds]))
            }
            try append(record, constants: constants.text)
        }
        if record.isFinal { cache.remove(user, record.day) }
    }

    public func write(contentsOf records: UnsafeBufferPointer<UserDayRecord>) throws {
        for i in records.indices { try write(records[i]) }
    }

    /// ``write(contentsOf:)``; `onTwoCores` (the thread that makes the records waits for this write, so its core
    /// is free): a batch of at least ``twoCoreMinimum`` final records, none of whose renderings are kept (a sink
    /// that is given final revisions only keeps nothing: ``KeptRenderings/keepsNothing``), is rendered in two
    /// halves at once (``TwoHalves``), then appended in order: the same bytes.
    ///
    /// Why: at the end of an `--emit final` run the event loop writes the last seven days' final records at once
    /// and waits for them; rendered on one thread they take ~0.1 s of one core on KuaiRec's big matrix
    /// (50,232 lines), the other idle.
    public func write(contentsOf records: UnsafeBufferPointer<UserDayRecord>, onTwoCores: Bool) throws {
        guard onTwoCores, records.count >= Self.twoCoreMinimum, cache.keepsNothing, records.allSatisfy(\.isFinal) else {
            return try write(contentsOf: records)
        }
        let halves = twoHalves ?? TwoHalves()
        twoHalves = halves
        halves.render(records, layout: layout, context: context)
        try output.append { $0.append(contentsOf: halves.first.text) }
        try output.append { $0.append(contentsOf: halves.second.text) }
        batchesOnTwoCores += 1
    }

    /// Batches ``write(contentsOf:onTwoCores:)`` rendered on two cores.
    public private(set) var batchesOnTwoCores = 0

    /// The fewest records ``write(contentsOf:onTwoCores:)`` renders in two halves (fewer: a thread's hand-off
    /// costs more than half of their rendering).
    public static let twoCoreMinimum = 64

    /// The memory of ``write(contentsOf:onTwoCores:)``, kept from batch to batch (nil until first used).
    private var twoHalves: TwoHalves?

    /// Two halves of a batch of final records rendered at once, each into its own text with its own scratch memory.
    ///
    /// `@unchecked Sendable`: ``render(_:layout:context:)`` runs its two halves on two threads at once, each
    /// writing only its own ``Half`` (the first half's thread `first`, the other's `second`) and reading the
    /// records, the layout and the joined columns, which nothing writes meanwhile; it returns once both ended,
    /// and nothing else uses the halves.
    final class TwoHalves: @unchecked Sendable {
        final class Half {
            var text: [UInt8] = []
            let scratch = LineScratch(bytes: PanelLinesSink.constantPartsBound)
            var date: (day: CalendarDay, text: [UInt8]) = (CalendarDay(rawValue: .min), [])

            /// Renders `records` as final lines (nothing kept to reuse) into ``text``.
            func render(_ records: UnsafeBufferPointer<UserDayRecord>, layout: Layout, context: ContextRendering?) {
                text.removeAll(keepingCapacity: true)
                for i in records.indices {
                    let record = records[i]
                    if record.day != date.day {
                        date = (record.day, [])
                        record.day.appendISO(to: &date.text)
                    }
                    let constants = PanelLinesSink.renderConstantParts(
                        record, date: date.text, joined: layout.joinsConstants, scratch: scratch)
                    PanelLinesSink.renderRevision(
                        record, constants: constants.text, layout: layout, context: context, into: &text
                    ) { _ in nil }
                }
            }
        }
        let first = Half()
        let second = Half()

        /// The records the two threads read. `@unchecked Sendable`: only read, and alive until both threads
        /// have ended (``render(_:layout:context:)`` returns only then).
        private struct Records: @unchecked Sendable {
            let records: UnsafeBufferPointer<UserDayRecord>
        }

        /// Renders the first half of `records` into ``first`` and the rest into ``second``, on two threads.
        func render(_ records: UnsafeBufferPointer<UserDayRecord>, layout: Layout, context: ContextRendering?) {
            let cut = records.count / 2
            let shared = Records(records: records)
            DispatchQueue.concurrentPerform(iterations: 2) { half in
                let records = shared.records
                if half == 0 {
                    first.render(UnsafeBufferPointer(rebasing: records[..<cut]), layout: layout, context: context)
                } else {
                    second.render(UnsafeBufferPointer(rebasing: records[cut...]), layout: layout, context: context)
                }
            }
        }
    }

    /// Appends `record`'s line around its rendered `constants`.
    @inline(__always)
    private func append(_ record: UserDayRecord, constants: UnsafeRawBufferPointer) throws {
        try output.append { out in
            PanelLinesSink.renderRevision(
                record, constants: constants, layout: self.layout, context: self.context, into: &out
            ) { h in
                self.cache.playSeconds(record.userID, record.day.adding(h), ifValue: record.lead(h, column: 2))
            }
        }
    }

    public func flush() throws -> Int64 {
        try output.drain()
        return output.length
    }

    public var durability: any OutputDurability { output.lineDurability }

    /// Renders one record as a line of `format` with the `context` columns joined (for tests and tools).
    public static func render(
        _ record: UserDayRecord, format: PanelFormat = .jsonl, context: PanelContextColumns = .none
    ) -> [UInt8] {
        let layout: Layout = format == .csv ? .csv : .json
        var out: [UInt8] = []
        var date: [UInt8] = []
        record.day.appendISO(to: &date)
        let constantsScratch = LineScratch(bytes: constantPartsBound)
        let constants = withExtendedLifetime(constantsScratch) {
            Array(renderConstantParts(record, date: date, joined: layout.joinsConstants, scratch: constantsScratch).text)
        }
        constants.withUnsafeBytes { constants in
            renderRevision(
                record, constants: constants, layout: layout,
                context: ContextRendering(context, format: format), into: &out
            ) { _ in nil }
        }
        return out
    }

    /// The CSV header line (with its newline) of the notebook's panel.
    public static var csvHeader: [UInt8] { Layout.csv.header! }

    /// The CSV header line (with its newline) with the `context` columns joined.
    public static func csvHeader(context: PanelContextColumns) -> [UInt8] {
        Array((UserDayRecord.columnNames + context.names + ["revision", "final"]).joined(separator: ",").utf8) + [0x0A]
    }

    /// The most bytes ``renderConstantParts(_:date:joined:scratch:)`` writes: the lengths (or commas), 25
    /// numbers and the date.
    static let constantPartsBound = CachedRecord.count + CachedRecord.count * LineCursor.maxNumberBytes

    /// Renders `r`'s values that are the same in every revision (``CachedRecord``'s text: the values joined by
    /// commas when `joined`, else each value's length, then the values back to back) in `scratch`, with `date`
    /// (its day's ISO text) as `event_date`; the bytes are valid until `scratch` is used again.
    static func renderConstantParts(
        _ r: UserDayRecord, date: [UInt8], joined: Bool, scratch: LineScratch
    ) -> ConstantParts {
        var line = scratch.cursor(atLeast: constantPartsBound)
        if !joined { for _ in 0..<CachedRecord.count { line.append(0) } }
        var column = 0
        var start = line.count
        var playSeconds = 0..<0
        @inline(__always) func end() {
            if column == CachedRecord.playSecondsColumn { playSeconds = start..<line.count }
            if joined {
                if column < CachedRecord.count - 1 { line.append(0x2C) }
            } else {
                line.set(UInt8(line.count - start), at: column)
            }
            column += 1
            start = line.count
        }
        let none = UnsafeRawBufferPointer(start: nil, count: 0)
        @inline(__always) func int(_ v: Int64) {
            line.appendInt(v)
            end()
        }
        @inline(__always) func double(_ v: Double) {
            line.appendDouble(v, null: none)
            end()
        }
        @inline(__always) func count(_ v: Double) {
            line.appendCount(v, null: none)
            end()
        }
        let d = r.daily
        int(Int64(r.userID))
        date.withUnsafeBytes { line.append($0) }
        end()
        int(Int64(d.interactions))
        int(Int64(d.uniqueVideos))
        int(d.totalPlayDurationMs)
        double(d.avgPlayDurationMs)
        double(d.avgVideoDurationMs)
        double(d.avgWatchRatio)
        int(Int64(d.highWatchCount))
        int(Int64(d.completeOrRewatchCount))
        double(d.totalPlayDurationSec)
        double(d.avgPlayDurationSec)
        double(d.avgVideoDurationSec)
        double(d.highWatchShare)
        double(d.completeOrRewatchShare)
        int(Int64(d.activeDay))
        // lag_1_* and prior_3day_*: active_day and interactions are counts, the rest floats.
        for c in 0..<5 {
            if c < 2 {
                count(r.lag1[c])
                count(r.prior3[c])
            } else {
                double(r.lag1[c])
                double(r.prior3[c])
            }
        }
        return ConstantParts(text: line.written, playSeconds: playSeconds)
    }

    /// Appends one revision: the cached constant parts (`constants`, in the layout's form) around the leads,
    /// sums and revision, rendered straight into `out`'s spare capacity (a line is written once, where the
    /// output's buffer holds it). `playSecondsOfDayAfter(h)` returns the cached text of day D+h's
    /// `total_play_duration_sec`.
    @inline(__always)
    static func renderRevision(
        _ r: UserDayRecord, constants: UnsafeRawBufferPointer, layout: Layout, context: ContextRendering?,
        into out: inout [UInt8], playSecondsOfDayAfter: (Int) -> KeptNumberText?
    ) {
        // At most 40 numbers (33 today) besides the kept text, each value's null and the fixed parts.
        let bound = layout.fixedBytes + constants.count + CachedRecord.count * layout.parts.null.count
            + 40 * LineCursor.maxNumberBytes
        appendLine(to: &out, atMost: bound) { line in
            renderValues(r, constants: constants, layout: layout, into: &line, playSecondsOfDayAfter: playSecondsOfDayAfter)
            if context == nil { renderRevisionEnd(r, layout: layout, into: &line) }
        }
        if let context {
            context.append(r, to: &out)
            appendLine(to: &out, atMost: layout.parts.revisionKey.count + LineCursor.maxNumberBytes + layout.parts.finalFalse.count) {
                renderRevisionEnd(r, layout: layout, into: &$0)
            }
        }
    }

    /// Appends to `out` what `body` writes through a cursor over `out`'s spare capacity (at least `bound` bytes).
    @inline(__always)
    private static func appendLine(to out: inout [UInt8], atMost bound: Int, _ body: (inout LineCursor) -> Void) {
        out.append(addingCapacity: bound) { span in
            span.withUnsafeMutableBufferPointer { memory, initialized in
                var line = LineCursor(UnsafeMutableRawBufferPointer(memory))
                body(&line)
                initialized = line.count
            }
        }
    }

    /// A revision's line up to its joined columns: the constant parts, the leads, sums and treatments.
    @inline(__always)
    private static func renderValues(
        _ r: UserDayRecord, constants: UnsafeRawBufferPointer, layout: Layout, into line: inout LineCursor,
        playSecondsOfDayAfter: (Int) -> KeptNumberText?
    ) {
        let keys = layout.keys
        let parts = layout.parts
        if layout.joinsConstants {
            line.append(constants)
        } else {
            let text = constants
            var start = CachedRecord.count
            for column in 0..<CachedRecord.count {
                let end = start + Int(text[column])
                let value = UnsafeRawBufferPointer(rebasing: text[start..<end])
                line.append(keys[column])
                if column == 1 {
                    line.append(parts.dateQuote)
                    line.append(value)
                    line.append(parts.dateQuote)
                } else {
                    line.append(value.isEmpty ? parts.null : value)
                }
                start = end
            }
        }
        var k = CachedRecord.count
        @inline(__always) func key() {
            line.append(keys[k])
            k += 1
        }
        @inline(__always) func count(_ v: Double) {
            key()
            line.appendCount(v, null: parts.null)
        }
        @inline(__always) func double(_ v: Double) {
            key()
            line.appendDouble(v, null: parts.null)
        }
        // future_3day_* and future_7day_* summed as the leads are read, left to right as
        // ``UserDayRecord/future(_:column:)`` sums them (the same operations, so the same bits), without reading the
        // leads again.
        var future3 = (0.0, 0.0, 0.0), future7 = (0.0, 0.0, 0.0)
        @inline(__always) func sum(_ v: Double, _ h: Int, into total: inout Double, future3 third: inout Double) {
            total = h == 1 ? v : total + v
            if h == 3 { third = total }
        }
        for h in 1...7 {
            let v = r.lead(h, column: 0)
            count(v)
            sum(v, h, into: &future7.0, future3: &future3.0)
        }
        for h in 1...7 {
            let v = r.lead(h, column: 1)
            count(v)
            sum(v, h, into: &future7.1, future3: &future3.1)
        }
        var play1: KeptNumberText? = nil
        for h in 1...7 {
            key()
            let v = r.lead(h, column: 2)
            sum(v, h, into: &future7.2, future3: &future3.2)
            if v.isFinite, let text = playSecondsOfDayAfter(h) {
                text.withUnsafeBytes { line.append($0) }
                if h == 1 { play1 = text }
            } else {
                line.appendDouble(v, null: parts.null)
            }
        }
        count(r.lead(1, column: 0))
        count(r.lead(1, column: 1))
        key()
        if let play1 { play1.withUnsafeBytes { line.append($0) } } else { line.appendDouble(r.lead(1, column: 2), null: parts.null) }
        count(future3.0)
        count(future3.1)
        double(future3.2)
        count(future7.0)
        count(future7.1)
        double(future7.2)
        line.append(keys[56])
        line.appendInt(Int64(r.treatmentHighIntensity))
        line.append(keys[57])
        line.appendInt(Int64(r.treatmentHighWatchExposure))
    }

    /// The end of a revision's line: its revision number, whether it is final, and the newline.
    @inline(__always)
    private static func renderRevisionEnd(_ r: UserDayRecord, layout: Layout, into line: inout LineCursor) {
        line.append(layout.parts.revisionKey)
        line.appendInt(Int64(r.revision))
        line.append(r.isFinal ? layout.parts.finalTrue : layout.parts.finalFalse)
    }
}

/// The constant parts of a rejects line, as bytes made once (a rejected row's line is built on the ingest's fold).
private enum RejectKeys {
    static let lineKey = Array("{\"line\":".utf8)
    static let reasonKey = Array(",\"reason\":".utf8)
    static let rawKey = Array(",\"raw\":".utf8)
}

/// Writes rejected rows as JSON lines: `{"line":N,"reason":"...","raw":"..."}`; a late row of a live
/// feed also carries `"day":"YYYY-MM-DD"`, `"lateness_ms"` (how far behind the newest event time it was)
/// and, when `--late-policy revise` could not take it, a `"note"` saying why.
public final class JSONRejectsWriter: LiveRejectWriter {
    private let output: ByteOutput
    /// Rows written.
    public private(set) var count = 0

    /// Writes to `output`.
    public init(output: ByteOutput) { self.output = output }

    public func reject(line: Int64, reason: RejectReason, raw: UnsafeRawBufferPointer) throws {
        try output.append { out in
            out.append(contentsOf: RejectKeys.lineKey)
            JSONBytes.appendInt(line, to: &out)
            out.append(contentsOf: RejectKeys.reasonKey)
            JSONBytes.appendString(reason.rawValue, to: &out)
            out.append(contentsOf: RejectKeys.rawKey)
            JSONBytes.appendString(raw, to: &out)
            out.append(contentsOf: [0x7D, 0x0A])
        }
        count += 1
    }

    public func rejectLate(
        line: Int64, raw: UnsafeRawBufferPointer, reason: RejectReason, day: CalendarDay, latenessMs: Int64?, note: String?
    ) throws {
        try output.append { out in
            out.append(contentsOf: RejectKeys.lineKey)
            JSONBytes.appendInt(line, to: &out)
            out.append(contentsOf: RejectKeys.reasonKey)
            JSONBytes.appendString(reason.rawValue, to: &out)
            out.append(contentsOf: Array(",\"day\":\"".utf8))
            day.appendISO(to: &out)
            out.append(contentsOf: Array("\",\"lateness_ms\":".utf8))
            if let latenessMs { JSONBytes.appendInt(latenessMs, to: &out) } else { out.append(contentsOf: Array("null".utf8)) }
            if let note {
                out.append(contentsOf: Array(",\"note\":".utf8))
                JSONBytes.appendString(note, to: &out)
            }
            out.append(contentsOf: RejectKeys.rawKey)
            JSONBytes.appendString(raw, to: &out)
            out.append(contentsOf: [0x7D, 0x0A])
        }
        count += 1
    }

    public func flush() throws -> Int64 {
        try output.drain()
        return output.length
    }

    /// Makes the rejects durable.
    public func sync() throws { _ = try output.sync() }
}
