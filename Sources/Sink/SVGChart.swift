import Foundation
import ReplayStream

/// The notebook's charts as inline SVG (no script, no network): histograms, a line chart over dates, a diverging
/// heatmap and a balance plot. Hand-written because no Swift package draws SVG charts, and the report must stay one
/// self-contained file that any browser shows.
///
/// Every chart has a title, axis labels and ticks; its `<svg>` carries `data-chart` (its table's name) and its
/// `<title>` element the chart's title, which the browser test looks for.
public enum SVGChart {
    /// A vertical line across a histogram (the notebook's 0.8 and 1.0 thresholds).
    public struct ReferenceLine: Sendable {
        public var x: Double
        public var label: String
        public var color: String
        public init(x: Double, label: String, color: String) {
            self.x = x
            self.label = label
            self.color = color
        }
    }

    /// One line of a line chart: its name, colour and a value per x position (nil: no point).
    public struct Series: Sendable {
        public var name: String
        public var color: String
        public var values: [Double?]
        public init(name: String, color: String, values: [Double?]) {
            self.name = name
            self.color = color
            self.values = values
        }
    }

    static let width = 640.0, height = 350.0
    static let left = 64.0, right = 16.0, top = 46.0, bottom = 64.0
    static var plotWidth: Double { width - left - right }
    static var plotHeight: Double { height - top - bottom }

    /// A histogram of exact bin counts (`bins`: start, end, count), the y axis linear or logarithmic.
    public static func histogram(
        id: String, title: String, xLabel: String, bins: [(start: Double, end: Double, count: Int)], logY: Bool = false,
        color: String = "#2A6F97", lines: [ReferenceLine] = []
    ) -> String {
        guard let first = bins.first, let last = bins.last else { return "" }
        let (x0, x1) = (first.start, last.end)
        let maxCount = Double(bins.map(\.count).max() ?? 0)
        let yTop = logY ? max(10, pow(10, (log10(max(maxCount, 1))).rounded(.up))) : niceCeiling(max(maxCount, 1))
        // A log axis starts at 0.5, as matplotlib's does, so that a bin of one is a visible bar.
        let logLow = log10(0.5)
        func x(_ v: Double) -> Double { left + plotWidth * (x1 > x0 ? (v - x0) / (x1 - x0) : 0.5) }
        func y(_ c: Double) -> Double {
            if logY { return top + plotHeight * (1 - (log10(max(c, 0.5)) - logLow) / (log10(yTop) - logLow)) }
            return top + plotHeight * (1 - c / yTop)
        }
        var svg = open(id: id, title: title)
        let yTicks = logY ? stride(from: 0.0, through: log10(yTop), by: 1).map { pow(10, $0) } : ticks(0, yTop)
        svg += yAxis(yTicks.map { (y($0), short($0)) }, label: logY ? "Count (log scale)" : "Count")
        svg += xAxis(ticks(x0, x1).map { (x($0), short($0)) }, label: xLabel)
        for b in bins where b.count > 0 {
            let top = y(Double(b.count))
            svg += rect(x(b.start), top, max(0.5, x(b.end) - x(b.start) - 0.5), Self.top + plotHeight - top, fill: color)
        }
        for (i, line) in lines.enumerated() where line.x >= x0 && line.x <= x1 {
            svg += "<line x1=\"\(f(x(line.x)))\" x2=\"\(f(x(line.x)))\" y1=\"\(f(top))\" y2=\"\(f(top + plotHeight))\" stroke=\"\(line.color)\" stroke-dasharray=\"5 3\"/>"
            svg += text(left + plotWidth - 8, top + 14 + Double(i) * 14, line.label, anchor: "end", color: line.color)
        }
        return svg + "</svg>\n"
    }

    /// Lines over dated x positions (`xLabels`, one a point), the y axis as percentages when `percent`.
    public static func lines(
        id: String, title: String, xLabel: String, yLabel: String, xLabels: [String], series: [Series], percent: Bool
    ) -> String {
        guard !xLabels.isEmpty else { return "" }
        let values = series.flatMap { $0.values.compactMap { $0 } }
        let yTop = percent ? 1 : niceCeiling(values.max() ?? 1)
        func x(_ i: Int) -> Double { left + plotWidth * (xLabels.count > 1 ? Double(i) / Double(xLabels.count - 1) : 0.5) }
        func y(_ v: Double) -> Double { top + plotHeight * (1 - v / yTop) }
        var svg = open(id: id, title: title)
        svg += yAxis(ticks(0, yTop).map { (y($0), percent ? "\(Int(($0 * 100).rounded()))%" : short($0)) }, label: yLabel)
        let every = max(1, Int((Double(xLabels.count) / 9).rounded(.up)))
        svg += xAxis(stride(from: 0, to: xLabels.count, by: every).map { (x($0), xLabels[$0]) }, label: xLabel, rotated: true)
        var legendX = left
        for s in series {
            let points = s.values.enumerated().compactMap { i, v in v.map { "\(f(x(i))),\(f(y($0)))" } }
            svg += "<polyline fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"1.5\" points=\"\(points.joined(separator: " "))\"/>"
            for p in points {
                let xy = p.split(separator: ",")
                svg += "<circle cx=\"\(xy[0])\" cy=\"\(xy[1])\" r=\"2.5\" fill=\"\(s.color)\"/>"
            }
            // The legend: one row under the title, each name as wide as its text.
            svg += rect(legendX, top - 16, 10, 3, fill: s.color)
            svg += text(legendX + 14, top - 11, s.name, anchor: "start", color: "#333")
            legendX += 30 + 6.3 * Double(s.name.count)
        }
        return svg + "</svg>\n"
    }

    /// A heatmap of `values[row][column]` with diverging colours centred at 0 (blue below, red above, like the
    /// notebook's "vlag"), each cell annotated to two decimals.
    public static func heatmap(
        id: String, title: String, xLabel: String, yLabel: String, rows: [String], columns: [String], values: [[Double?]]
    ) -> String {
        guard !rows.isEmpty, !columns.isEmpty else { return "" }
        let labelWidth = 230.0, cellWidth = 210.0, cellHeight = 26.0
        let w = labelWidth + cellWidth * Double(columns.count) + 20, h = top + cellHeight * Double(rows.count) + 70
        let limit = max(values.flatMap { $0.compactMap { $0.map(abs) } }.max() ?? 1, 1e-9)
        var svg = open(id: id, title: title, width: w, height: h)
        for (r, name) in rows.enumerated() {
            let y = top + cellHeight * Double(r)
            svg += text(labelWidth - 6, y + cellHeight / 2 + 4, name, anchor: "end", color: "#333")
            for c in columns.indices {
                let x = labelWidth + cellWidth * Double(c)
                let v = values[r][c]
                svg += rect(x, y, cellWidth - 1, cellHeight - 1, fill: v.map { diverging($0 / limit) } ?? "#eee")
                svg += text(x + cellWidth / 2, y + cellHeight / 2 + 4, v.map { String(format: "%.2f", $0) } ?? "NaN", anchor: "middle", color: "#111")
            }
        }
        let bottomY = top + cellHeight * Double(rows.count)
        for (c, name) in columns.enumerated() {
            svg += text(labelWidth + cellWidth * (Double(c) + 0.5), bottomY + 16, name, anchor: "middle", color: "#333")
        }
        svg += text(labelWidth + cellWidth * Double(columns.count) / 2, bottomY + 40, xLabel, anchor: "middle", color: "#111")
        svg += "<text x=\"14\" y=\"\(f(top + cellHeight * Double(rows.count) / 2))\" transform=\"rotate(-90 14 \(f(top + cellHeight * Double(rows.count) / 2)))\" font-size=\"12\" text-anchor=\"middle\">\(escape(yLabel))</text>"
        return svg + "</svg>\n"
    }

    /// A balance plot: each covariate's standardized mean difference per treatment as a dot, with the
    /// conventional |SMD| = 0.1 lines.
    public static func balance(id: String, title: String, covariates: [String], series: [Series]) -> String {
        guard !covariates.isEmpty else { return "" }
        let labelWidth = 230.0, rowHeight = 24.0, plot = 360.0
        let w = labelWidth + plot + 40, h = top + rowHeight * Double(covariates.count) + 90
        let extent = max(0.25, niceCeiling(series.flatMap { $0.values.compactMap { $0.map(abs) } }.max() ?? 0.25))
        func x(_ v: Double) -> Double { labelWidth + plot * (v + extent) / (2 * extent) }
        let plotBottom = top + rowHeight * Double(covariates.count)
        var svg = open(id: id, title: title, width: w, height: h)
        for v in ticks(-extent, extent) {
            svg += "<line x1=\"\(f(x(v)))\" x2=\"\(f(x(v)))\" y1=\"\(f(top))\" y2=\"\(f(plotBottom))\" stroke=\"#eee\"/>"
            svg += text(x(v), plotBottom + 14, short(v), anchor: "middle", color: "#333")
        }
        for v in [-0.1, 0.1] {
            svg += "<line x1=\"\(f(x(v)))\" x2=\"\(f(x(v)))\" y1=\"\(f(top))\" y2=\"\(f(plotBottom))\" stroke=\"#b00\" stroke-dasharray=\"5 3\"/>"
        }
        svg += "<line x1=\"\(f(x(0)))\" x2=\"\(f(x(0)))\" y1=\"\(f(top))\" y2=\"\(f(plotBottom))\" stroke=\"#888\"/>"
        for (r, name) in covariates.enumerated() {
            let y = top + rowHeight * (Double(r) + 0.5)
            svg += text(labelWidth - 6, y + 4, name, anchor: "end", color: "#333")
            for s in series { if let v = s.values[r] { svg += "<circle cx=\"\(f(x(v)))\" cy=\"\(f(y))\" r=\"4\" fill=\"\(s.color)\"/>" } }
        }
        svg += text(x(0), plotBottom + 32, "Standardized mean difference (dashed: |SMD| = 0.1)", anchor: "middle", color: "#111")
        for (k, s) in series.enumerated() {
            svg += "<circle cx=\"\(f(labelWidth + 6 + Double(k) * 200))\" cy=\"\(f(plotBottom + 52))\" r=\"4\" fill=\"\(s.color)\"/>"
            svg += text(labelWidth + 14 + Double(k) * 200, plotBottom + 56, s.name, anchor: "start", color: "#333")
        }
        return svg + "</svg>\n"
    }

    // MARK: - Pieces

    private static func open(id: String, title: String, width: Double = width, height: Double = height) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" data-chart=\"\(escape(id))\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
            + "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"system-ui,sans-serif\" role=\"img\">"
            + "<title>\(escape(title))</title><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>"
            + "<text x=\"\(f(width / 2))\" y=\"20\" font-size=\"14\" font-weight=\"600\" text-anchor=\"middle\">\(escape(title))</text>"
    }

    private static func yAxis(_ ticks: [(y: Double, label: String)], label: String) -> String {
        var svg = ""
        for t in ticks {
            svg += "<line x1=\"\(f(left))\" x2=\"\(f(left + plotWidth))\" y1=\"\(f(t.y))\" y2=\"\(f(t.y))\" stroke=\"#eee\"/>"
            svg += text(left - 6, t.y + 4, t.label, anchor: "end", color: "#333")
        }
        svg += "<line x1=\"\(f(left))\" x2=\"\(f(left))\" y1=\"\(f(top))\" y2=\"\(f(top + plotHeight))\" stroke=\"#888\"/>"
        let mid = top + plotHeight / 2
        return svg + "<text x=\"14\" y=\"\(f(mid))\" transform=\"rotate(-90 14 \(f(mid)))\" font-size=\"12\" text-anchor=\"middle\">\(escape(label))</text>"
    }

    private static func xAxis(_ ticks: [(x: Double, label: String)], label: String, rotated: Bool = false) -> String {
        let base = top + plotHeight
        var svg = "<line x1=\"\(f(left))\" x2=\"\(f(left + plotWidth))\" y1=\"\(f(base))\" y2=\"\(f(base))\" stroke=\"#888\"/>"
        for t in ticks {
            svg += "<line x1=\"\(f(t.x))\" x2=\"\(f(t.x))\" y1=\"\(f(base))\" y2=\"\(f(base + 4))\" stroke=\"#888\"/>"
            if rotated {
                svg += "<text x=\"\(f(t.x))\" y=\"\(f(base + 14))\" transform=\"rotate(-35 \(f(t.x)) \(f(base + 14)))\" font-size=\"10\" text-anchor=\"end\" fill=\"#333\">\(escape(t.label))</text>"
            } else {
                svg += text(t.x, base + 16, t.label, anchor: "middle", color: "#333")
            }
        }
        return svg + text(left + plotWidth / 2, height - (rotated ? 3 : 12), label, anchor: "middle", color: "#111")
    }

    private static func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: String) -> String {
        "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(max(0, w)))\" height=\"\(f(max(0, h)))\" fill=\"\(fill)\"/>"
    }

    private static func text(_ x: Double, _ y: Double, _ s: String, anchor: String, color: String) -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" font-size=\"11\" text-anchor=\"\(anchor)\" fill=\"\(color)\">\(escape(s))</text>"
    }

    /// Blue (-1) through white (0) to red (+1).
    static func diverging(_ t: Double) -> String {
        let v = max(-1, min(1, t))
        let (r, g, b) = v < 0
            ? (255 + (42 - 255) * -v, 255 + (111 - 255) * -v, 255 + (151 - 255) * -v)
            : (255 + (178 - 255) * v, 255 + (34 - 255) * v, 255 + (34 - 255) * v)
        return "rgb(\(Int(r.rounded())),\(Int(g.rounded())),\(Int(b.rounded())))"
    }

    /// About five round tick values from `low` to `high` (steps of 1, 2 or 5 times a power of ten).
    static func ticks(_ low: Double, _ high: Double) -> [Double] {
        guard high > low else { return [low] }
        let raw = (high - low) / 5, power = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= raw } ?? raw
        var values: [Double] = []
        var v = (low / step).rounded(.up) * step
        while v <= high + step * 1e-9 {
            values.append(abs(v) < step * 1e-9 ? 0 : v)
            v += step
        }
        return values
    }

    /// The smallest 1, 2 or 5 times a power of ten at least `value`.
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 0 else { return 1 }
        let power = pow(10, floor(log10(value)))
        return [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= value * (1 - 1e-12) } ?? value
    }

    /// A whole number with thousands separators, a fraction with at most six significant digits.
    static func short(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e15 { return grouped(Int64(v)) }
        return String(format: "%g", v)
    }

    private static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    static func escape(_ s: String) -> String { DiagnosticsHTML.escape(s) }
}
