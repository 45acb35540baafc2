import ReplayStream

/// Some keys of a panel record, in a chosen order, and how a record line is printed with only those
/// (`replay tail --fields`): as a JSON object holding just those keys, or as a tab-separated row.
///
/// Values are copied from the line as written, never reparsed: a number's JSON text byte for byte, the
/// date `YYYY-MM-DD`, `true`/`false`; null is `null` in JSON and an empty field in a row. No value needs
/// quoting in a row: each is a number, a date, `true`, `false` or empty.
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

    /// Every key a record line holds, in the sink's order: the panel's columns, then `revision` and `final`.
    public static let validNames = PanelCSVWriter.recordKeys

    /// The keys selected, in the order given.
    public let names: [String]
    /// Their indexes in ``validNames``.
    private let keys: [Int]
    /// Each key's JSON object text before its value: `{"name":` for the first, `,"name":` after.
    private let jsonPrefixes: [[UInt8]]
    private static let eventDateKey = validNames.firstIndex(of: "event_date")!

    /// The selection of `names`, in that order.
    /// - Throws: ``Problem``: an empty list, a name that is no key, or one listed twice.
    public init(_ names: [String]) throws(Problem) {
        guard !names.isEmpty else { throw .empty }
        let unknown = names.filter { !Self.validNames.contains($0) }
        guard unknown.isEmpty else { throw .unknown(unknown) }
        var seen = Set<String>()
        for name in names where !seen.insert(name).inserted { throw .repeated(name) }
        self.names = names
        keys = names.map { Self.validNames.firstIndex(of: $0)! }
        jsonPrefixes = names.enumerated().map { i, name in Array("\(i == 0 ? "{" : ",")\"\(name)\":".utf8) }
    }

    /// Every key, in the sink's order.
    public static var all: PanelFieldSelection {
        // The names are the valid ones, each once: the selection cannot be refused.
        guard let all = try? PanelFieldSelection(validNames) else { preconditionFailure("the keys select themselves") }
        return all
    }

    /// The header of ``Format/tsv``: the names separated by tabs (without a newline).
    public var header: [UInt8] { Array(names.joined(separator: "\t").utf8) }

    /// Appends `line`'s selected values to `out` in `format`, without a newline; `reader` checks the line.
    /// - Throws: ``PanelCSVWriter/LineProblem`` when `line` is not a panel record (`out` is left as it was).
    public func append(
        _ line: UnsafeRawBufferPointer, as format: Format, reader: PanelCSVWriter, to out: inout [UInt8]
    ) throws(PanelCSVWriter.LineProblem) {
        try reader.check(line)
        for (i, key) in keys.enumerated() {
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
