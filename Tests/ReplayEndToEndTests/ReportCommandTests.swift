import Foundation
import Testing
import ReplayStream

@Suite(.serialized) struct ReportCommandTests {
    func report(_ state: String, in dir: URL) throws -> [String: Any] {
        let r = try Harness.run(["report", "--state", state], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    }

    @Test func aResumedRunReportsWhatAnUninterruptedOneDoes() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let archive = try Harness.archive()
        var r = try Harness.run(["run", archive.path, "--state", "whole", "--out", "whole.jsonl", "--quiet"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        r = try Harness.run(
            ["run", archive.path, "--state", "parts", "--out", "parts.jsonl", "--until", "2020-07-10", "--quiet"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let partial = try report("parts", in: dir)
        let status = try #require(partial["report"] as? [String: Any])
        #expect(status["phase"] as? String == "replay")
        #expect((status["days_closed"] as? Int ?? 0) == 6)
        #expect((partial["daily_panel_summary"] as? [Any])?.count == 6)
        #expect((partial["coverage_summary"] as? [Any])?.count == 8)  // interaction tables are final after ingest
        r = try Harness.run(
            ["run", archive.path, "--state", "parts", "--out", "parts.jsonl", "--report", "live.html", "--quiet"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        var whole = try report("whole", in: dir)
        var resumed = try report("parts", in: dir)
        for key in ["report"] {
            whole[key] = nil
            resumed[key] = nil
        }
        #expect(NSDictionary(dictionary: whole).isEqual(to: resumed))
        let html = try String(contentsOf: dir.appendingPathComponent("live.html"), encoding: .utf8)
        #expect(html.contains("phase <b>finished</b>") && !html.contains("http-equiv"))

        r = try Harness.run(["report", "--state", "whole", "--readiness-csv", "ready.csv", "--html", "r.html"], in: dir)
        #expect(r.status == 0)
        let csv = try String(contentsOf: dir.appendingPathComponent("ready.csv"), encoding: .utf8)
        #expect(csv.hasPrefix("check,value,passes\nat least 50 users in sample,"))
        #expect(try Harness.run(["report", "--state", "missing"], in: dir).status == 4)
    }

    @Test func inspectListsTheNotebooksInventory() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let archive = try Harness.archive()
        let r = try Harness.run(["inspect", archive.path, "--json", "inv.json"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("KuaiRec 2.0/data/small_matrix.csv"))
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("inv.json"))) as? [String: Any])
        let outer = try #require(object["outer_inventory"] as? [[String: Any]])
        let inner = try #require(object["inner_inventory"] as? [[String: Any]])
        #expect(outer.first?["member"] as? String == "KuaiRec.zip")  // the largest first
        #expect(inner.map { $0["member"] as? String } == (inner.map { $0["member"] as? String }).sorted { ($0 ?? "") < ($1 ?? "") })
        #expect(inner.contains { $0["member"] as? String == "KuaiRec 2.0/data/" })
        #expect(inner.allSatisfy { ($0["member"] as? String ?? "").hasPrefix("KuaiRec 2.0/data/") })
        #expect(try Harness.run(["inspect", "nope.zip"], in: dir).status == 3)
    }
}
