import Foundation
import ReplayRun
import ReplayStream
import Testing

/// ``OutputRunStatus``: what a state folder says about the run writing a file (`replay tail --follow`).
struct OutputRunStatusTests {
    @Test func aRunIsFinishedOnlyForItsOwnOutputOnceItHasFinished() throws {
        let dir = RunFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let state = dir.appendingPathComponent("s").path
        let output = dir.appendingPathComponent("p.jsonl").path
        #expect(OutputRunStatus.of(stateDirectory: state, output: output) == .noRun)

        var configuration = try RunFixtures.archiveConfiguration(in: dir)
        configuration.until = CalendarDay(iso: "2020-07-08")!
        _ = try ArchiveRunTests.run(configuration)
        #expect(OutputRunStatus.of(stateDirectory: state, output: output) == .running)
        // The same file by another path: a symlink, or the path with a detour.
        let link = dir.appendingPathComponent("link.jsonl").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: output)
        #expect(OutputRunStatus.of(stateDirectory: state, output: link) == .running)
        #expect(OutputRunStatus.of(stateDirectory: state, output: dir.appendingPathComponent("s/../p.jsonl").path) == .running)
        let other = dir.appendingPathComponent("other.jsonl").path
        #expect(OutputRunStatus.of(stateDirectory: state, output: other) == .otherOutput(output))

        configuration.until = nil
        _ = try ArchiveRunTests.run(configuration)
        #expect(OutputRunStatus.of(stateDirectory: state, output: output) == .finished)
        #expect(OutputRunStatus.of(stateDirectory: state, output: link) == .finished)
        #expect(OutputRunStatus.of(stateDirectory: state, output: other) == .otherOutput(output))
        // A folder that is no state: no run.
        #expect(OutputRunStatus.of(stateDirectory: dir.path, output: output) == .noRun)
    }
}
