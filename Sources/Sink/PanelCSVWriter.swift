import Foundation
import ReplayStream

/// Turns record lines of a panel file into CSV rows of the notebook's panel columns, and of the columns a run
/// joined to them (`--with-user-features`, `--with-item-context`).
///
/// A row holds the columns of ``UserDayRecord/columnNames`` (the notebook's order, the order the
/// sink writes them), then the joined columns (``joinedColumns``), separated by commas: numbers as their JSON
/// text, byte for byte (the sink writes the shortest round-trip form, so nothing is reparsed or reprinted and a
/// value read back with `pd.read_csv` (pandas < 3.1: `float_precision="round_trip"`) is the record's value bit
/// for bit), `null` as an empty field (pandas reads NaN), `event_date` as `YYYY-MM-DD` without its quotes.
/// No panel column needs CSV quoting (every value is a number, empty, or a date); a joined column's text is
/// written as `run --format csv` writes it: decoded, and quoted (RFC 4180, `""` for a quote) only when it holds
/// a comma, a quote, CR or LF.
///
/// A line is any flat JSON object (read by ``FlatJSONObject``) with exactly the panel's columns, the joined
/// columns, `revision` and `final`, in any key order and with any whitespace; the sink's own layout is the fast
/// case (keys compared in order, no lookup). A joined column's value is a number, a string or null. A line that
/// does not start with `{` is a row of `run --format csv`, where only a joined column's field may be quoted.
/// Work per line: one pass over its bytes, no allocation (a joined text with escapes or quotes is decoded
/// through one reused buffer).
///
/// The joined columns of a file are learned from its first line (``joinedColumns(inFirstLine:)``).
public final class PanelCSVWriter {
    /// What is wrong with a line that is not a panel record (without the line number, which the caller adds).
    public struct LineProblem: Error, CustomStringConvertible, Sendable {
        /// Why the line is refused, e.g. `the key(s) lead_1_active_day are missing`.
        public var reason: String
        public var description: String { reason }
    }

    /// How a value is written by ``appendValue(ofKey:in:as:to:)``.
    public enum ValueForm: Sendable {
        /// A CSV field: a text decoded, quoted only when it holds a comma, a quote, CR or LF; null empty.
        case csv
        /// JSON: a number as written, a text as a string literal, `null`.
        case json
        /// A TSV field: the plain text (a tab, CR, LF or backslash in it written `\t`, `\r`, `\n`, `\\`); null empty.
        case tsv
    }

    /// What the current line holds in a field (joined columns only; a panel column's field is always `plain`).
    enum FieldKind: UInt8 {
        /// A number, null (empty), a date, `true`/`false`: the same text in every form.
        case plain
        /// A JSON string's bytes between its quotes, without escapes.
        case jsonString
        /// A JSON string's bytes between its quotes, with escapes.
        case jsonEscaped
        /// A quoted CSV field, its quotes included.
        case csvQuoted
        /// An unquoted CSV field that is no JSON number: a text.
        case csvText
    }

    /// The panel's columns, in the notebook's order.
    public static let columns = UserDayRecord.columnNames
    /// Every key of a record line of the notebook's panel in the sink's order: the panel's columns, then
    /// `revision` and `final` (a line with joined columns has them between: ``keys``).
    public static let recordKeys = columns + ["revision", "final"]

    /// The columns joined to the panel, in the order they are written (after the panel's columns, before
    /// `revision`).
    public let joinedColumns: [String]
    /// Every key of a record line in the sink's order: the panel's columns, the joined columns, `revision`, `final`.
    public let keys: [String]
    private let keyIndex: [String: Int]

    // Instance copies of the layout, so the per-line loop touches no global (no lazy-init check) and no
    // Swift array (no exclusivity or uniqueness checks): allocated once, freed in deinit.
    private let columnCount = PanelCSVWriter.columns.count
    private let keyCount: Int
    private let userColumn = PanelCSVWriter.columns.firstIndex(of: "user_id")!
    private let dateColumn = PanelCSVWriter.columns.firstIndex(of: "event_date")!
    private let revisionColumn: Int
    private let finalColumn: Int
    /// The keys' bytes back to back; key `k` is `keyText[keyOffset[k]..<keyOffset[k + 1]]`.
    private let keyText: UnsafeMutablePointer<UInt8>
    private let keyOffset: UnsafeMutablePointer<Int>
    /// Where each key's field lies in the current line (`fieldStart == -1`: not seen yet).
    private let fieldStart: UnsafeMutablePointer<Int>
    private let fieldEnd: UnsafeMutablePointer<Int>
    /// What each field of the current line holds.
    private let fieldKind: UnsafeMutablePointer<FieldKind>
    /// A joined text decoded (JSON escapes, CSV quotes) on its way to another form.
    private var decoded: [UInt8] = []

    /// A writer for the panel's columns and `joinedColumns` (written after them, in that order).
    /// - Precondition: no joined column is named as a panel column, `revision` or `final`, nor twice.
    public init(joinedColumns: [String] = []) {
        let keys = Self.columns + joinedColumns + ["revision", "final"]
        let index = Dictionary(keys.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        precondition(index.count == keys.count, "a joined column repeats a key")
        self.joinedColumns = joinedColumns
        self.keys = keys
        keyIndex = index
        keyCount = keys.count
        revisionColumn = Self.columns.count + joinedColumns.count
        finalColumn = revisionColumn + 1
        let text = keys.flatMap { Array($0.utf8) }
        keyText = .allocate(capacity: max(text.count, 1))
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
        fieldKind = .allocate(capacity: keys.count)
        fieldKind.initialize(repeating: .plain, count: keys.count)
    }

    deinit {
        keyText.deallocate()
        keyOffset.deallocate()
        fieldStart.deallocate()
        fieldEnd.deallocate()
        fieldKind.deallocate()
    }

    /// The header line of the notebook's panel, newline included: its columns, then `revision,final` when asked.
    public static func header(withRevision: Bool) -> [UInt8] {
        Array(((withRevision ? recordKeys : columns).joined(separator: ",") + "\n").utf8)
    }

    /// The header line, newline included: the notebook's columns, the joined columns, then `revision,final` when
    /// asked.
    public func header(withRevision: Bool) -> [UInt8] {
        Array(((withRevision ? keys : Self.columns + joinedColumns).joined(separator: ",") + "\n").utf8)
    }

    /// Appends the CSV fields of `line`'s panel columns and joined columns to `out`, comma-separated, without a
    /// newline, and returns the line's key, revision and final flag.
    ///
    /// Checks that the line is one flat JSON object (``FlatJSONObject``) holding each panel column once
    /// (numbers or null; `user_id` an integer, `event_date` a `YYYY-MM-DD` string), each joined column once
    /// (a number, a string or null), `revision` (an integer) and `final` (true or false), and nothing else; or a
    /// row of `run --format csv` with those fields.
    /// - Throws: ``LineProblem`` saying what is wrong; `out` is left as it was.
    @discardableResult
    public func appendRow(of line: UnsafeRawBufferPointer, to out: inout [UInt8]) throws(LineProblem)
        -> ChangelogReader.LineInfo
    {
        guard let base = line.baseAddress, !line.isEmpty else { throw LineProblem(reason: "the line is empty") }
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        let info = try scan(line, bytes)
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
        for c in columnCount..<revisionColumn {
            out.append(0x2C)
            appendValue(ofKey: c, in: line, as: .csv, to: &out)
        }
        return info
    }

    /// Checks `line` as ``appendRow(of:to:)`` does, copying nothing, and returns its key, revision and final
    /// flag; its values are then at ``value(ofKey:in:)`` until the next line is read.
    /// - Throws: ``LineProblem`` saying what is wrong.
    @discardableResult
    public func check(_ line: UnsafeRawBufferPointer) throws(LineProblem) -> ChangelogReader.LineInfo {
        guard let base = line.baseAddress, !line.isEmpty else { throw LineProblem(reason: "the line is empty") }
        return try scan(line, base.assumingMemoryBound(to: UInt8.self))
    }

    /// The value of the key `key` (an index into ``keys``) in `line`, the line last given to
    /// ``check(_:)`` or ``appendRow(of:to:)``: its text as the line holds it (a JSON string's bytes between its
    /// quotes, escapes not decoded; a CSV field's, quotes included), or nil for null or an empty field. A joined
    /// column's value is read whole, in any form, by ``appendValue(ofKey:in:as:to:)``.
    public func value(ofKey key: Int, in line: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        precondition(key >= 0 && key < keyCount, "no such key")
        let start = fieldStart[key], end = fieldEnd[key]
        guard start >= 0, end > start else { return nil }
        return UnsafeRawBufferPointer(rebasing: line[start..<end])
    }

    /// True for the key `key` (an index into ``keys``) of a joined column.
    public func isJoined(key: Int) -> Bool { key >= columnCount && key < revisionColumn }

    /// Appends the value of the key `key` (an index into ``keys``) in `line` (the line last checked) to `out`
    /// in `form`, converted exactly: a JSON string becomes its decoded text (a CSV field quoted only when it
    /// must be), a quoted CSV field a JSON string literal (``JSONBytes/appendString(_:to:)-swift.type.method``)
    /// or its unquoted text, an unquoted CSV field that is no JSON number a JSON string. Numbers are copied; null
    /// is `null` in JSON, empty otherwise. (A CSV field does not say whether it is a text: an unquoted one that
    /// reads as a number, such as a text `0`, is a number in JSON.)
    public func appendValue(
        ofKey key: Int, in line: UnsafeRawBufferPointer, as form: ValueForm, to out: inout [UInt8]
    ) {
        precondition(key >= 0 && key < keyCount && fieldStart[key] >= 0, "no such key in the line")
        let body = UnsafeRawBufferPointer(rebasing: line[fieldStart[key]..<fieldEnd[key]])
        switch (fieldKind[key], form) {
        case (.plain, .json):
            if body.isEmpty {
                out.append(contentsOf: JSONBytes.null)
            } else if key == dateColumn {
                out.append(0x22)
                out.append(contentsOf: body)
                out.append(0x22)
            } else {
                out.append(contentsOf: body)
            }
        case (.plain, _), (.csvQuoted, .csv), (.csvText, .csv):
            out.append(contentsOf: body)
        case (.jsonString, .json), (.jsonEscaped, .json):
            out.append(0x22)
            out.append(contentsOf: body)
            out.append(0x22)
        case (.jsonString, _):
            Self.appendText(body, as: form, to: &out)
        case (.jsonEscaped, _):
            decoded.removeAll(keepingCapacity: true)
            FlatJSONObject.decodeString(body, into: &decoded)
            decoded.withUnsafeBytes { Self.appendText($0, as: form, to: &out) }
        case (.csvQuoted, _):
            decoded.removeAll(keepingCapacity: true)
            Self.unquote(body, into: &decoded)
            decoded.withUnsafeBytes { Self.appendText($0, as: form, to: &out) }
        case (.csvText, _):
            Self.appendText(body, as: form, to: &out)
        }
    }

    /// True for the header line of a panel written with `run --format csv`, with or without joined columns (a
    /// CR before the newline allowed): readers skip it, and the rows after it are read as records.
    public static func isCSVHeader(_ line: UnsafeRawBufferPointer) -> Bool {
        guard line.first == 0x75 else { return false }  // "user_id,…"; a record starts with `{` or a digit
        return joinedColumns(inCSVHeader: line) != nil
    }

    /// Finds every field of the line, checking the values' kinds; returns the line's identity. A line that
    /// does not start with `{` and has at least half a record's commas is read as a row of `run --format csv`.
    private func scan(_ line: UnsafeRawBufferPointer, _ bytes: UnsafePointer<UInt8>) throws(LineProblem)
        -> ChangelogReader.LineInfo
    {
        for k in 0..<keyCount { fieldStart[k] = -1 }
        for k in columnCount..<revisionColumn { fieldKind[k] = .plain }
        if let first = line.first(where: { $0 != 0x20 && $0 != 0x09 }), first != 0x7B,
            line.reduce(0, { $0 + ($1 == 0x2C ? 1 : 0) }) >= keyCount / 2
        {
            return try scanRow(line, bytes)
        }
        var info = ChangelogReader.LineInfo(userID: 0, eventDate: CalendarDay(rawValue: 0), revision: 0, isFinal: false)
        var object = FlatJSONObject(line)
        var expected = 0  // the key the sink writes next: a key equal to it needs no lookup
        var last = -1
        while true {
            let member: FlatJSONObject.Member
            do {
                guard let next = try object.next() else { break }
                member = next
            } catch {
                let after = last >= 0 ? " (after the member \"\(name(last))\")" : ""
                throw LineProblem(reason: "\(error)\(after)")
            }
            let column = try self.column(of: member, in: bytes, expected: expected)
            guard fieldStart[column] < 0 else { throw LineProblem(reason: "the key \"\(name(column))\" appears twice") }
            expected = column + 1
            last = column
            try take(member, column, bytes, into: &info)
        }
        var missing: [String] = []
        for k in 0..<keyCount where fieldStart[k] < 0 { missing.append(name(k)) }
        guard missing.isEmpty else {
            let more = missing.count > 5 ? ", … (\(missing.count) in all)" : ""
            throw LineProblem(reason: "the key(s) \(missing.prefix(5).joined(separator: ", "))\(more) are missing")
        }
        return info
    }

    /// Checks one member of a JSON line, the value of `column`, records where its field lies and takes the
    /// record's identity from it.
    @inline(__always)
    private func take(
        _ member: FlatJSONObject.Member, _ column: Int, _ bytes: UnsafePointer<UInt8>,
        into info: inout ChangelogReader.LineInfo
    ) throws(LineProblem) {
        var start = member.valueStart
        let end = member.valueEnd
        switch member.kind {
        case .number where column == revisionColumn:
            guard let revision = Self.integer(bytes, start, end), revision >= 0 else {
                throw LineProblem(reason: "\"revision\" is not a whole number")
            }
            info.revision = Int(revision)
        case .true where column == finalColumn, .false where column == finalColumn:
            info.isFinal = member.kind == .true
        case _ where column == revisionColumn:
            throw LineProblem(reason: "\"revision\" is not a number")
        case _ where column == finalColumn:
            throw LineProblem(reason: "\"final\" is not true or false")
        case .string where column == dateColumn:
            guard !member.valueHasEscapes,
                let day = CalendarDay(iso: UnsafeRawBufferPointer(start: bytes + start, count: end - start))
            else { throw LineProblem(reason: "\"event_date\" is not a date YYYY-MM-DD") }
            info.eventDate = day
        case _ where column == dateColumn:
            throw LineProblem(reason: "\"event_date\" is not a string YYYY-MM-DD")
        case .number where column == userColumn:
            guard let user = Self.integer(bytes, start, end) else {
                throw LineProblem(reason: "\"user_id\" is not a whole number")
            }
            info.userID = user
        case _ where column == userColumn:
            throw LineProblem(reason: "\"user_id\" is not a number")
        case .number:
            break
        case .null:
            start = end  // an empty field
        case .string where column >= columnCount:  // a joined column (revision and final are handled above)
            fieldKind[column] = member.valueHasEscapes ? .jsonEscaped : .jsonString
        case .true where column >= columnCount, .false where column >= columnCount:
            throw LineProblem(reason: "\"\(name(column))\" is not a number, a string or null")
        case .string, .true, .false:
            throw LineProblem(reason: "\"\(name(column))\" is not a number or null")
        }
        fieldStart[column] = start
        fieldEnd[column] = end
    }

    /// Reads a row of `run --format csv`: exactly the record's keys' fields, comma-separated, each a number or
    /// empty (unknown), `user_id` an integer, `event_date` `YYYY-MM-DD`, `revision` a whole number, `final`
    /// `true` or `false`; a joined column's field may also be a text, quoted (RFC 4180) when it holds a comma, a
    /// quote, CR or LF.
    private func scanRow(_ line: UnsafeRawBufferPointer, _ bytes: UnsafePointer<UInt8>) throws(LineProblem)
        -> ChangelogReader.LineInfo
    {
        var info = ChangelogReader.LineInfo(userID: 0, eventDate: CalendarDay(rawValue: 0), revision: 0, isFinal: false)
        var end = line.count
        if end > 0, bytes[end - 1] == 0x0D { end -= 1 }
        var column = 0, i = 0
        while true {
            guard column < keyCount else {
                throw LineProblem(reason: "the CSV row has more than the \(keyCount) fields of a record")
            }
            let start = i
            if i < end, bytes[i] == 0x22, column >= columnCount, column < revisionColumn {
                i = try endOfQuotedField(column, bytes, from: i, end: end)
                fieldKind[column] = .csvQuoted
            } else {
                while i < end, bytes[i] != 0x2C { i += 1 }
            }
            (fieldStart[column], fieldEnd[column]) = (start, i)
            try checkField(column, bytes, start, i, into: &info)
            column += 1
            if i == end { break }
            i += 1
        }
        guard column == keyCount else {
            throw LineProblem(reason: "the CSV row has \(column) fields, not the \(keyCount) of a record")
        }
        return info
    }

    /// The end of the quoted field of `column` starting at `start` (its opening quote): after its closing quote,
    /// which the row's end or a comma must follow.
    private func endOfQuotedField(_ column: Int, _ bytes: UnsafePointer<UInt8>, from start: Int, end: Int)
        throws(LineProblem) -> Int
    {
        var i = start + 1
        while true {
            guard i < end else { throw LineProblem(reason: "the quoted field of \"\(name(column))\" is not closed") }
            if bytes[i] == 0x22 {
                if i + 1 < end, bytes[i + 1] == 0x22 {
                    i += 2
                    continue
                }
                i += 1
                break
            }
            i += 1
        }
        guard i == end || bytes[i] == 0x2C else {
            throw LineProblem(reason: "the quoted field of \"\(name(column))\" is followed by more than a comma")
        }
        return i
    }

    /// Checks one field of a CSV row and takes the record's identity from it.
    private func checkField(
        _ column: Int, _ bytes: UnsafePointer<UInt8>, _ start: Int, _ end: Int, into info: inout ChangelogReader.LineInfo
    ) throws(LineProblem) {
        switch column {
        case userColumn:
            guard let user = Self.integer(bytes, start, end) else { throw LineProblem(reason: "\"user_id\" is not a whole number") }
            info.userID = user
        case dateColumn:
            guard let day = CalendarDay(iso: UnsafeRawBufferPointer(start: bytes + start, count: end - start)) else {
                throw LineProblem(reason: "\"event_date\" is not a date YYYY-MM-DD")
            }
            info.eventDate = day
        case revisionColumn:
            guard let revision = Self.integer(bytes, start, end), revision >= 0 else {
                throw LineProblem(reason: "\"revision\" is not a whole number")
            }
            info.revision = Int(revision)
        case finalColumn:
            let text = UnsafeBufferPointer(start: bytes + start, count: end - start)
            guard text.elementsEqual("true".utf8) || text.elementsEqual("false".utf8) else {
                throw LineProblem(reason: "\"final\" is not true or false")
            }
            info.isFinal = text.count == 4
        case _ where column >= columnCount:  // a joined column: a number, empty, or a text
            guard fieldKind[column] == .plain, end > start else { return }
            guard memchr(bytes + start, 0x22, end - start) == nil else {
                throw LineProblem(reason: "\"\(name(column))\" holds a quote but is not quoted")
            }
            if !Self.isJSONNumber(bytes, start, end) { fieldKind[column] = .csvText }
        default:
            // A number as the sink writes it (JSON's number text), or empty for unknown.
            for i in start..<end {
                let b = bytes[i]
                guard (b >= 0x30 && b <= 0x39) || b == 0x2D || b == 0x2E || b == 0x65 || b == 0x45 || b == 0x2B else {
                    throw LineProblem(reason: "\"\(name(column))\" is not a number or empty")
                }
            }
        }
    }

    /// The column a member's key names: the expected one when its bytes match (memcmp), else a lookup.
    @inline(__always)
    private func column(of member: FlatJSONObject.Member, in bytes: UnsafePointer<UInt8>, expected: Int)
        throws(LineProblem) -> Int
    {
        let keyLength = member.keyEnd - member.keyStart
        if expected < keyCount, keyOffset[expected + 1] - keyOffset[expected] == keyLength,
            memcmp(bytes + member.keyStart, keyText + keyOffset[expected], keyLength) == 0
        {
            return expected
        }
        guard !member.keyHasEscapes else {
            throw LineProblem(reason: "the key at byte \(member.keyStart) holds an escape; no panel column does")
        }
        let key = String(decoding: UnsafeBufferPointer(start: bytes + member.keyStart, count: keyLength), as: UTF8.self)
        guard let found = keyIndex[key] else {
            throw LineProblem(reason: "it has the key \"\(key)\", which is no panel column")
        }
        return found
    }

    private func name(_ k: Int) -> String { keys[k] }

    /// The value of a JSON number that is an integer (`-?[0-9]+`) fitting in 64 bits, else nil.
    private static func integer(_ bytes: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int64? {
        var i = start
        let negative = bytes[i] == 0x2D
        if negative { i += 1 }
        guard i < end else { return nil }
        var value: Int64 = 0
        while i < end {
            let digit = bytes[i] &- 0x30
            guard digit < 10 else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int64(digit))
            guard !o1, !o2 else { return nil }
            value = sum
            i += 1
        }
        return negative ? -value : value
    }
}
