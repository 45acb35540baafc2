import Foundation
import ReplayStream

/// Turns record lines of a panel file into CSV rows of the notebook's panel columns.
///
/// A row holds the columns of ``UserDayRecord/columnNames`` (the notebook's order, the order the
/// sink writes them) separated by commas: numbers as their JSON text, byte for byte (the sink
/// writes the shortest round-trip form, so nothing is reparsed or reprinted and a value read back
/// with `pd.read_csv` (pandas < 3.1: `float_precision="round_trip"`) is the record's value bit for bit),
/// `null` as an empty field (pandas reads NaN), `event_date` as `YYYY-MM-DD` without its quotes.
/// No field needs CSV quoting: every value is a number, empty, or a date.
///
/// A line is any flat JSON object with exactly the panel's columns plus `revision` and `final`, in any
/// key order and with any whitespace; the sink's own layout is the fast case (keys compared in order,
/// no lookup). Work per line: one pass over its bytes, no allocation.
public final class PanelCSVWriter {
    /// What is wrong with a line that is not a panel record (without the line number, which the caller adds).
    public struct LineProblem: Error, CustomStringConvertible, Sendable {
        /// Why the line is refused, e.g. `the key(s) lead_1_active_day are missing`.
        public var reason: String
        public var description: String { reason }
    }

    /// The panel's columns, in the notebook's order.
    public static let columns = UserDayRecord.columnNames
    /// Every key of a record line in the sink's order: the panel's columns, then `revision` and `final`.
    private static let keys = columns + ["revision", "final"]
    private static let keyIndex: [String: Int] = Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, $0) })

    // Instance copies of the layout, so the per-line loop touches no global (no lazy-init check) and no
    // Swift array (no exclusivity or uniqueness checks): allocated once, freed in deinit.
    private let columnCount = PanelCSVWriter.columns.count
    private let keyCount = PanelCSVWriter.keys.count
    private let userColumn = PanelCSVWriter.columns.firstIndex(of: "user_id")!
    private let dateColumn = PanelCSVWriter.columns.firstIndex(of: "event_date")!
    private let revisionColumn = PanelCSVWriter.columns.count
    private let finalColumn = PanelCSVWriter.columns.count + 1
    /// The keys' bytes back to back; key `k` is `keyText[keyOffset[k]..<keyOffset[k + 1]]`.
    private let keyText: UnsafeMutablePointer<UInt8>
    private let keyOffset: UnsafeMutablePointer<Int>
    /// Where each key's field lies in the current line (`fieldStart == -1`: not seen yet).
    private let fieldStart: UnsafeMutablePointer<Int>
    private let fieldEnd: UnsafeMutablePointer<Int>

    /// A writer for the panel's columns.
    public init() {
        let keys = Self.keys
        let text = keys.flatMap { Array($0.utf8) }
        keyText = .allocate(capacity: text.count)
        keyText.initialize(from: text, count: text.count)
        keyOffset = .allocate(capacity: keys.count + 1)
        var offset = 0
        for (k, key) in keys.enumerated() {
            keyOffset[k] = offset
            offset += key.utf8.count
        }
        keyOffset[keys.count] = offset
        fieldStart = .allocate(capacity: keys.count)
        fieldStart.initialize(repeating: -1, count: keys.count)
        fieldEnd = .allocate(capacity: keys.count)
        fieldEnd.initialize(repeating: -1, count: keys.count)
    }

    deinit {
        keyText.deallocate()
        keyOffset.deallocate()
        fieldStart.deallocate()
        fieldEnd.deallocate()
    }

    /// The header line, newline included: the notebook's columns, then `revision,final` when asked.
    public static func header(withRevision: Bool) -> [UInt8] {
        Array(((withRevision ? keys : columns).joined(separator: ",") + "\n").utf8)
    }

    private enum ValueKind { case number, string, null, boolean }

    /// Appends the CSV fields of `line`'s panel columns to `out`, comma-separated, without a newline,
    /// and returns the line's `event_date`.
    ///
    /// Checks that the line is one JSON object holding each panel column once (numbers or null;
    /// `user_id` a number, `event_date` a `YYYY-MM-DD` string), `revision` and `final`, and nothing else.
    /// The values of `revision` and `final` are not copied (``ChangelogReader/info(of:)`` reads them).
    /// - Throws: ``LineProblem`` saying what is wrong; `out` is left as it was.
    @discardableResult
    public func appendRow(of line: UnsafeRawBufferPointer, to out: inout [UInt8]) throws(LineProblem) -> CalendarDay {
        guard let base = line.baseAddress, !line.isEmpty else { throw LineProblem(reason: "the line is empty") }
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        let day = try scan(bytes, count: line.count)
        var needed = columnCount - 1
        for c in 0..<columnCount { needed += fieldEnd[c] - fieldStart[c] }
        out.reserveCapacity(out.count + needed)
        for c in 0..<columnCount {
            if c > 0 { out.append(0x2C) }
            if fieldEnd[c] > fieldStart[c] {
                out.append(
                    contentsOf: UnsafeBufferPointer(start: bytes + fieldStart[c], count: fieldEnd[c] - fieldStart[c]))
            }
        }
        return day
    }

    /// Finds every field of the line, checking the object's structure and the values' kinds; returns `event_date`.
    private func scan(_ line: UnsafePointer<UInt8>, count n: Int) throws(LineProblem) -> CalendarDay {
        for k in 0..<keyCount { fieldStart[k] = -1 }
        var day = CalendarDay(rawValue: 0)
        var i = 0
        @inline(__always) func skipSpace() {
            while i < n, line[i] == 0x20 || line[i] == 0x09 || line[i] == 0x0D { i += 1 }
        }
        func name(_ k: Int) -> String { Self.keys[k] }
        skipSpace()
        guard i < n, line[i] == 0x7B else {
            throw LineProblem(reason: "it is not a JSON object (it does not start with '{')")
        }
        i += 1
        skipSpace()
        var closed = false
        if i < n, line[i] == 0x7D {
            i += 1
            closed = true
        }
        var expected = 0  // the key the sink writes next: a key equal to it needs no lookup
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
            let keyLength = i - keyStart
            i += 1
            let column: Int
            if expected < keyCount, keyOffset[expected + 1] - keyOffset[expected] == keyLength,
                memcmp(line + keyStart, keyText + keyOffset[expected], keyLength) == 0
            {
                column = expected
            } else {
                let key = String(decoding: UnsafeBufferPointer(start: line + keyStart, count: keyLength), as: UTF8.self)
                guard let found = Self.keyIndex[key] else {
                    throw LineProblem(reason: "it has the key \"\(key)\", which is no panel column")
                }
                column = found
            }
            expected = column + 1
            guard fieldStart[column] < 0 else { throw LineProblem(reason: "the key \"\(name(column))\" appears twice") }
            skipSpace()
            guard i < n, line[i] == 0x3A else {
                throw LineProblem(reason: "':' was expected after the key \"\(name(column))\"")
            }
            i += 1
            skipSpace()
            var start = i
            guard let kind = Self.scanValue(line, count: n, at: &i) else {
                throw LineProblem(
                    reason: "the value of \"\(name(column))\" is not a JSON number, null, true, false or a plain string"
                )
            }
            var end = i
            switch kind {
            case .number where column == revisionColumn, .boolean where column == finalColumn:
                break
            case _ where column == revisionColumn:
                throw LineProblem(reason: "\"revision\" is not a number")
            case _ where column == finalColumn:
                throw LineProblem(reason: "\"final\" is not true or false")
            case .string where column == dateColumn:
                start += 1
                end -= 1
                guard let parsed = Self.isoDate(line + start, count: end - start) else {
                    throw LineProblem(reason: "\"event_date\" is not a date YYYY-MM-DD")
                }
                day = parsed
            case _ where column == dateColumn:
                throw LineProblem(reason: "\"event_date\" is not a string YYYY-MM-DD")
            case .number:
                break
            case _ where column == userColumn:
                throw LineProblem(reason: "\"user_id\" is not a number")
            case .null:
                end = start  // an empty field
            case .string, .boolean:
                throw LineProblem(reason: "\"\(name(column))\" is not a number or null")
            }
            fieldStart[column] = start
            fieldEnd[column] = end
            skipSpace()
            guard i < n else {
                throw LineProblem(reason: "the line ends inside the object (after \"\(name(column))\")")
            }
            if line[i] == 0x2C {
                i += 1
            } else if line[i] == 0x7D {
                i += 1
                closed = true
            } else {
                throw LineProblem(
                    reason: "',' or '}' was expected after the value of \"\(name(column))\" (byte \(i + 1))")
            }
        }
        skipSpace()
        guard i == n else { throw LineProblem(reason: "there is text after the object's closing '}' (byte \(i + 1))") }
        var missing: [String] = []
        for k in 0..<keyCount where fieldStart[k] < 0 { missing.append(name(k)) }
        guard missing.isEmpty else {
            let more = missing.count > 5 ? ", … (\(missing.count) in all)" : ""
            throw LineProblem(reason: "the key(s) \(missing.prefix(5).joined(separator: ", "))\(more) are missing")
        }
        return day
    }

    /// Moves `i` past one JSON scalar (number, string without escapes, null, true, false); nil if there is none.
    @inline(__always)
    private static func scanValue(_ line: UnsafePointer<UInt8>, count n: Int, at i: inout Int) -> ValueKind? {
        guard i < n else { return nil }
        @inline(__always) func literal(_ text: StaticString) -> Bool {
            let count = text.utf8CodeUnitCount
            guard i + count <= n, memcmp(line + i, text.utf8Start, count) == 0 else { return false }
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
            guard i < n, line[i] == 0x22 else { return nil }
            i += 1
            return .string
        case 0x6E:
            return literal("null") ? .null : nil
        case 0x74:
            return literal("true") ? .boolean : nil
        case 0x66:
            return literal("false") ? .boolean : nil
        case 0x2D, 0x30...0x39:
            // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
            if line[i] == 0x2D { i += 1 }
            guard i < n else { return nil }
            if line[i] == 0x30 {
                i += 1
            } else if digits() == 0 {
                return nil
            }
            if i < n, line[i] == 0x2E {
                i += 1
                guard digits() > 0 else { return nil }
            }
            if i < n, line[i] == 0x65 || line[i] == 0x45 {
                i += 1
                if i < n, line[i] == 0x2B || line[i] == 0x2D { i += 1 }
                guard digits() > 0 else { return nil }
            }
            return .number
        default:
            return nil
        }
    }

    /// The day of `YYYY-MM-DD`, or nil when the text is not one.
    private static func isoDate(_ text: UnsafePointer<UInt8>, count: Int) -> CalendarDay? {
        guard count == 10, text[4] == 0x2D, text[7] == 0x2D else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for k in range {
                guard text[k] >= 0x30, text[k] <= 0x39 else { return nil }
                value = value * 10 + Int(text[k] - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10) else { return nil }
        return CalendarDay(year: year, month: month, day: day)
    }
}
