import Foundation
import Testing

/// The HTML report in a real browser: headless Chromium (Debian's `chromium`, installed by tools/setup) renders
/// the finished report and a mid-run one to PNG, and its DOM must hold each of the notebook's charts with its title.
@Suite(.serialized) struct ReportBrowserTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Every chart of the report: its `data-chart` name and its title.
    static let charts = [
        ("watch_ratio_histogram", "Watch Ratio Distribution, Capped at 5"), ("play_duration_histogram", "Play Duration Distribution"),
        ("user_interactions_histogram", "Interactions per User"), ("user_active_days_histogram", "Active Days per User"),
        ("daily_panel_summary", "Daily Treatment and Outcome Rates in the Dense User-Day Panel"),
        ("confounding_balance", "Standardized Mean Differences in Pre-Treatment State"),
        ("confounding_balance_plot", "Covariate Balance: Standardized Mean Differences"),
        ("item_show_count_histogram", "Daily Item Show Counts"), ("item_play_rate_histogram", "Daily Item Play Rate"),
    ]

    /// Runs `executable` with `arguments`; its exit status and standard output.
    static func tool(_ executable: String, _ arguments: [String], in dir: URL) throws -> (status: Int32, stdout: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = dir
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Renders `page` with Chromium: the PNG's width and height, and the DOM as the browser built it.
    static func render(_ page: URL, in dir: URL) throws -> (width: Int, height: Int, dom: String) {
        let browser = try #require(chromium, "chromium is not installed (tools/setup installs it)")
        let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1400,5000"]
        let png = dir.appendingPathComponent(page.deletingPathExtension().lastPathComponent + ".png")
        let shot = try tool(browser, flags + ["--screenshot=\(png.path)", page.absoluteString], in: dir)
        #expect(shot.status == 0)
        let bytes = [UInt8](try Data(contentsOf: png))
        try #require(bytes.count > 24 && bytes[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "not a PNG")
        func be32(_ at: Int) -> Int { bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
        #expect(bytes.count > 50_000, "\(png.lastPathComponent): \(bytes.count) bytes: a blank page?")
        let dom = try tool(browser, flags + ["--dump-dom", page.absoluteString], in: dir)
        #expect(dom.status == 0)
        return (be32(16), be32(20), dom.stdout)
    }

    @Test(.disabled(if: Harness.binaryIsSanitized, "the browser checks the page, not replay's threads or memory"))
    func finishedAndMidRunReportsRenderEveryChart() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        let mid = try Harness.run(
            ["run", outer.path, "--state", "s", "--out", "p.jsonl", "--until", "2020-07-10", "--report", "mid.html", "--quiet"], in: dir)
        #expect(mid.status == 0, "\(mid.stderr)")
        let finished = try Harness.run(["run", outer.path, "--state", "s", "--out", "p.jsonl", "--quiet"], in: dir)
        #expect(finished.status == 0, "\(finished.stderr)")
        #expect(try Harness.run(["report", "--state", "s", "--html", "done.html"], in: dir).status == 0)
        for (name, through) in [("mid.html", "through 2020-07-10 (6 of 15 days closed)"), ("done.html", "the whole panel, through")] {
            let page = dir.appendingPathComponent(name)
            let rendered = try Self.render(page, in: dir)
            #expect(rendered.width == 1400 && rendered.height == 5000, "\(name): \(rendered.width)x\(rendered.height)")
            #expect(rendered.dom.contains("<h1>Causal diagnostics</h1>"), "\(name): the browser did not show the report")
            #expect(!rendered.dom.contains("ERR_"), "\(name): an error page")
            #expect(rendered.dom.contains(through), "\(name)")
            for (chart, title) in Self.charts {
                #expect(rendered.dom.contains("data-chart=\"\(chart)\""), "\(name): no \(chart) chart")
                #expect(rendered.dom.contains("<title>\(title)</title>"), "\(name): no title \(title)")
            }
        }
    }
}
