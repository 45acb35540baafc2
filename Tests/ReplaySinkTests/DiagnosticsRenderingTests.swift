import Foundation
import Testing
@testable import ReplaySink
import ReplayDiagnostics
import ReplayStream

struct DiagnosticsRenderingTests {
    func sampleReport() -> DiagnosticsReport {
        var state = PanelDiagnosticsState(users: [1, 2], firstDay: CalendarDay(yyyymmdd: 20200705))
        state.userDays = 4
        state.treatedHighIntensity = 1
        state.activeDaysPerUser = [2, 7]
        return DiagnosticsReport.assemble(
            ingest: nil, progress: nil, thresholdsMode: "batch", interaction: nil, panel: state)
    }

    @Test func jsonHasOneListPerTableKeyedByColumnNames() throws {
        let report = sampleReport()
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(DiagnosticsJSON.render(report))) as? [String: Any])
        for name in [
            "coverage_summary", "missingness", "engagement_summary", "user_activity", "item_activity", "thresholds",
            "treatment_summary", "daily_panel_summary", "naive_associations", "confounding_balance",
            "metadata_diagnostics", "item_daily_summary", "readiness_checks",
        ] {
            #expect(object[name] is [Any], "\(name)")
        }
        let status = try #require(object["report"] as? [String: Any])
        #expect(status["phase"] as? String == "ingest")
        #expect(status["note_coverage_summary"] is String)  // still ingesting: said so
        let summary = try #require(object["treatment_summary"] as? [[String: Any]])
        #expect(summary.first?["column"] as? String == "treatment_high_intensity")
        #expect(summary.first?["share_of_user_days"] as? Double == 0.25)
        let balance = try #require(object["confounding_balance"] as? [[String: Any]])
        #expect(balance.count == 16)
        #expect(balance[0]["smd"] is NSNull)  // no active days yet: NaN is null
    }

    @Test func readinessCSVIsWhatPandasWrites() {
        let lines = ReadinessCSV.render(sampleReport()).split(separator: "\n")
        #expect(lines.first == "check,value,passes")
        #expect(lines.count == 9)
        #expect(lines[1] == "at least 50 users in sample,2.0,False")
        #expect(lines[2] == "median user has at least 7 active days,4.5,False")
        #expect(lines[6] == "future 3-day outcomes available for most rows,,False")  // NaN: empty field
    }

    @Test func htmlReloadsWhileTheRunGoesOn() {
        let live = DiagnosticsHTML.render(sampleReport(), refreshSeconds: 5)
        #expect(live.contains("http-equiv=\"refresh\" content=\"5\""))
        #expect(live.contains("<h2 id=\"readiness_checks\">Readiness for causal modeling</h2>"))
        #expect(!DiagnosticsHTML.render(sampleReport()).contains("http-equiv"))
    }

    @Test func histogramsCountLikeNumpy() {
        // np.histogram([0, 1, 2, 3, 10], bins=5): edges 0, 2, 4, 6, 8, 10; the last bin is closed on the right.
        let h = NumpyHistogram.of([0, 1, 2, 3, 10, .nan, .infinity], bins: 5)
        #expect(h.edges == [0, 2, 4, 6, 8, 10])
        #expect(h.counts == [2, 2, 0, 0, 1])
        // One distinct value: half a unit each side (np.histogram([3, 3], bins=2) -> [0, 2], [2.5, 3, 3.5]).
        let same = NumpyHistogram.of([3, 3], bins: 2)
        #expect(same.edges == [2.5, 3, 3.5] && same.counts == [0, 2])
        // No value: numpy's edges of an empty array span 0...1.
        let empty = NumpyHistogram.of([], bins: 4)
        #expect(empty.edges == [0, 0.25, 0.5, 0.75, 1] && empty.counts == [0, 0, 0, 0])
        // np.linspace's edges: start + i * step, the last one exactly the maximum.
        let third = NumpyHistogram.of([0.1, 0.7], bins: 3)
        #expect(third.edges == [0.1, 0.1 + 0.19999999999999998, 0.1 + 2 * 0.19999999999999998, 0.7])
        let table = h.table(name: "x_histogram")
        #expect(table.columns == ["bin_start", "bin_end", "count"] && table.rows.count == 5)
        #expect(table.rows[4] == [.double(8), .double(10), .int(1)])
    }

    @Test func pagesSayWhatEachTableCoversAndTitleItInWords() throws {
        let html = DiagnosticsHTML.render(sampleReport())
        #expect(html.contains("<h2 id=\"coverage_summary\">Basic shape and coverage</h2>"))
        #expect(html.contains("whole log: the ingest pass is still reading it"))
        #expect(html.contains("the panel: no day closed yet"))
        #expect(!html.contains("<h2 id=\"watch_ratio_histogram\""), "histograms are charts, not sections")
        var report = sampleReport()
        report.status = .init(phase: "replay", lastClosedDay: CalendarDay(yyyymmdd: 20200706), daysClosed: 2, panelDays: 9)
        let index = try #require(report.tables.firstIndex { $0.name == "watch_ratio_histogram" })
        report.tables[index] = NumpyHistogram.of([0.5, 0.9, 1.2, 7], bins: 60).table(name: "watch_ratio_histogram")
        let replaying = DiagnosticsHTML.render(report)
        #expect(replaying.contains("whole log (read at ingest)"))
        #expect(replaying.contains("the panel so far, through 2020-07-06 (2 of 9 days closed)"))
        #expect(replaying.contains("data-chart=\"watch_ratio_histogram\""))
        #expect(replaying.contains("<title>Watch Ratio Distribution, Capped at 5</title>"))
        #expect(replaying.contains("0.8 threshold") && replaying.contains("1.0 threshold"))
    }

    @Test func numbersAreReadable() {
        #expect(DiagnosticsHTML.cell(.int(4_676_275)) == "4,676,275")
        #expect(DiagnosticsHTML.cell(.double(4_676_275), column: "count") == "4,676,275")
        #expect(DiagnosticsHTML.cell(.double(0.25), column: "share_of_user_days") == "25.00%")
        #expect(DiagnosticsHTML.cell(.double(20_200_705), column: "mean") == "20,200,705.0000")
        #expect(DiagnosticsHTML.cell(.double(-1234.5), column: "mean") == "-1,234.5000")
        #expect(DiagnosticsHTML.cell(.double(0.7221), column: "mean") == "0.7221")
    }
}
