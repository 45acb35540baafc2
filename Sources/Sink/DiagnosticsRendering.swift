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
        var fields: [(String, DiagnosticValue)] = [
            ("phase", .string(s.phase)),
            ("last_closed_day", s.lastClosedDay.map { .string("\($0)") } ?? .null),
            ("days_closed", .count(s.daysClosed)), ("panel_days", .count(s.panelDays)),
            ("final_records", .count(s.finalRecords)), ("panel_rows", .count(s.panelRows)),
            ("interaction_rows", .count(s.interactionRows)), ("rows_left_out", .count(s.rowsLeftOut)),
            ("thresholds_mode", .string(s.thresholdsMode)),
        ]
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

/// Renders a ``DiagnosticsReport`` as one self-contained HTML page: every table, a chart of the
/// daily series and the balance table shaded like the notebook's heatmap. With `refreshSeconds` the
/// page reloads itself, so a browser beside the terminal shows the panel grow.
public enum DiagnosticsHTML {
    /// The page.
    public static func render(_ report: DiagnosticsReport, refreshSeconds: Double? = nil) -> String {
        var html = "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
        if let refreshSeconds { html += "<meta http-equiv=\"refresh\" content=\"\(max(1, Int(refreshSeconds.rounded(.up))))\">" }
        html += "<title>replay diagnostics</title><style>"
        html += "body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}"
        html += "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
        html += ".note{color:#a60}.fail{color:#b00;font-weight:bold}.pass{color:#070}</style></head><body>\n"
        let s = report.status
        html += "<h1>Causal diagnostics</h1><p>phase <b>\(s.phase)</b>; \(s.daysClosed) of \(s.panelDays) days closed"
        html += s.lastClosedDay.map { " (last closed \($0))" } ?? ""
        html += "; \(s.finalRecords) of \(s.panelRows) panel rows final; thresholds \(escape(s.thresholdsMode)).</p>\n"
        for table in report.tables {
            html += "<h2>\(table.name)</h2>\n"
            if let note = table.note { html += "<p class=\"note\">\(escape(note))</p>\n" }
            if table.name == "daily_panel_summary" { html += dailyChart(table) }
            html += render(table)
        }
        return html + "</body></html>\n"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    static func cell(_ v: DiagnosticValue) -> String {
        switch v {
        case .int(let i): return String(i)
        case .double(let d): return String(format: "%.4f", d)
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
                if i == smd, let x = v.doubleValue {
                    // The notebook's "vlag" heatmap, roughly: blue below zero, red above, stronger further out.
                    let a = min(1, abs(x)) * 0.6
                    let color = x < 0 ? "rgba(40,90,200,\(a))" : "rgba(200,50,40,\(a))"
                    html += "<td style=\"background:\(color)\">\(cell(v))</td>"
                } else {
                    html += "<td>\(cell(v))</td>"
                }
            }
            html += "</tr>\n"
        }
        return html + "</table>\n"
    }

    /// The notebook's line chart of the four daily rates, as inline SVG.
    static func dailyChart(_ table: DiagnosticTable) -> String {
        guard table.rows.count >= 2 else { return "" }
        let width = 900.0, height = 260.0, left = 40.0, bottom = 20.0
        let colors = ["#2A6F97", "#C07F00", "#5C946E", "#A23B72"]
        var svg = "<svg width=\"\(Int(width))\" height=\"\(Int(height))\" style=\"border:1px solid #ddd\">"
        for tick in stride(from: 0.0, through: 1.0, by: 0.25) {
            let y = (height - bottom) * (1 - tick) + 2
            svg += "<line x1=\"\(left)\" x2=\"\(width)\" y1=\"\(y)\" y2=\"\(y)\" stroke=\"#eee\"/>"
            svg += "<text x=\"2\" y=\"\(y + 4)\" font-size=\"10\">\(Int(tick * 100))%</text>"
        }
        let n = Double(table.rows.count - 1)
        for series in 1..<min(5, table.columns.count) {
            var points: [String] = []
            for (i, row) in table.rows.enumerated() {
                guard let v = row[series].doubleValue else { continue }
                let x = left + (width - left - 10) * Double(i) / n
                let y = (height - bottom) * (1 - v) + 2
                points.append(String(format: "%.1f,%.1f", x, y))
            }
            svg += "<polyline fill=\"none\" stroke=\"\(colors[series - 1])\" stroke-width=\"1.5\" points=\"\(points.joined(separator: " "))\"/>"
            svg += "<text x=\"\(left + 10 + Double(series - 1) * 200)\" y=\"\(height - 4)\" font-size=\"11\" fill=\"\(colors[series - 1])\">\(table.columns[series])</text>"
        }
        return svg + "</svg>\n"
    }
}
