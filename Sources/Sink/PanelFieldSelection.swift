import ReplayStream

/// Some keys of a panel record, in a chosen order, and how a record line is printed with only those
/// (`replay tail --fields`): as a JSON object holding just those keys, or as a tab-separated row.
///
/// Values are copied from the line as written, never reparsed: a number's JSON text byte for byte, the
/// date `YYYY-MM-DD`, `true`/`false`; null is `null` in JSON and an empty field in a row. A column joined to
/// the panel (`run --with-user-features`, `--with-item-context`) may be selected when the file has it; its text
/// is a JSON string literal in JSON and its plain text in a row (``PanelCSVWriter/appendValue(ofKey:in:as:to:)``:
/// a tab, CR, LF or backslash in it written `\t`, `\r`, `\n`, `\\`). No other value needs quoting in a row:
/// each is a number, a date, `true`, `false` or empty.
public struct PanelFieldSelection: Sendable, Equatable {
    /// How a selected record is printed.
    public enum Format: String, CaseIterable, Sendable {
        /// One JSON object per line with just the selected keys, in their order.
        case json
        /// A header line of the keys' names, then one row per record, fields separated by tabs.
        case tsv
    }

    /// Why a list of keys is not a selection.
    public enum Problem: Error, Equatable, Sendable {
        /// The list names no key.
        case empty
        /// Names that are no key of a record line.
        case unknown([String])
        /// A name listed more than once.
        case repeated(String)
    }

    /// Every key a record line of the notebook's panel holds, in the sink's order: the panel's columns, then
    /// `revision` and `final`.
    public static let validNames = PanelCSVWriter.recordKeys

    /// Every key a record line holds with `joinedColumns`, in the sink's order: the panel's columns, the joined
    /// columns, then `revision` and `final`.
    public static func validNames(joinedColumns: [String]) -> [String] {
        joinedColumns.isEmpty ? validNames : PanelCSVWriter.columns + joinedColumns + ["revision", "final"]
    }

    /// The keys selected, in the order given.
    public let names: [String]
    /// The columns joined to the panel in the lines the selection reads.
    public let joinedColumns: [String]
    /// Their indexes in ``validNames(joinedColumns:)`` (the reader's ``PanelCSVWriter/keys``).
    private let keys: [Int]
    /// True for a key of a joined column (its value is converted, see ``PanelCSVWriter/appendValue(ofKey:in:as:to:)``).
    private let joined: [Bool]
    /// Each key's JSON object text before its value: `{"name":` for the first, `,"name":` after.
    private let jsonPrefixes: [[UInt8]]
    private static let eventDateKey = validNames.firstIndex(of: "event_date")!

    /// The selection of `names`, in that order, from lines with the columns `joinedColumns` joined.
    /// - Throws: ``Problem``: an empty list, a name that is no key, or one listed twice.
    public init(_ names: [String], joinedColumns: [String] = []) throws(Problem) {
        guard !names.isEmpty else { throw .empty }
        let valid = Self.validNames(joinedColumns: joinedColumns)
        let unknown = names.filter { !valid.contains($0) }
        guard unknown.isEmpty else { throw .unknown(unknown) }
        var seen = Set<String>()
        for name in names where !seen.insert(name).inserted { throw .repeated(name) }
        self.names = names
        self.joinedColumns = joinedColumns
        keys = names.map { valid.firstIndex(of: $0)! }
        let firstJoined = PanelCSVWriter.columns.count
        joined = keys.map { $0 >= firstJoined && $0 < firstJoined + joinedColumns.count }
        jsonPrefixes = names.enumerated().map { i, name in Array("\(i == 0 ? "{" : ",")\"\(name)\":".utf8) }
    }

    /// Every key, in the sink's order.
    public static var all: PanelFieldSelection { all(joinedColumns: []) }

    /// Every key of lines with `joinedColumns`, in the sink's order.
    public static func all(joinedColumns: [String]) -> PanelFieldSelection {
        // The names are the valid ones, each once: the selection cannot be refused.
        guard let all = try? PanelFieldSelection(validNames(joinedColumns: joinedColumns), joinedColumns: joinedColumns)
        else { preconditionFailure("the keys select themselves") }
        return all
    }

    /// The header of ``Format/tsv``: the names separated by tabs (without a newline).
    public var header: [UInt8] { Array(names.joined(separator: "\t").utf8) }

    /// Appends `line`'s selected values to `out` in `format`, without a newline; `reader` checks the line.
    /// - Precondition: `reader` reads lines with the selection's ``joinedColumns``.
    /// - Throws: ``PanelCSVWriter/LineProblem`` when `line` is not a panel record (`out` is left as it was).
    public func append(
        _ line: UnsafeRawBufferPointer, as format: Format, reader: PanelCSVWriter, to out: inout [UInt8]
    ) throws(PanelCSVWriter.LineProblem) {
        precondition(reader.joinedColumns.count == joinedColumns.count, "the reader reads other columns")
        try reader.check(line)
        for (i, key) in keys.enumerated() {
            if joined[i] {
                if format == .json { out.append(contentsOf: jsonPrefixes[i]) } else if i > 0 { out.append(0x09) }
                reader.appendValue(ofKey: key, in: line, as: format == .json ? .json : .tsv, to: &out)
                continue
            }
            let value = reader.value(ofKey: key, in: line)
            switch format {
            case .json:
                out.append(contentsOf: jsonPrefixes[i])
                guard let value else {
                    out.append(contentsOf: Self.null)
                    continue
                }
                if key == Self.eventDateKey { out.append(0x22) }
                out.append(contentsOf: value)
                if key == Self.eventDateKey { out.append(0x22) }
            case .tsv:
                if i > 0 { out.append(0x09) }
                if let value { out.append(contentsOf: value) }
            }
        }
        if format == .json { out.append(0x7D) }
    }

    private static let null = Array("null".utf8)
}
