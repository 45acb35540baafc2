import ArgumentParser
import Foundation
import ReplayRun
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
            try runReportingErrors {
                let report = try DiagnosticsReportLoader.load(from: try StateStore(directory: state, readOnly: true))
                if json == nil && html == nil && readinessCsv == nil {
                    FileHandle.standardOutput.write(Data(DiagnosticsJSON.render(report)))
                }
                if let json { try AtomicFile.write(DiagnosticsJSON.render(report), to: json) }
                if let html { try AtomicFile.write(Array(DiagnosticsHTML.render(report).utf8), to: html) }
                if let readinessCsv { try AtomicFile.write(Array(ReadinessCSV.render(report).utf8), to: readinessCsv) }
            }
        }
    }
}
