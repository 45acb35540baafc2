import Foundation
import Testing

/// `--with-user-features[=COLUMNS]` and `--with-item-context`: the joined columns change no panel value, survive
/// a stop and resume byte for byte, are part of the state's identity, and a live feed joins the same values from
/// `--side-tables`. Their values against pandas are checked by tools/differential (the oracle's join_context).
@Suite(.serialized) struct JoinTests {
    static let joins = ["--with-user-features", "--with-item-context"]
    static let joinedKeys: Set<String> = ["user_active_degree", "follow_user_num_range", "onehot_feat4", "item_mean_show_cnt", "item_mean_play_rate", "item_first_categories"]

    /// The line without its joined members (the sink writes them as one run before `"revision"`).
    static func withoutJoins(_ line: String) -> String {
        let start = line.range(of: ",\"user_active_degree\":")!.lowerBound
        let end = line.range(of: ",\"revision\":")!.lowerBound
        return String(line[..<start] + line[end...])
    }

    @Test func joinedColumnsChangeNoPanelValueAndResumeByteForByte() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let archive = try Harness.archive()
        let plainRun = try Harness.run(["run", archive.path, "--state", "p", "--out", "plain.jsonl", "--quiet"], in: dir)
        #expect(plainRun.status == 0, "\(plainRun.stderr)")
        let joinedRun = try Harness.run(
            ["run", archive.path, "--state", "j", "--out", "joined.jsonl", "--quiet"] + Self.joins, in: dir)
        #expect(joinedRun.status == 0, "\(joinedRun.stderr)")
        let plain = try String(contentsOf: dir.appendingPathComponent("plain.jsonl"), encoding: .utf8)
        let joined = try String(contentsOf: dir.appendingPathComponent("joined.jsonl"), encoding: .utf8)
        let joinedLines = joined.split(separator: "\n").map(String.init)
        #expect(joinedLines.map(Self.withoutJoins) == plain.split(separator: "\n").map(String.init))
        let records = try Harness.jsonLines(dir.appendingPathComponent("joined.jsonl"))
        #expect(records.allSatisfy { Set($0.keys).isSuperset(of: Self.joinedKeys) && $0.count == 58 + 2 + 30 + 3 })
        let active = records.filter { $0["active_day"] as? Int == 1 }
        #expect(active.contains { $0["item_mean_show_cnt"] is Double } && active.contains { ($0["item_first_categories"] as? Int ?? 0) > 0 })
        #expect(records.filter { $0["active_day"] as? Int == 0 }.allSatisfy { $0["item_mean_show_cnt"] is NSNull && $0["item_first_categories"] as? Int == 0 })

        // Stopped after a day and resumed: the uninterrupted bytes (the item context rides in the timelines).
        let run = ["run", archive.path, "--state", "r", "--out", "resumed.jsonl", "--quiet"] + Self.joins
        #expect(try Harness.run(run + ["--until", "2020-07-09"], in: dir).status == 0)
        let resumed = try Harness.run(run, in: dir)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try Data(contentsOf: dir.appendingPathComponent("resumed.jsonl")) == Data(joined.utf8))

        // The joins are part of the state's identity.
        let other = try Harness.run(
            ["run", archive.path, "--state", "r", "--out", "resumed.jsonl", "--quiet", "--with-item-context"], in: dir)
        #expect(other.status != 0)
        #expect(other.stderr.contains("--with-user-features/--with-item-context: the state has user_features=all item_context, this run has item_context"), "\(other.stderr)")
    }

    @Test func csvCarriesTheSameJoinedValuesAndNamedColumns() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let archive = try Harness.archive()
        let columns = "--with-user-features=follow_user_num_range,user_active_degree"
        let run = try Harness.run(
            ["run", archive.path, "--state", "c", "--out", "p.csv", "--format", "csv", "--emit", "final", "--quiet", columns],
            in: dir)
        #expect(run.status == 0, "\(run.stderr)")
        let lines = try String(contentsOf: dir.appendingPathComponent("p.csv"), encoding: .utf8).split(separator: "\n")
        #expect(lines[0].hasSuffix(",treatment_high_watch_exposure,follow_user_num_range,user_active_degree,revision,final"))
        // A range such as (0,10] holds a comma: quoted.
        #expect(lines.dropFirst().contains { $0.contains(",\"(0,10]\",") })
        #expect(lines.dropFirst().allSatisfy { $0.hasSuffix(",true") })

        let unknown = try Harness.run(
            ["run", archive.path, "--state", "u", "--out", "u.jsonl", "--quiet", "--with-user-features=nope"], in: dir)
        #expect(unknown.status == 3)
        #expect(unknown.stderr.contains("no column nope to join — name columns it has: user_active_degree,"), "\(unknown.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("u").path), "refused before the state is made")
    }

    @Test func aLiveFeedJoinsTheSideTablesOfTheArchive() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (outer, log) = try LiveFeedTests.log(in: dir)
        let csv = dir.appendingPathComponent("feed.csv")
        try LiveFeedTests.write(log.header, LiveFeedTests.arrivalOrder(log, maxDelay: 300), to: csv)
        let archive = try Harness.run(
            ["run", outer.path, "--state", "a", "--out", "archive.jsonl", "--thresholds", "expanding", "--quiet"] + Self.joins,
            in: dir)
        #expect(archive.status == 0, "\(archive.stderr)")
        let refused = try Harness.run(["run", "-", "--state", "b", "--out", "live.jsonl", "--quiet"] + Self.joins, in: dir, stdin: csv)
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("a live feed names it with --side-tables ARCHIVE"), "\(refused.stderr)")
        let live = try Harness.run(
            ["run", "-", "--state", "b", "--out", "live.jsonl", "--allowed-lateness", "1h", "--side-tables", outer.path, "--quiet"]
                + Self.joins, in: dir, stdin: csv)
        #expect(live.status == 0, "\(live.stderr)")
        try LiveFeedTests.expectSamePanel(
            dir.appendingPathComponent("archive.jsonl"), dir.appendingPathComponent("live.jsonl"), "joined live feed")
        // Both reports give the joins' coverage, the same over the same user-days; the feed's report reads the
        // side tables of its --side-tables archive.
        for state in ["a", "b"] {
            #expect(try Harness.run(["report", "--state", state, "--json", "\(state).json"], in: dir).status == 0)
        }
        func table(_ name: String, _ state: String) throws -> NSArray? {
            let report = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("\(state).json"))) as? [String: Any]
            return report?[name] as? NSArray
        }
        let coverage = try #require(try table("join_coverage", "a"))
        #expect(coverage.count == 8)
        #expect(try table("join_coverage", "b") == coverage)
        #expect(try table("metadata_diagnostics", "b")?.count == 5)
    }
}
