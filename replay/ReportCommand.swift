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
            discussion: "Without --json, --html or --readiness-csv the JSON goes to stdout; - names stdout for any one of them.")

        @Option(name: .long, help: "The state folder.")
        var state: String = RunFiles.defaultStateFolder

        @Option(name: .long, help: "Write the tables as JSON to this file.")
        var json: String?

        @Option(name: .long, help: "Write the tables as an HTML page to this file.")
        var html: String?

        @Option(name: .long, help: "Write the readiness checklist as the notebook saves it (CSV) to this file.")
        var readinessCsv: String?

        func validate() throws {
            try refuseEmptyPaths(["--state": state, "--json": json, "--html": html, "--readiness-csv": readinessCsv])
        }

        func run() throws {
            try runReportingErrors {
                var claims = PathClaims()
                claims.stateFolder(state, as: "--state")
                claims.writes(json, as: "--json")
                claims.writes(html, as: "--html")
                claims.writes(readinessCsv, as: "--readiness-csv")
                try claims.check()
                let report = try DiagnosticsReportLoader.load(from: try StateStore(directory: state, readOnly: true))
                if json == nil && html == nil && readinessCsv == nil {
                    try OutputFile.write(DiagnosticsJSON.render(report), to: "-")
                }
                if let json { try OutputFile.write(DiagnosticsJSON.render(report), to: json) }
                if let html { try OutputFile.write(Array(DiagnosticsHTML.render(report).utf8), to: html) }
                if let readinessCsv { try OutputFile.write(Array(ReadinessCSV.render(report).utf8), to: readinessCsv) }
            }
        }
    }
}

extension Replay.ReportCommand: CommandSuggestion.Examples {
    static let examples = [
        "replay report --state run.state --html report.html",
        "replay report --state run.state --json - | jq '.readiness_checks'",
        "replay report --readiness-csv ready.csv          # the notebook's readiness checklist",
    ]
}
