import ReplayDiagnostics

extension DiagnosticsHTML {
    /// The notebook's charts that follow the table named `table`, drawn from the report's tables: the histograms'
    /// exact bin counts (`…_histogram`), the daily rates, the standardized mean differences.
    static func charts(after table: String, in report: DiagnosticsReport) -> String {
        var charts: [String] = []
        switch table {
        case "engagement_summary":
            charts.append(
                histogram(
                    report, "watch_ratio_histogram", title: "Watch Ratio Distribution, Capped at 5", xLabel: "Watch ratio",
                    color: "#2A6F97",
                    lines: [
                        .init(x: 0.8, label: "0.8 threshold", color: "#000"), .init(x: 1.0, label: "1.0 threshold", color: "#8b0000"),
                    ]))
            charts.append(
                histogram(
                    report, "play_duration_histogram", title: "Play Duration Distribution", xLabel: "Play duration, seconds",
                    color: "#5C946E", logY: true))
        case "user_activity":
            charts.append(
                histogram(report, "user_interactions_histogram", title: "Interactions per User", xLabel: "Interaction rows", color: "#2A6F97"))
            charts.append(
                histogram(report, "user_active_days_histogram", title: "Active Days per User", xLabel: "Active calendar days", color: "#C07F00"))
        case "daily_panel_summary":
            charts.append(dailyRates(report.table(table)))
        case "confounding_balance":
            charts.append(contentsOf: balance(report.table(table)))
        case "item_daily_summary":
            charts.append(
                histogram(report, "item_show_count_histogram", title: "Daily Item Show Counts", xLabel: "Show count", color: "#2A6F97", logY: true))
            charts.append(
                histogram(report, "item_play_rate_histogram", title: "Daily Item Play Rate", xLabel: "Play count / show count", color: "#5C946E"))
        default:
            return ""
        }
        let drawn = charts.filter { !$0.isEmpty }
        guard !drawn.isEmpty else { return "" }
        var html = "<div class=\"charts\">" + drawn.joined() + "</div>\n"
        for name in histogramNames(after: table) {
            if let bins = report.table(name), !bins.rows.isEmpty {
                html += "<details><summary>bin counts: <code>\(name)</code></summary>\(render(bins))</details>\n"
            }
        }
        return html
    }

    private static func histogramNames(after table: String) -> [String] {
        switch table {
        case "engagement_summary": return ["watch_ratio_histogram", "play_duration_histogram"]
        case "user_activity": return ["user_interactions_histogram", "user_active_days_histogram"]
        case "item_daily_summary": return ["item_show_count_histogram", "item_play_rate_histogram"]
        default: return []
        }
    }

    private static func histogram(
        _ report: DiagnosticsReport, _ name: String, title: String, xLabel: String, color: String, logY: Bool = false,
        lines: [SVGChart.ReferenceLine] = []
    ) -> String {
        guard let table = report.table(name), !table.rows.isEmpty else { return "" }
        let bins = table.rows.compactMap { row -> (start: Double, end: Double, count: Int)? in
            guard row.count == 3, let start = row[0].doubleValue, let end = row[1].doubleValue, let count = row[2].doubleValue
            else { return nil }
            return (start, end, Int(count))
        }
        guard bins.contains(where: { $0.count > 0 }) else { return "" }
        return SVGChart.histogram(id: name, title: title, xLabel: xLabel, bins: bins, logY: logY, color: color, lines: lines)
    }

    /// The notebook's line chart of the four daily rates, dates on the x axis, percentages on the y axis.
    private static func dailyRates(_ table: DiagnosticTable?) -> String {
        guard let table, table.rows.count >= 1, table.columns.count >= 5 else { return "" }
        let colors = ["#2A6F97", "#C07F00", "#5C946E", "#A23B72"]
        let series = (1..<5).map { c in
            SVGChart.Series(
                name: table.columns[c], color: colors[c - 1], values: table.rows.map { $0[c].doubleValue })
        }
        let dates = table.rows.map { row -> String in
            if case .string(let s) = row[0] { return String(s.prefix(10)) }
            return ""
        }
        return SVGChart.lines(
            id: "daily_panel_summary", title: "Daily Treatment and Outcome Rates in the Dense User-Day Panel",
            xLabel: "Date", yLabel: "Rate", xLabels: dates, series: series, percent: true)
    }

    /// The heatmap of standardized mean differences (covariates by treatment) and the balance plot.
    private static func balance(_ table: DiagnosticTable?) -> [String] {
        guard let table, let t = table.columns.firstIndex(of: "treatment"), let c = table.columns.firstIndex(of: "covariate"),
            let d = table.columns.firstIndex(of: "smd")
        else { return [] }
        func text(_ v: DiagnosticValue) -> String { if case .string(let s) = v { return s } else { return "" } }
        var treatments: [String] = [], covariates: [String] = []
        for row in table.rows {
            if !treatments.contains(text(row[t])) { treatments.append(text(row[t])) }
            if !covariates.contains(text(row[c])) { covariates.append(text(row[c])) }
        }
        covariates.sort()  // pivot(index="covariate") sorts the index
        treatments.sort()
        var values = [[Double?]](repeating: [Double?](repeating: nil, count: treatments.count), count: covariates.count)
        for row in table.rows {
            if let i = covariates.firstIndex(of: text(row[c])), let j = treatments.firstIndex(of: text(row[t])) {
                values[i][j] = row[d].doubleValue
            }
        }
        guard values.contains(where: { $0.contains { $0 != nil } }) else { return [] }
        let colors = ["#2A6F97", "#C07F00"]
        return [
            SVGChart.heatmap(
                id: "confounding_balance", title: "Standardized Mean Differences in Pre-Treatment State",
                xLabel: "Candidate treatment", yLabel: "Pre-treatment covariate", rows: covariates, columns: treatments,
                values: values),
            SVGChart.balance(
                id: "confounding_balance_plot", title: "Covariate Balance: Standardized Mean Differences",
                covariates: covariates,
                series: treatments.enumerated().map { j, name in
                    SVGChart.Series(name: name, color: colors[j % colors.count], values: values.map { $0[j] })
                }),
        ]
    }
}
