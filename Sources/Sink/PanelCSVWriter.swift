import ReplayStream

/// Turns record lines of a panel file into CSV rows of the notebook's panel columns.
///
/// A row holds the columns of ``UserDayRecord/columnNames`` (the notebook's order, the order the
/// sink writes them) separated by commas: numbers as their JSON text, byte for byte (the sink
/// writes the shortest round-trip form, so nothing is reparsed or reprinted and a value read back
/// with `pd.read_csv(..., float_precision="round_trip")` is the record's value bit for bit),
/// `null` as an empty field (pandas reads NaN), `event_date` as `YYYY-MM-DD` without its quotes.
/// No field needs CSV quoting: every value is a number, empty, or a date.
///
/// A line is any flat JSON object with exactly the panel's columns plus `revision` and `final`, in any
/// key order and with any whitespace; the sink's own layout is the fast case (keys compared in order,
/// no lookup). Work per line: one pass over its bytes, no allocation once the buffers have grown.
public struct PanelCSVWriter {
    /// What is wrong with a line that is not a panel record (without the line number, which the caller adds).
    public struct LineProblem: Error, CustomStringConvertible, Sendable {
        /// Why the line is refused, e.g. `the key(s) lead_1_active_day are missing`.
        public var reason: String
        public var description: String { reason }
    }

    /// The panel's columns, in the notebook's order.
    public static let columns = UserDayRecord.columnNames
    /// Every key of a record line in the sink's order (the panel's columns, `revision`, `final`).
    private static let keyBytes: [[UInt8]] = (columns + ["revision", "final"]).map { Array($0.utf8) }
    private static let revisionColumn = columns.count
    private static let finalColumn = columns.count + 1
    private static let columnIndex: [String: Int] = {
        var index: [String: Int] = [:]
        for (i, name) in columns.enumerated() { index[name] = i }
        index["revision"] = revisionColumn
        index["final"] = finalColumn
        return index
    }()
    private static func name(ofColumn column: Int) -> String {
        column < columns.count ? columns[column] : (column == revisionColumn ? "revision" : "final")
    }
    private static let userColumn = columns.firstIndex(of: "user_id")!
    private static let dateColumn = columns.firstIndex(of: "event_date")!

    /// Where each column's field lies in the current line (`start == -1`: not seen yet).
    private var fieldStart: [Int]
    private var fieldEnd: [Int]

    /// A writer with its buffers sized for the panel.
    public init() {
        fieldStart = Array(repeating: -1, count: Self.columns.count + 2)
        fieldEnd = Array(repeating: -1, count: Self.columns.count + 2)
    }

    /// The header line, newline included: the notebook's columns, then `revision,final` when asked.
    public static func header(withRevision: Bool) -> [UInt8] {
        Array(((withRevision ? columns + ["revision", "final"] : columns).joined(separator: ",") + "\n").utf8)
    }

    private enum ValueKind { case number, string, null, boolean }

    /// Appends the CSV fields of `line`'s panel columns to `out`, comma-separated, without a newline.
    ///
    /// Checks that the line is one JSON object holding each panel column once (numbers or null;
    /// `user_id` a number, `event_date` a `YYYY-MM-DD` string), `revision` and `final`, and nothing else.
    /// The values of `revision` and `final` are not copied (``ChangelogReader/info(of:)`` reads them).
    /// - Throws: ``LineProblem`` saying what is wrong; `out` is left as it was.
    public mutating func appendRow(of line: UnsafeRawBufferPointer, to out: inout [UInt8]) throws(LineProblem) {
        try scan(line)
        let total = Self.columns.count
        var needed = total - 1
        for c in 0..<total { needed += fieldEnd[c] - fieldStart[c] }
        out.reserveCapacity(out.count + needed)
        for c in 0..<total {
            if c > 0 { out.append(0x2C) }
            if fieldEnd[c] > fieldStart[c] {
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: line[fieldStart[c]..<fieldEnd[c]]))
            }
        }
    }

    /// Finds every field of `line`, checking the object's structure and the values' kinds.
    private mutating func scan(_ line: UnsafeRawBufferPointer) throws(LineProblem) {
        for c in fieldStart.indices { fieldStart[c] = -1 }
        let n = line.count
        var i = 0
        @inline(__always) func skipSpace() {
            while i < n, line[i] == 0x20 || line[i] == 0x09 || line[i] == 0x0D { i += 1 }
        }
        skipSpace()
        guard i < n, line[i] == 0x7B else {
            throw LineProblem(
                reason: n == 0 ? "the line is empty" : "it is not a JSON object (it does not start with '{')")
        }
        i += 1
        skipSpace()
        var closed = false
        if i < n, line[i] == 0x7D {
            i += 1
            closed = true
        }
        var expected = 0  // the column the sink writes next: a key equal to its name needs no lookup
        while !closed {
            skipSpace()
            guard i < n, line[i] == 0x22 else {
                throw LineProblem(reason: "a key in quotes was expected at byte \(i + 1)")
            }
            let keyStart = i + 1
            i = keyStart
            while i < n, line[i] != 0x22, line[i] != 0x5C { i += 1 }
            guard i < n, line[i] == 0x22 else {
                throw LineProblem(
                    reason: "the key at byte \(keyStart) is not closed or holds an escape; no panel column does")
            }
            let key = UnsafeRawBufferPointer(rebasing: line[keyStart..<i])
            i += 1
            let column: Int
            if expected < Self.keyBytes.count, key.elementsEqual(Self.keyBytes[expected]) {
                column = expected
            } else if let found = Self.columnIndex[String(decoding: key, as: UTF8.self)] {
                column = found
            } else {
                throw LineProblem(
                    reason: "it has the key \"\(String(decoding: key, as: UTF8.self))\", which is no panel column")
            }
            expected = column + 1
            let name = Self.name(ofColumn: column)
            guard fieldStart[column] < 0 else { throw LineProblem(reason: "the key \"\(name)\" appears twice") }
            skipSpace()
            guard i < n, line[i] == 0x3A else {
                throw LineProblem(reason: "':' was expected after the key \"\(name)\"")
            }
            i += 1
            skipSpace()
            let valueStart = i
            let kind = try Self.scanValue(line, at: &i, column: name)
            var start = valueStart
            var end = i
            switch (column, kind) {
            case (Self.revisionColumn, .number), (Self.finalColumn, .boolean):
                break
            case (Self.revisionColumn, _):
                throw LineProblem(reason: "\"revision\" is not a number")
            case (Self.finalColumn, _):
                throw LineProblem(reason: "\"final\" is not true or false")
            case (Self.dateColumn, .string):
                start += 1
                end -= 1
                guard Self.isISODate(UnsafeRawBufferPointer(rebasing: line[start..<end])) else {
                    throw LineProblem(reason: "\"event_date\" is not a date YYYY-MM-DD")
                }
            case (Self.dateColumn, _):
                throw LineProblem(reason: "\"event_date\" is not a string YYYY-MM-DD")
            case (Self.userColumn, .number):
                break
            case (Self.userColumn, _):
                throw LineProblem(reason: "\"user_id\" is not a number")
            case (_, .number):
                break
            case (_, .null):
                end = start  // an empty field
            case (_, .string), (_, .boolean):
                throw LineProblem(reason: "\"\(name)\" is not a number or null")
            }
            fieldStart[column] = start
            fieldEnd[column] = end
            skipSpace()
            guard i < n else { throw LineProblem(reason: "the line ends inside the object (after \"\(name)\")") }
            if line[i] == 0x2C {
                i += 1
            } else if line[i] == 0x7D {
                i += 1
                closed = true
            } else {
                throw LineProblem(reason: "',' or '}' was expected after the value of \"\(name)\" (byte \(i + 1))")
            }
        }
        skipSpace()
        guard i == n else { throw LineProblem(reason: "there is text after the object's closing '}' (byte \(i + 1))") }
        let missing = fieldStart.indices.filter { fieldStart[$0] < 0 }
        guard missing.isEmpty else {
            let names = missing.map(Self.name(ofColumn:))
            let more = names.count > 5 ? ", … (\(names.count) in all)" : ""
            let shown = names.prefix(5).joined(separator: ", ") + more
            throw LineProblem(reason: "the key(s) \(shown) are missing")
        }
    }

    /// Moves `i` past one JSON scalar (number, string without escapes, null, true, false).
    private static func scanValue(_ line: UnsafeRawBufferPointer, at i: inout Int, column: String) throws(LineProblem)
        -> ValueKind
    {
        let n = line.count
        func bad() -> LineProblem {
            LineProblem(reason: "the value of \"\(column)\" is not a JSON number, null, true, false or a plain string")
        }
        guard i < n else { throw bad() }
        @inline(__always) func literal(_ text: StaticString) -> Bool {
            let count = text.utf8CodeUnitCount
            guard i + count <= n else { return false }
            for k in 0..<count where line[i + k] != text.utf8Start[k] { return false }
            i += count
            return true
        }
        @inline(__always) func digits() -> Int {
            let from = i
            while i < n, line[i] >= 0x30, line[i] <= 0x39 { i += 1 }
            return i - from
        }
        switch line[i] {
        case 0x22:
            i += 1
            while i < n, line[i] != 0x22, line[i] != 0x5C { i += 1 }
            guard i < n, line[i] == 0x22 else { throw bad() }
            i += 1
            return .string
        case 0x6E:
            guard literal("null") else { throw bad() }
            return .null
        case 0x74:
            guard literal("true") else { throw bad() }
            return .boolean
        case 0x66:
            guard literal("false") else { throw bad() }
            return .boolean
        case 0x2D, 0x30...0x39:
            // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
            if line[i] == 0x2D { i += 1 }
            guard i < n else { throw bad() }
            if line[i] == 0x30 {
                i += 1
            } else if digits() == 0 {
                throw bad()
            }
            if i < n, line[i] == 0x2E {
                i += 1
                guard digits() > 0 else { throw bad() }
            }
            if i < n, line[i] == 0x65 || line[i] == 0x45 {
                i += 1
                if i < n, line[i] == 0x2B || line[i] == 0x2D { i += 1 }
                guard digits() > 0 else { throw bad() }
            }
            return .number
        default:
            throw bad()
        }
    }

    /// True for `YYYY-MM-DD` naming a calendar day.
    private static func isISODate(_ text: UnsafeRawBufferPointer) -> Bool {
        guard text.count == 10, text[4] == 0x2D, text[7] == 0x2D else { return false }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for k in range {
                guard text[k] >= 0x30, text[k] <= 0x39 else { return nil }
                value = value * 10 + Int(text[k] - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10) else { return false }
        return CalendarDay(year: year, month: month, day: day) != nil
    }
}
