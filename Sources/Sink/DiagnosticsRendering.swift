import Foundation
import ReplayDiagnostics
import ReplayStream

/// Renders a ``DiagnosticsReport`` as JSON: one key per table, named after the notebook's variable,
/// each a list of row objects keyed by the notebook's column names; plus `report` (where the run
/// stood, and a note per partial table).
public enum DiagnosticsJSON {
    /// The report as UTF-8 JSON text (keys in the notebook's order, NaN as `null`).
    public static func render(_ report: DiagnosticsReport) -> [UInt8] {
        var out: [UInt8] = []
        out.append(contentsOf: "{\n  \"report\": {".utf8)
        let s = report.status
        // A live feed's panel has no known number of days (or rows) in all: null.
        let live = s.liveFeed
        var fields: [(String, DiagnosticValue)] = [
            ("phase", .string(s.phase)),
            ("last_closed_day", s.lastClosedDay.map { .string("\($0)") } ?? .null),
            ("days_closed", .count(s.daysClosed)), ("panel_days", live == nil ? .count(s.panelDays) : .null),
            ("final_records", .count(s.finalRecords)), ("panel_rows", live == nil ? .count(s.panelRows) : .null),
            ("interaction_rows", .count(s.interactionRows)), ("rows_left_out", .count(s.rowsLeftOut)),
            ("thresholds_mode", .string(s.thresholdsMode)),
        ]
        if let live {
            fields += [
                ("input", .string("live feed")), ("rows_read", .count(live.rowsRead)),
                ("rows_through_day", live.throughDay.map { .string("\($0)") } ?? .null),
            ]
        }
        for table in report.tables { if let note = table.note { fields.append(("note_\(table.name)", .string(note))) } }
        for (i, (key, value)) in fields.enumerated() {
            out.append(contentsOf: (i == 0 ? "\"" : ", \"").utf8)
            out.append(contentsOf: key.utf8)
            out.append(contentsOf: "\": ".utf8)
            append(value, to: &out)
        }
        out.append(0x7D)
        for table in report.tables {
            out.append(contentsOf: ",\n  ".utf8)
            JSONBytes.appendString(table.name, to: &out)
            out.append(contentsOf: ": [".utf8)
            for (r, row) in table.rows.enumerated() {
                out.append(contentsOf: (r == 0 ? "\n    {" : ",\n    {").utf8)
                for (c, value) in row.enumerated() {
                    if c > 0 { out.append(contentsOf: ", ".utf8) }
                    JSONBytes.appendString(table.columns[c], to: &out)
                    out.append(contentsOf: ": ".utf8)
                    append(value, to: &out)
                }
                out.append(0x7D)
            }
            out.append(contentsOf: (table.rows.isEmpty ? "]" : "\n  ]").utf8)
        }
        out.append(contentsOf: "\n}\n".utf8)
        return out
    }

    static func append(_ value: DiagnosticValue, to out: inout [UInt8]) {
        switch value {
        case .int(let v): JSONBytes.appendInt(v, to: &out)
        case .double(let v): JSONBytes.appendDouble(v, to: &out)
        case .string(let s): JSONBytes.appendString(s, to: &out)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .null: out.append(contentsOf: "null".utf8)
        }
    }
}

/// Renders `readiness_checks` as the notebook saves it (`readiness_checks.to_csv(index=False)`):
/// `check,value,passes`, the value column as float64 (`91.0`), `True`/`False`, NaN as an empty field.
public enum ReadinessCSV {
    /// The CSV text.
    public static func render(_ report: DiagnosticsReport) -> String {
        var text = "check,value,passes\n"
        for row in report.table("readiness_checks")?.rows ?? [] {
            guard row.count == 3, case .string(let check) = row[0], case .bool(let passes) = row[2] else { continue }
            let value = row[1].doubleValue.map { pythonFloat($0) } ?? ""
            text += "\(csvField(check)),\(value),\(passes ? "True" : "False")\n"
        }
        return text
    }

    /// Python's `repr(float)`: the shortest round-trip digits (Swift's `description` agrees, `91.0`, `1e-05`).
    static func pythonFloat(_ v: Double) -> String { v.description }

    static func csvField(_ s: String) -> String {
        s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}

/// Renders a ``DiagnosticsReport`` as one self-contained HTML page: every table under a title in words, with
/// what it covers so far, and the notebook's charts as inline SVG (``SVGChart``) beside the tables they belong to.
/// Counts are integers with thousands separators, rates percentages; the JSON keeps the notebook's names and
/// numbers. With `refreshSeconds` the page reloads itself, so a browser beside the terminal shows the panel grow.
public enum DiagnosticsHTML {
    /// The page.
    public static func render(_ report: DiagnosticsReport, refreshSeconds: Double? = nil) -> String {
        var html = "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
        if let refreshSeconds { html += "<meta http-equiv=\"refresh\" content=\"\(max(1, Int(refreshSeconds.rounded(.up))))\">" }
        html += "<title>replay diagnostics</title><style>"
        html += "body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}"
        html += "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
        html += ".note{color:#a60}.covers{color:#666;font-size:12px;margin:-.6em 0 .4em}.fail{color:#b00;font-weight:bold}"
        html += ".pass{color:#070}.charts{display:flex;flex-wrap:wrap;gap:12px;margin:.5em 0 1.5em}"
        html += "svg{border:1px solid #ddd}details{margin:0 0 1em}</style></head><body>\n"
        let s = report.status
        html += "<h1>Causal diagnostics</h1><p>\(headline(s))</p>\n"
        for table in report.tables where !table.name.hasSuffix("_histogram") {
            html += "<h2 id=\"\(table.name)\">\(escape(title(of: table.name)))</h2>\n"
            html += "<p class=\"covers\">\(escape(coverage(of: table, status: s))) · <code>\(table.name)</code></p>\n"
            if let note = table.note { html += "<p class=\"note\">\(escape(note))</p>\n" }
            html += charts(after: table.name, in: report)
            if table.rows.isEmpty && table.note == nil {
                html += "<p class=\"note\">Not enough data yet: no row so far.</p>\n"
            } else {
                html += render(table)
            }
        }
        return html + "</body></html>\n"
    }

    /// The notebook's section title for each table.
    static let titles: [String: String] = [
        "coverage_summary": "Basic shape and coverage", "missingness": "Missingness by column",
        "engagement_summary": "Engagement distribution", "user_activity": "Repeated measures per user",
        "item_activity": "Most shown videos", "thresholds": "Candidate treatment thresholds",
        "treatment_summary": "Treatment prevalence", "daily_panel_summary": "Daily treatment and outcome rates",
        "naive_associations": "Naive treatment-outcome associations",
        "confounding_balance": "Time-varying confounding: standardized mean differences",
        "metadata_diagnostics": "Joins with user and item metadata", "join_coverage": "Joined tables: missing keys", "metadata_segments": "Activity by user segment",
        "item_daily_summary": "Item daily popularity features", "readiness_checks": "Readiness for causal modeling",
    ]

    /// The title of the table named `name`, in words.
    static func title(of name: String) -> String {
        titles[name] ?? name.replacingOccurrences(of: "_", with: " ").capitalized
    }

    /// The line under the title: the phase, the days closed and the final records (a live feed's rows so far).
    static func headline(_ s: DiagnosticsReport.Status) -> String {
        var html: String
        if let live = s.liveFeed {
            html = "phase <b>\(s.phase)</b> (live feed); \(grouped(Int64(live.rowsRead))) rows read"
            html += live.throughDay.map { " through \($0)" } ?? ""
            html += "; \(s.daysClosed) days closed"
            html += s.lastClosedDay.map { " (last closed \($0))" } ?? ""
            html += "; \(grouped(Int64(s.finalRecords))) panel rows final; thresholds \(escape(s.thresholdsMode))."
            return html
        }
        html = "phase <b>\(s.phase)</b>; \(s.daysClosed) of \(s.panelDays) days closed"
        html += s.lastClosedDay.map { " (last closed \($0))" } ?? ""
        html += "; \(grouped(Int64(s.finalRecords))) of \(grouped(Int64(s.panelRows))) panel rows final; thresholds \(escape(s.thresholdsMode))."
        return html
    }

    /// What the table covers at this moment: the whole log as read at ingest, or the panel through the last closed
    /// day; for a live feed, the rows so far and the days closed so far (its number of days is unknown).
    static func coverage(of table: DiagnosticTable, status s: DiagnosticsReport.Status) -> String {
        let name = table.name
        let wholeLog = DiagnosticsReport.interactionTableNames.contains(name) || DiagnosticsReport.metadataTableNames.contains(name)
        if let live = s.liveFeed { return liveCoverage(of: table, wholeLog: wholeLog, status: s, live: live) }
        if wholeLog {
            return s.phase == "ingest" ? "whole log: the ingest pass is still reading it" : "whole log (read at ingest)"
        }
        guard let last = s.lastClosedDay else { return "the panel: no day closed yet" }
        let through = "through \(last) (\(s.daysClosed) of \(s.panelDays) days closed)"
        return s.phase == "finished" ? "the whole panel, \(through)" : "the panel so far, \(through)"
    }

    /// ``coverage(of:status:)`` for a live feed: "rows so far (N rows, through DAY)" for the interaction tables,
    /// "the panel so far, through DAY (N days closed)" for the panel's; the side tables' need an archive.
    static func liveCoverage(
        of table: DiagnosticTable, wholeLog: Bool, status s: DiagnosticsReport.Status, live: DiagnosticsReport.LiveFeedCoverage
    ) -> String {
        let finished = s.phase == "finished"
        if DiagnosticsReport.metadataTableNames.contains(table.name) && table.columns.isEmpty {
            return "needs the archive's side tables"
        }
        if wholeLog {
            let rows = "\(grouped(Int64(s.interactionRows))) rows" + (live.throughDay.map { ", through \($0)" } ?? "")
            return finished ? "every row of the feed (\(rows))" : "rows so far (\(rows))"
        }
        guard let last = s.lastClosedDay else { return "the panel: no day closed yet" }
        let through = "through \(last) (\(s.daysClosed) days closed)"
        return finished ? "the whole panel, \(through)" : "the panel so far, \(through)"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    /// Columns whose values are rates or shares: shown as percentages, as the notebook's charts show them.
    static func isRate(_ column: String) -> Bool {
        column.hasSuffix("_rate") || column.hasSuffix("share_of_user_days") || column == "missing_rate"
    }

    /// Columns whose values are counts the notebook holds as floats (`describe()`'s `count`, the transposed
    /// `treatment_summary`'s `treated_user_days`): shown as integers.
    static func isCount(_ column: String) -> Bool {
        column == "count" || (column.hasSuffix("_days") && !isRate(column))
    }

    static func cell(_ v: DiagnosticValue, column: String = "") -> String {
        switch v {
        case .int(let i): return grouped(i)
        case .double(let d) where isCount(column) && d == d.rounded() && abs(d) < 1e15: return grouped(Int64(d))
        case .double(let d) where isRate(column): return String(format: "%.2f%%", d * 100)
        case .double(let d):
            let text = String(format: "%.4f", d)
            guard abs(d) >= 1000, let dot = text.firstIndex(of: ".") else { return text }
            return grouped(Int64(d.rounded(.towardZero))) + text[dot...]
        case .string(let s): return escape(s)
        case .bool(let b): return b ? "<span class=\"pass\">True</span>" : "<span class=\"fail\">False</span>"
        case .null: return "NaN"
        }
    }

    static func render(_ table: DiagnosticTable) -> String {
        guard !table.columns.isEmpty else { return "" }
        var html = "<table><tr>" + table.columns.map { "<th>\(escape($0))</th>" }.joined() + "</tr>\n"
        let smd = table.name == "confounding_balance" ? table.columns.firstIndex(of: "smd") : nil
        for row in table.rows {
            html += "<tr>"
            for (i, v) in row.enumerated() {
                let column = i < table.columns.count ? table.columns[i] : ""
                if i == smd, let x = v.doubleValue {
                    html += "<td style=\"background:\(SVGChart.diverging(x))\">\(cell(v, column: column))</td>"
                } else {
                    html += "<td>\(cell(v, column: column))</td>"
                }
            }
            html += "</tr>\n"
        }
        return html + "</table>\n"
    }
}
