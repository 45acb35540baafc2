import Foundation
import Testing
import ReplaySink
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
        #expect(live.contains("<h2>readiness_checks</h2>"))
        #expect(!DiagnosticsHTML.render(sampleReport()).contains("http-equiv"))
    }
}
