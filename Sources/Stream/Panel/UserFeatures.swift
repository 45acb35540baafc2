import Foundation

/// `--with-user-features [COLUMNS]`: baseline user covariates from `user_features.csv`, joined to every
/// record on `user_id` (the notebook names them as candidate baseline confounders).
///
/// Each column keeps the type pandas' `read_csv` gives it: ``Kind/integer`` when every value is an integer
/// and none is missing, ``Kind/number`` when every value is a number (a missing one makes an integer column
/// a number column, as pandas' NaN makes it float64), else ``Kind/text``. Missing means an empty field or one
/// of pandas' default NA strings (`NA`, `NaN`, `null`, ...). A user without a row has every column missing;
/// a user with two rows takes the first.
public struct UserFeatureTable: Sendable {
    /// How a column's values are written.
    public enum Kind: Sendable, Equatable {
        /// Whole numbers, none missing: written as integers.
        case integer
        /// Numbers (some missing, or with a fraction): written as floats.
        case number
        /// Anything else: written as strings.
        case text
    }

    /// One joined column.
    public struct Column: Sendable, Equatable {
        /// Its name in `user_features.csv`.
        public var sourceName: String
        /// Its name in the panel: the source name, with `user_` in front when that would clash with a column of
        /// the panel.
        public var name: String
        public var kind: Kind
    }

    /// The joined columns, in the order asked for (default: the file's order, `user_id` left out).
    public let columns: [Column]
    /// Each user's values (nil: missing), one per column.
    public let rows: [Int32: [String?]]

    /// pandas' default `na_values` (`read_csv`): these fields are missing.
    static let missingTexts: Set<String> = [
        "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A",
        "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
    ]

    /// A table of `columns` (source names) from `rows` (each user's fields, in `columns` order).
    /// `reserved` are the panel's column names, which a joined column's name must not take.
    public init(columns names: [String], rows raw: [(Int32, [String?])], reserved: Set<String>) {
        var rows: [Int32: [String?]] = [:]
        for (user, fields) in raw where rows[user] == nil {
            rows[user] = fields.map { $0.flatMap { Self.missingTexts.contains($0) ? nil : $0 } }
        }
        let values = Array(rows.values)
        columns = names.enumerated().map { i, name in
            Column(
                sourceName: name, name: reserved.contains(name) ? "user_" + name : name,
                kind: Self.kind(of: values.lazy.map { $0[i] }))
        }
        self.rows = rows
    }

    /// What pandas would make of a column's values.
    private static func kind<S: Sequence>(of values: S) -> Kind where S.Element == String? {
        var missing = false
        var integral = true
        for value in values {
            guard let value else {
                missing = true
                continue
            }
            if Int64(value) != nil { continue }
            guard Double(value) != nil else { return .text }
            integral = false
        }
        return integral && !missing ? .integer : .number
    }

    /// Reads `user_features.csv` from `input`, joining `columns` (nil: every column but `user_id`).
    /// - Throws: ``InputError`` when the file is absent, lacks `user_id` or a named column (the message lists
    ///   the file's columns); archive and CSV errors.
    public static func load(input: String, columns asked: [String]?, reserved: Set<String>) throws -> UserFeatureTable {
        var chosen: [String] = []
        var rows: [(Int32, [String?])] = []
        try SideTableReader.forEachRow(
            input: input, fileName: "user_features.csv",
            columns: { header in
                let available = header.filter { $0 != "user_id" && !$0.isEmpty }
                chosen = asked ?? available
                if let unknown = chosen.first(where: { !available.contains($0) }) {
                    throw InputError(
                        input: "user_features.csv",
                        message: "no column \(unknown) to join — name columns it has: \(available.joined(separator: ","))")
                }
                return ["user_id"] + chosen
            }
        ) { value, _ in
            guard let user = value(0).flatMap({ Int32($0) }) else { return }
            rows.append((user, (0..<chosen.count).map { value($0 + 1) }))
        }
        return UserFeatureTable(columns: chosen, rows: rows, reserved: reserved)
    }
}
