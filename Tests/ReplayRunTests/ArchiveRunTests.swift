import Foundation
import ReplayDiagnostics
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

    /// What a state folder records of its ingest: the summary (without the rejects file, which each folder names
    /// for itself) and the interaction diagnostics' payload (as JSON with sorted keys: a dictionary's key order
    /// differs between two encodings of equal values).
    static func recordedIngest(_ configuration: ArchiveRunConfiguration) throws -> (IngestSummary?, Data?) {
        let store = try StateStore(directory: configuration.common.stateDirectory, readOnly: true)
        var summary = try store.ingestSummary()
        summary?.rejects = nil
        let payload = try store.payload(named: DiagnosticsPayloads.interaction).map {
            try JSONSerialization.data(withJSONObject: JSONSerialization.jsonObject(with: Data($0)), options: .sortedKeys)
        }
        return (summary, payload)
    }

    /// Under `--emit final` the diagnostics' second pass runs beside the replay, and the ingest is recorded before
    /// the replay's first checkpoint: a finished run, a run stopped at its first progress report and a run whose
    /// `until` is before the first day (no replay, no checkpoint) each record what a run of every revision records, and
    /// their reruns reuse that ingest and finish with the finished run's bytes.
    @Test func underEmitFinalTheIngestIsRecordedWithItsDiagnosticsOnEveryPath() throws {
        let dir = RunFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let reference = try RunFixtures.archiveConfiguration(in: dir, state: "ref", output: "ref.jsonl")
        #expect(try Self.run(reference).result.outcome == .finished)
        let expected = try Self.recordedIngest(reference)
        #expect(expected.0 != nil && expected.1 != nil)
        func finalOnly(_ name: String) throws -> ArchiveRunConfiguration {
            var configuration = try RunFixtures.archiveConfiguration(in: dir, state: name, output: "\(name).jsonl")
            configuration.common.emit = .final
            return configuration
        }
        let ingestedAgain: (RunEvent) -> Bool = { if case .ingesting = $0 { return true } else { return false } }

        let finished = try finalOnly("finished")
        #expect(try Self.run(finished).result.outcome == .finished)
        #expect(try Self.recordedIngest(finished) == expected)
        let panel = try Data(contentsOf: dir.appendingPathComponent("finished.jsonl"))
        #expect(!panel.isEmpty)

        let stopped = try finalOnly("stopped")
        let first = try Self.run(stopped) { if case .replaying = $0 { return true } else { return false } }
        #expect(first.result.outcome == .interrupted)
        #expect(try Self.recordedIngest(stopped) == expected)
        let resumed = try Self.run(stopped)
        #expect(resumed.result.outcome == .finished && !resumed.events.contains(where: ingestedAgain))
        #expect(try Data(contentsOf: dir.appendingPathComponent("stopped.jsonl")) == panel)

        var early = try finalOnly("early")
        let before = CalendarDay(iso: "2020-06-01")!
        early.until = before
        #expect(try Self.run(early).result.outcome == .untilAlreadyReached(before))
        #expect(try Self.recordedIngest(early) == expected)
        early.until = nil
        let rest = try Self.run(early)
        #expect(rest.result.outcome == .finished && !rest.events.contains(where: ingestedAgain))
        #expect(try Data(contentsOf: dir.appendingPathComponent("early.jsonl")) == panel)
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
