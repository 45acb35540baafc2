import Foundation
import ReplaySink
import ReplayState
import ReplayStream

/// The side tables a run joins to its records, read once when it starts: the user features the sink writes
/// and the item context the engine computes as days close.
struct JoinedTables {
    /// The columns the sink writes after the notebook's.
    var columns: PanelContextColumns = .none
    /// The item context table, when it is joined.
    var itemContext: ItemContextTable?

    /// The users with a row in `user_features.csv` (nil when user features are not joined).
    var userFeatureUsers: Set<Int32>? { columns.userFeatures.map { Set($0.rows.keys) } }

    /// Reads what `options` joins from `input` (an archive or a folder holding `KuaiRec 2.0/data/`).
    /// - Throws: ``InputError`` when a table is absent, lacks a column or cannot be read.
    static func load(_ options: JoinOptions, from input: String) throws -> JoinedTables {
        guard options.joinsAnything else { return JoinedTables() }
        let reserved = Set(UserDayRecord.columnNames + ItemContextTable.columnNames + ["revision", "final"])
        let features = try options.userFeatureColumns.map {
            try UserFeatureTable.load(input: input, columns: $0.isEmpty ? nil : $0, reserved: reserved)
        }
        let items = options.itemContext ? try ItemContextTable.load(input: input) : nil
        return JoinedTables(
            columns: PanelContextColumns(userFeatures: features, itemContext: items != nil), itemContext: items)
    }

    /// The joins' part of a state's identity; `source` names a live feed's `--side-tables` archive, with its
    /// central directory's fingerprint when it is a zip.
    static func identity(_ options: JoinOptions, source: String?) -> String? {
        let described = source.map { path in
            let standard = (path as NSString).standardizingPath
            return ZipDirectory.fingerprint(path: path).map { "\(standard)#\($0)" } ?? standard
        }
        return options.identity(tablesFrom: described)
    }

    /// The side-table archive a live feed's identity names (`--side-tables`), nil when it joined none.
    static func sideTablesArchive(of identity: RunIdentity) -> String? {
        guard let joins = identity.joins, let from = joins.range(of: " from=") ?? joins.range(of: "from=") else { return nil }
        let described = joins[from.upperBound...]
        let path = described.lastIndex(of: "#").map { described[..<$0] } ?? described
        return path.isEmpty ? nil : String(path)
    }
}
