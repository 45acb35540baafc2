import ArgumentParser
import Foundation
import ReplaySink
import ReplayState
import ReplayStream

extension Replay {
    /// `replay report --state DIR`: the notebook's diagnostic tables as of the state folder's last
    /// checkpoint. Reads only (an LMDB read transaction): safe while a run is writing.
    struct ReportCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "report",
            abstract: "Write the notebook's diagnostic tables as of the last checkpoint (works while a run is going).",
            discussion: "Without --json, --html or --readiness-csv the JSON goes to stdout.")

        @Option(name: .long, help: "The state folder.")
        var state: String

        @Option(name: .long, help: "Write the tables as JSON to this file.")
        var json: String?

        @Option(name: .long, help: "Write the tables as an HTML page to this file.")
        var html: String?

        @Option(name: .long, help: "Write the readiness checklist as the notebook saves it (CSV) to this file.")
        var readinessCsv: String?

        func run() throws {
            let report: DiagnosticsReport
            do {
                let store = try StateStore(directory: state, readOnly: true)
                report = try DiagnosticsReportLoader.load(from: store)
            } catch let error as StateError {
                throw userFacingExit(error)
            }
            if json == nil && html == nil && readinessCsv == nil {
                FileHandle.standardOutput.write(Data(DiagnosticsJSON.render(report)))
            }
            if let json { try AtomicFile.write(DiagnosticsJSON.render(report), to: json) }
            if let html { try AtomicFile.write(Array(DiagnosticsHTML.render(report).utf8), to: html) }
            if let readinessCsv { try AtomicFile.write(Array(ReadinessCSV.render(report).utf8), to: readinessCsv) }
        }
    }
}

/// Reads a report out of a state folder.
enum DiagnosticsReportLoader {
    /// The report as of the folder's last checkpoint.
    /// - Throws: ``StateError`` when the folder holds no run or cannot be read.
    static func load(from store: StateStore) throws -> DiagnosticsReport {
        guard let identity = try store.identity() else {
            throw StateError(directory: store.directory, kind: .noRunRecorded)
        }
        if identity.live != nil { throw StateError(directory: store.directory, kind: .liveFeedHasNoDiagnostics) }
        let snapshot = try store.reportSnapshot()
        return DiagnosticsReport.assemble(
            ingest: snapshot.ingest, progress: snapshot.progress, thresholdsMode: identity.thresholds,
            interaction: snapshot.interaction, panel: snapshot.panel)
    }
}

/// Keeps an HTML report fresh during a run (`replay run --report FILE --report-every 5s`): every
/// interval, on its own thread, it reads the last checkpoint through a read transaction (the
/// writer is not disturbed) and replaces the file atomically. The page reloads itself at the same
/// interval.
final class LiveReportWriter: @unchecked Sendable {
    private let store: StateStore
    private let path: String
    private let interval: Double
    private let timer: DispatchSourceTimer
    private let queue = DispatchQueue(label: "replay.report")

    init(store: StateStore, path: String, interval: Double) {
        self.store = store
        self.path = path
        self.interval = interval
        timer = DispatchSource.makeTimerSource(queue: queue)
    }

    /// Starts the periodic writes (the first one at once).
    func start() {
        timer.schedule(deadline: .now(), repeating: interval)
        timer.setEventHandler { [self] in try? write() }
        timer.resume()
    }

    /// Stops the periodic writes and writes the report one last time (the run's final state).
    func stop() throws {
        timer.cancel()
        try queue.sync { try write() }
    }

    private func write() throws {
        let report = try DiagnosticsReportLoader.load(from: store)
        let refresh = report.status.phase == "finished" ? nil : interval
        try AtomicFile.write(Array(DiagnosticsHTML.render(report, refreshSeconds: refresh).utf8), to: path)
    }
}
