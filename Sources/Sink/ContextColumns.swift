import ReplayStream

/// The columns joined to the panel (`--with-user-features`, `--with-item-context`), written after
/// `treatment_high_watch_exposure` and before `revision`: the user's features in the table's column order,
/// then `item_mean_show_cnt`, `item_mean_play_rate`, `item_first_categories`.
public struct PanelContextColumns: Sendable {
    /// The user features joined (nil: none).
    public var userFeatures: UserFeatureTable?
    /// True when the item context is joined (``DailyValues/itemContext``'s mean show count and the two after it).
    public var itemContext: Bool

    public init(userFeatures: UserFeatureTable?, itemContext: Bool) {
        self.userFeatures = userFeatures
        self.itemContext = itemContext
    }

    /// No joined column: the notebook's panel.
    public static let none = PanelContextColumns(userFeatures: nil, itemContext: false)

    /// True when no column is joined.
    public var isEmpty: Bool { userFeatures == nil && !itemContext }

    /// The joined columns' names, in the order they are written.
    public var names: [String] {
        (userFeatures?.columns.map(\.name) ?? []) + (itemContext ? ItemContextTable.columnNames : [])
    }
}

/// The joined columns' text for one output format: each user's features rendered once (a user's line
/// copies them), and the item context's keys.
struct ContextRendering {
    private let userText: [Int32: [UInt8]]
    private let missingUserText: [UInt8]
    private let itemKeys: [[UInt8]]
    private let null: [UInt8]

    /// The rendering of `columns` in `format`; nil when no column is joined.
    init?(_ columns: PanelContextColumns, format: PanelFormat) {
        guard !columns.isEmpty else { return nil }
        let json = format == .jsonl
        null = json ? JSONBytes.null : []
        func key(_ name: String) -> [UInt8] { json ? Array(",\"\(name)\":".utf8) : [0x2C] }
        var texts: [Int32: [UInt8]] = [:]
        var missing: [UInt8] = []
        if let table = columns.userFeatures {
            let keys = table.columns.map { key($0.name) }
            for (user, values) in table.rows {
                var out: [UInt8] = []
                for (i, column) in table.columns.enumerated() {
                    out.append(contentsOf: keys[i])
                    ContextRendering.append(values[i], kind: column.kind, json: json, to: &out)
                }
                texts[user] = out
            }
            for k in keys { missing += k + (json ? JSONBytes.null : []) }
        }
        userText = texts
        missingUserText = missing
        itemKeys = columns.itemContext ? ItemContextTable.columnNames.map(key) : []
    }

    /// One feature value: an integer, a float in its shortest round-trip form, or a string (JSON's literal;
    /// in CSV quoted when it holds a comma, quote or line break); a missing one `null` in JSON, empty in CSV.
    private static func append(_ value: String?, kind: UserFeatureTable.Kind, json: Bool, to out: inout [UInt8]) {
        guard let value else {
            if json { out += JSONBytes.null }
            return
        }
        switch kind {
        case .integer: JSONBytes.appendInt(Int64(value)!, to: &out)
        case .number: JSONBytes.appendDouble(Double(value)!, to: &out, null: json ? JSONBytes.null : [])
        case .text where json: JSONBytes.appendString(value, to: &out)
        case .text:
            if value.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) {
                out.append(0x22)
                for b in value.utf8 { if b == 0x22 { out += [0x22, 0x22] } else { out.append(b) } }
                out.append(0x22)
            } else {
                out += Array(value.utf8)
            }
        }
    }

    /// Appends `record`'s joined columns.
    @inline(__always)
    func append(_ record: UserDayRecord, to out: inout [UInt8]) {
        out.append(contentsOf: userText[record.userID] ?? missingUserText)
        guard !itemKeys.isEmpty else { return }
        out.append(contentsOf: itemKeys[0])
        JSONBytes.appendDouble(record.daily.itemContext.itemMeanShowCount, to: &out, null: null)
        out.append(contentsOf: itemKeys[1])
        JSONBytes.appendDouble(record.daily.itemContext.itemMeanPlayRate, to: &out, null: null)
        out.append(contentsOf: itemKeys[2])
        JSONBytes.appendInt(Int64(record.daily.itemContext.itemFirstCategories), to: &out)
    }
}
