import ReplayStream

/// One cell of a diagnostic table: what the notebook's DataFrame holds in that cell.
///
/// `NaN` never appears: ``DiagnosticValue/number(_:)`` turns it into ``null`` (pandas shows NaN,
/// JSON writes `null`, the readiness CSV an empty field).
public enum DiagnosticValue: Codable, Equatable, Sendable {
    /// An integer column (counts, ids).
    case int(Int64)
    /// A float column.
    case double(Double)
    /// Text (names, rules, dates and times written as `YYYY-MM-DD HH:MM:SS.mmm`).
    case string(String)
    /// A boolean column (`passes`).
    case bool(Bool)
    /// NaN, NaT or absent.
    case null

    /// A float cell; NaN and infinities become ``null``.
    public static func number(_ value: Double) -> DiagnosticValue { value.isFinite ? .double(value) : .null }

    /// An integer cell.
    public static func count(_ value: Int) -> DiagnosticValue { .int(Int64(value)) }

    /// The cell as a double, when it is a number.
    public var doubleValue: Double? {
        switch self {
        case .int(let v): return Double(v)
        case .double(let v): return v
        default: return nil
        }
    }
}

/// One of the notebook's diagnostic tables: its variable name, its column names, its rows.
///
/// Tables the notebook shows through `describe().T` (or another transpose) keep their row label in a
/// first column named `column` (or `metric` where the notebook has one).
public struct DiagnosticTable: Codable, Equatable, Sendable {
    /// The notebook's variable name (`coverage_summary`, `naive_associations`, ...).
    public var name: String
    /// Column names, in the notebook's order.
    public var columns: [String]
    /// Rows; each as long as ``columns``.
    public var rows: [[DiagnosticValue]]
    /// Why the table is empty or partial (e.g. "user_features.csv not in the input"), nil otherwise.
    public var note: String?

    /// Creates a table.
    public init(name: String, columns: [String], rows: [[DiagnosticValue]] = [], note: String? = nil) {
        self.name = name
        self.columns = columns
        self.rows = rows
        self.note = note
    }

    /// The value in the row whose first cell is `label`, column `column` (tests and the HTML page use it).
    public func value(row label: String, column: String) -> DiagnosticValue? {
        guard let c = columns.firstIndex(of: column) else { return nil }
        return rows.first { $0.first == .string(label) }?[c]
    }
}
