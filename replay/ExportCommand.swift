import ArgumentParser
import Foundation
import ReplayRun
import ReplaySink

extension Replay {
    /// `replay export FILE --csv OUT`: the compacted panel (last revision per key) as CSV, in the notebook's order.
    struct ExportCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Write a panel file's compacted panel (last revision per key) as CSV, for pandas, DuckDB, etc.",
            discussion: """
                Columns in the notebook's order (user_id, event_date, …, treatment_high_watch_exposure; then the \
                columns the run joined (run --with-user-features, --with-item-context), as the file's first line \
                names them, a text quoted only when it holds a comma, a quote or a line break; with \
                --with-revision also revision,final), one row per (user_id, event_date) ordered by user_id then \
                event_date, as the notebook's panel. Numbers are the JSON text of the record (they read back bit \
                for bit with pd.read_csv; before pandas 3.1 add float_precision="round_trip"), null is an empty \
                field (NaN), \
                dates are YYYY-MM-DD. A file is written whole (OUT.partial, fsynced, renamed) or not at all. A \
                partly written last line (a run in progress) is ignored, with a note on stderr. Exit codes: 0 \
                done, 1 the CSV cannot be written (or an unexpected failure), 64 bad usage, 3 the panel file is \
                missing, unreadable or holds a line that is not a record, 5 disk full (docs/ERRORS.md).
                """)

        @Argument(help: "The panel file (replay run --out), or - for standard input.")
        var file: String
        @Option(name: .long, help: "Where to write the CSV (- for standard output).")
        var csv: String
        @Flag(name: .long, help: "Add the columns revision,final (the kept revision of each row).")
        var withRevision = false
        @Flag(name: .long, help: "Only keys whose last revision is final (leaves out rows a run may still revise).")
        var finalOnly = false
        @Flag(name: .long, help: "No summary line on stderr.")
        var quiet = false

        func validate() throws {
            guard !csv.isEmpty else { throw ValidationError("--csv needs a file name, or - for standard output") }
            try refuseEmptyPaths(["FILE": file])
        }

        func run() throws {
            signal(SIGPIPE, SIG_IGN)
            let source = file == "-" ? "standard input" : file
            try runReportingErrors {
                var claims = PathClaims()
                claims.reads(file, as: "FILE")
                claims.writes(csv, as: "--csv")
                try claims.check()
                let panel = CompactedPanel()
                let read = try panel.read(try CompactedPanel.openReader(path: file), source: source)
                if read.ignoredTailBytes > 0 {
                    printError("replay: \(UserMessage.incompleteLastLine(of: source, bytes: read.ignoredTailBytes))")
                }
                let rows = try panel.writeCSV(toPath: csv, withRevision: withRevision, finalOnly: finalOnly)
                if !quiet {
                    let left = panel.keyCount - rows
                    printError(
                        "replay export: \(read.lines) lines, \(panel.keyCount) keys (\(panel.finalKeyCount) final) → "
                            + "\(rows) rows in \(csv == "-" ? "standard output" : csv)"
                            + (left > 0 ? "; \(left) keys not final left out" : ""))
                }
            }
        }
    }
}

extension Replay.ExportCommand: CommandSuggestion.Examples {
    static let examples = [
        "replay export panel.jsonl --csv panel.csv        # the final panel, ordered by user_id, event_date",
        "replay export panel.jsonl --csv - --final-only | head",
        "replay export panel.jsonl --csv revisions.csv --with-revision",
    ]
}
