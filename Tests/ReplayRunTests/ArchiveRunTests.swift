import Foundation
import ReplayRun
import ReplayState
import ReplayStream
import Testing

/// Archive runs, in process: the whole run (state folder, ingest, replay, summary) without the binary.
struct ArchiveRunTests {
    /// Runs `configuration`, collecting what it reports.
    static func run(
        _ configuration: ArchiveRunConfiguration, stopWhen: @escaping (RunEvent) -> Bool = { _ in false }
    ) throws -> (result: RunResult, events: [RunEvent]) {
        var events: [RunEvent] = []
        var stop = false
        let result = try ArchiveRun(configuration: configuration, logger: RunFixtures.quietLogger).run(
            shouldStop: { stop },
            onEvent: { event in
                events.append(event)
                if stopWhen(event) { stop = true }
            })
        return (result, events)
    }

    @Test func aRunWritesThePanelItsSummaryReconcilesAndARerunFindsItFinished() throws {
        let dir = RunFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let configuration = try RunFixtures.archiveConfiguration(in: dir)
        let (first, events) = try Self.run(configuration)
        #expect(first.outcome == .finished)
        let s = first.summary
        #expect(s.ingest.rowsRead > 0 && s.ingest.rowsRead == s.ingest.rowsAccepted + s.ingest.rowsRejected)
        #expect(s.progress.finished && s.days == 9 && s.progress.daysClosed == 9)
        #expect(s.progress.thresholds != nil && s.live == nil)
        #expect(s.rejects == dir.appendingPathComponent("s/rejects.jsonl").path)
        #expect(events.contains { if case .ingesting = $0 { return true } else { return false } })
        let panel = try Data(contentsOf: URL(fileURLWithPath: configuration.common.output))
        #expect(panel.count == s.progress.outputBytes)
        #expect(panel.split(separator: 0x0A).count == s.progress.recordsWritten)
        let json = try JSONSerialization.jsonObject(with: s.json()) as? [String: Any]
        #expect(json?["rows_read"] as? Int == s.ingest.rowsRead && json?["finished"] as? Bool == true)

        let (again, againEvents) = try Self.run(configuration)
        #expect(again.outcome == .finished && again.summary.progress == s.progress)
        // A finished run says it is finished, not that it resumes.
        #expect(againEvents.contains { if case .alreadyFinished(s.progress) = $0 { return true } else { return false } })
        #expect(!againEvents.contains { if case .ingestReused = $0 { return true } else { return false } })
        #expect(try Data(contentsOf: URL(fileURLWithPath: configuration.common.output)) == panel)
    }

    @Test func untilAndAStopRequestLeaveACheckpointThatALaterRunFinishesToTheSameBytes() throws {
        let dir = RunFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try Self.run(try RunFixtures.archiveConfiguration(in: dir, state: "ref", output: "ref.jsonl"))
        let expected = try Data(contentsOf: dir.appendingPathComponent("ref.jsonl"))

        var configuration = try RunFixtures.archiveConfiguration(in: dir)
        let day = CalendarDay(iso: "2020-07-08")!
        configuration.until = day
        #expect(try Self.run(configuration).result.outcome == .reachedUntil(day))
        configuration.until = nil
        // Stopped again at the first progress report of the resumed replay.
        let stopped = try Self.run(configuration) { event in
            if case .replaying = event { return true } else { return false }
        }
        #expect(stopped.result.outcome == .interrupted)
        #expect(stopped.events.contains { if case .resuming(let p) = $0 { return p.nextDay == day.adding(1) } else { return false } })
        let last = try Self.run(configuration)
        #expect(last.result.outcome == .finished)
        #expect(try Data(contentsOf: dir.appendingPathComponent("p.jsonl")) == expected)
    }

    @Test func aDifferentRunIsRefusedWithTheDifferencesAndFreshStartsOver() throws {
        let dir = RunFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var configuration = try RunFixtures.archiveConfiguration(in: dir)
        configuration.until = CalendarDay(iso: "2020-07-06")!
        _ = try Self.run(configuration)
        configuration.rowLimit = 500
        configuration.common.thresholds = .expanding
        #expect {
            _ = try Self.run(configuration)
        } throws: { error in
            guard let e = error as? StateError else { return false }
            return e.kind == .madeByDifferentRun([
                .rowLimit(stored: nil, current: 500), .thresholds(stored: "batch", current: "expanding"),
            ])
        }
        configuration.common.fresh = true
        let (fresh, events) = try Self.run(configuration)
        #expect(fresh.outcome == .reachedUntil(configuration.until!) && fresh.summary.ingest.rowsRead == 500)
        #expect(!events.contains { if case .ingestReused = $0 { return true } else { return false } })
    }

    @Test func aFolderThatIsNotReplaysIsRefusedBeforeAnythingIsWritten() throws {
        let dir = RunFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let folder = dir.appendingPathComponent("s")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: folder.appendingPathComponent("notes.txt"))
        let configuration = try RunFixtures.archiveConfiguration(in: dir)
        for fresh in [false, true] {
            var configuration = configuration
            configuration.common.fresh = fresh
            #expect {
                _ = try Self.run(configuration)
            } throws: { error in
                (error as? StateError)?.kind == .notReplays(["notes.txt"])
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["notes.txt"])
        }
        try Data().write(to: dir.appendingPathComponent("f"))
        var onAFile = configuration
        onAFile.common.stateDirectory = dir.appendingPathComponent("f").path
        #expect { _ = try Self.run(onAFile) } throws: { error in (error as? StateError)?.kind == .notAFolder }
    }

    @Test func aStateFolderIsMarkedAndAnOlderReplaysUnmarkedStateIsAdopted() throws {
        let dir = RunFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var configuration = try RunFixtures.archiveConfiguration(in: dir)
        configuration.until = CalendarDay(iso: "2020-07-07")!
        _ = try Self.run(configuration)
        let folder = configuration.common.stateDirectory
        #expect(StateStore.hasMarker(folder) && StateStore.ownership(of: folder) == .replays(marked: true))
        // An older replay wrote no marker: its state (lmdb/ with a run's identity) is still replay's.
        try FileManager.default.removeItem(atPath: folder + "/" + StateStore.markerName)
        #expect(StateStore.ownership(of: folder) == .replays(marked: false))
        configuration.until = nil
        #expect(try Self.run(configuration).result.outcome == .finished)
        #expect(StateStore.hasMarker(folder))
        // A folder holding only replay's names, but no marker and no database of replay's, is not replay's.
        let other = dir.appendingPathComponent("other").path
        try FileManager.default.createDirectory(atPath: other + "/events", withIntermediateDirectories: true)
        #expect(StateStore.ownership(of: other) == .other(entries: ["events"]))
        #expect(StateStore.ownership(of: dir.appendingPathComponent("missing").path) == .new)
    }

    @Test func aMissingInputIsRefusedBeforeTheStateFolderIsMade() throws {
        let dir = RunFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var configuration = try RunFixtures.archiveConfiguration(in: dir)
        configuration.input = dir.appendingPathComponent("nope.zip").path
        #expect(throws: InputError.self) { _ = try Self.run(configuration) }
        #expect(!FileManager.default.fileExists(atPath: configuration.common.stateDirectory))
    }
}
