import ArgumentParser
import Foundation
import ReplayRun
import ReplaySink
import ReplayStream

extension Replay {
    /// `replay tail FILE`: prints the records of a panel file, like Unix tail: the last N, from the Nth, or all,
    /// optionally following a run as it writes the file.
    struct TailCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "tail",
            abstract: "Print the records of a panel file (-n: the last N; -f: keep printing as a run writes it).",
            discussion: """
                Without -n or -f every record is printed. The filters (--user, --date, --final-only, --latest) \
                choose the records; -n counts among those. -f (--follow) begins with the last 10 records \
                (-n N: N; --from-start: all), then prints each record as the run writes it. A partly written \
                last line is held back until complete, and a resumed run that cuts the file back to its \
                checkpoint is followed without printing a line twice; when another run replaces or rewrites the \
                file (a --fresh rerun), tail says so on stderr and prints the file again from its top \
                (--no-restart: exits with status 4). A file that does not exist yet is waited for, then printed \
                from its top. tail ends by itself (status 0) once the run writing the file has finished and its \
                last records are printed: the run's state folder (--state, default replay.state as for replay \
                run) says so when it records this file as its output (otherwise, or with --keep-following, tail \
                follows until Ctrl-C).

                --latest without -f prints the latest revision of every key once the whole file is read, ordered \
                by event_date then user_id: the order in which a stream closes days, so the last records are the \
                newest days (-n 5 --latest: the newest keys). replay export orders its CSV by user_id then \
                event_date instead, the notebook's panel order (sort_values(["user_id", "event_date"])). With \
                -f, --latest prints each key once, when its final revision arrives.

                --fields prints only the named columns, as JSON objects (the default when standard output is not \
                a terminal) or, with --format tsv (the default on a terminal), as tab-separated rows after a \
                header line; numbers are printed exactly as the file holds them, null as null (JSON) or an empty \
                field (TSV). Columns a run joined (run --with-user-features, --with-item-context) may be named \
                when the file has them (its first line says so): a text is a JSON string, or its plain text in TSV.

                Examples:
                  The last 20 records of user 14:
                    replay tail -n 20 panel.jsonl --user 14
                  The last 10 final records, then each new one, until the run has finished:
                    replay tail -f panel.jsonl --state run.state --final-only
                  The 100 newest keys (their latest revisions), two columns, as TSV:
                    replay tail panel.jsonl --latest -n 100 --format tsv --fields user_id,final
                """)

        @Argument(help: "The panel file (replay run --out); - reads standard input.")
        var file: String
        @Option(
            name: [.customShort("n"), .customLong("lines")],
            help: ArgumentHelp("Print the last N records, or with +N the records from the Nth on (1-based).", valueName: "N|+N"))
        var lines: LineCount?
        @Flag(name: [.customShort("f"), .long], help: "Keep printing as the file grows; stop with Ctrl-C.")
        var follow = false
        @Flag(name: .long, help: "With --follow: begin with every record instead of the last 10.")
        var fromStart = false
        @Flag(name: .long, help: "With --follow: keep following after the run writing the file has finished.")
        var keepFollowing = false
        @Option(name: .long, help: ArgumentHelp("With --follow: the state folder of the run writing FILE, read to know when it has finished (default: replay.state).", valueName: "dir"))
        var state: String?
        @Flag(name: .long, help: "With --follow: exit (status 4) instead of starting again from the top when another run replaces or rewrites the file.")
        var noRestart = false
        @Option(name: .long, parsing: .upToNextOption, help: "Only these user ids.")
        var user: [Int64] = []
        @Option(name: .long, parsing: .upToNextOption, help: ArgumentHelp("Only these days (YYYY-MM-DD).", valueName: "date"))
        var date: [CalendarDay] = []
        @Flag(name: .long, help: "Only final revisions.")
        var finalOnly = false
        @Flag(name: .long, help: "Each key once: when final (with --follow), or its latest revision at the end.")
        var latest = false
        @Option(
            name: [.customLong("fields"), .customLong("select")],
            help: ArgumentHelp("Print only these columns, in this order (comma-separated: user_id,event_date,revision).", valueName: "names"))
        var fields: String?
        @Option(name: .long, help: ArgumentHelp("How --fields prints: json or tsv (default: tsv on a terminal, else json); tsv without --fields prints every column.", valueName: "format"))
        var format: PanelFieldSelection.Format?
        @Option(name: .long, help: ArgumentHelp("How long to wait between polls with --follow (a positive duration: 100ms, 1s; a bare number is seconds).", valueName: "duration"))
        var pollInterval = PositiveTimeSpan(seconds: 0.1)!

        func validate() throws {
            try refuseEmptyPaths(["FILE": file, "--state": state])
            if fromStart && lines != nil {
                throw ValidationError("--from-start and -n both say where to begin; give one (--from-start is -n +1)")
            }
            // Names the panel lacks wait for the first line of standard input or of a followed file still empty.
            _ = try selection(joinedColumns: Self.joinedColumns(ofFile: file) ?? (file == "-" || follow ? nil : []))
        }

        /// The `--fields` selection (nil without it) for lines with the columns `joinedColumns` joined; nil
        /// columns (not known yet: standard input, a file not there yet or empty) accept every name for now.
        /// - Throws: `ValidationError` (exit 64) naming the unknown or repeated columns and listing the valid ones.
        func selection(joinedColumns: [String]?) throws -> PanelFieldSelection? {
            guard let fields else { return nil }
            let names = fields.split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }.filter { !$0.isEmpty }
            let joined = joinedColumns ?? names.filter { !PanelFieldSelection.validNames.contains($0) }
            do throws(PanelFieldSelection.Problem) {
                return try PanelFieldSelection(names, joinedColumns: joined)
            } catch {
                let valid = PanelFieldSelection.validNames(joinedColumns: joinedColumns ?? [])
                let columns = "The columns: \(valid.joined(separator: ", "))."
                switch error {
                case .empty: throw ValidationError("--fields names no column. \(columns)")
                case .unknown(let unknown):
                    throw ValidationError("--fields: no such column: \(unknown.joined(separator: ", ")). \(columns)")
                case .repeated(let name): throw ValidationError("--fields names \(name) twice; name each column once")
                }
            }
        }

        func run() throws {
            installStopHandlers()
            try runReportingErrors {
                let format = format ?? (fields != nil && isatty(STDOUT_FILENO) != 0 ? .tsv : .json)
                let records = PanelRecordLines(source: file)
                let printer = RecordPrinter(records: records, format: format) {
                    try selection(joinedColumns: $0)
                }
                guard let opened = try openFile() else { return }
                if opened.reader.isRegularFile, let first = try opened.reader.firstLine() {
                    _ = first.withUnsafeBytes { records.learnColumns(from: $0) }
                }
                guard try printer.adoptColumns() else { return }
                try printRecords(of: opened.reader, records, from: opened.start, to: printer)
                printer.finish()
            }
        }

        /// The joined columns of FILE's first line when it is a regular file that has one now, else nil.
        static func joinedColumns(ofFile file: String) -> [String]? {
            guard file != "-", let reader = try? ChangelogReader(path: file), reader.isRegularFile,
                let first = try? reader.firstLine()
            else { return nil }
            return first.withUnsafeBytes { PanelCSVWriter.joinedColumns(inFirstLine: $0) }
        }

        /// Where printing begins: `-n`, else the last 10 records when following a file (`tail -f`), else all.
        var start: LineCount.Start {
            if let lines { return lines.start }
            return follow && !fromStart && file != "-" ? .last(10) : .from(1)
        }
    }
}

extension Replay.TailCommand: CommandSuggestion.Examples {
    static let examples = [
        "replay tail -n 3 -f panel.jsonl                  # the last 3 records, then follow until the run ends",
        "replay tail panel.jsonl --latest --user 14       # one user's latest revision of each day",
        "replay tail panel.jsonl --fields user_id,event_date,future_7day_interactions --format tsv",
    ]
}
