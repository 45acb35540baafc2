import Foundation
import ReplayRun
import ReplayStream
import Testing

/// Live runs, in process, reading the rows from a file descriptor.
struct LiveRunTests {
    @Test func aFeedIsReadToItsEndReconcilesAndARerunSaysItEnded() throws {
        let dir = RunFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = try RunFixtures.smallMatrixCSV(in: dir)
        func run(_ input: String? = nil) throws -> (RunResult, [RunEvent]) {
            let fd = open(input ?? csv.path, O_RDONLY)
            defer { close(fd) }
            var common = RunConfiguration(
                stateDirectory: dir.appendingPathComponent("s").path, output: dir.appendingPathComponent("live.jsonl").path,
                thresholds: .expanding, timeZone: NamedTimeZone("Asia/Shanghai")!)
            common.checkpointPolicy = .events(5000)
            var configuration = LiveRunConfiguration(common: common)
            configuration.inputDescriptor = fd
            configuration.inputName = "small_matrix.csv"
            configuration.allowedLateness = TimeSpan("1d")!
            var events: [RunEvent] = []
            let result = try LiveRun(configuration: configuration, logger: RunFixtures.quietLogger).run(onEvent: { events.append($0) })
            return (result, events)
        }
        let (result, _) = try run()
        #expect(result.outcome == .finished)
        let s = result.summary
        let live = try #require(s.live)
        #expect(s.ingest.inputLocation == "small_matrix.csv (csv)")
        #expect(s.ingest.rowsRead > 0 && s.ingest.rowsRead == s.ingest.rowsAccepted + s.ingest.rowsRejected)
        #expect(live.ended && s.progress.finished && s.progress.recordsWritten > 0)
        let panel = try Data(contentsOf: dir.appendingPathComponent("live.jsonl"))
        #expect(panel.count == s.progress.outputBytes)

        // A rerun with nothing to read, or with the whole feed again, says the feed ended; rows after the ones it
        // consumed are refused, and nothing changes.
        for input in ["/dev/null", csv.path] {
            let (again, events) = try run(input)
            #expect(again.outcome == .finished && again.summary.progress.outputBytes == s.progress.outputBytes)
            #expect(events.contains { if case .liveFeedAlreadyEnded = $0 { return true } else { return false } })
        }
        let longer = dir.appendingPathComponent("longer.csv")
        var bytes = try Data(contentsOf: csv)
        bytes.append(bytes.split(separator: 0x0A).last! + [0x0A])
        try bytes.write(to: longer)
        #expect {
            _ = try run(longer.path)
        } throws: { error in
            if case .feedEnded(s.ingest.rowsRead) = (error as? FeedPositionError)?.kind { return true } else { return false }
        }
        #expect(try Data(contentsOf: dir.appendingPathComponent("live.jsonl")) == panel)
    }
}
