import ArgumentParser
import Logging
import ReplayRun
import ReplaySink
import ReplayStream

// The options of `replay run`, in the titled groups its help lists them under.

/// `replay run`'s options: input.
struct InputOptions: ParsableArguments {
    @Option(name: .long, help: "Which interaction matrix.")
    var matrix: MatrixChoice = .small

    @Option(name: .long, help: ArgumentHelp("Keep only the first N data rows in file order (the notebook used 300000).", valueName: "rows"))
    var rows: Count?

    @Option(name: .long, help: ArgumentHelp("IANA time zone for days of rows without a date label.", valueName: "zone"))
    var tz = NamedTimeZone("Asia/Shanghai")!

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The most bytes the CSV may expand to (a zip bomb guard): a positive number of bytes, or with K, M, G or T: 500M, 2G, 64G.",
            valueName: "bytes"))
    var maxBytes = ByteCount(bytes: IngestOptions.defaultMaxBytes)!

    @Flag(name: .long, help: "Drop exact duplicate rows (the notebook keeps them); the summary says how many.")
    var dedupe = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Which inflater reads the CSV: auto (ISA-L for a deflated member of a zip read from a file, libarchive for anything else), isal (refuse any other input), or libarchive.",
            valueName: "inflater"))
    var inflate: InflateChoice?
}

/// `replay run`'s options: output.
struct OutputOptions: ParsableArguments {
    @Option(name: .long, help: "Where to write the panel (- for stdout).")
    var out: String = "panel.jsonl"

    @Option(name: .long, help: "How the panel is written: jsonl (one JSON object a line) or csv (a header line, then one row a record; an unknown value is an empty field).")
    var format: PanelFormat = .jsonl

    @Option(name: .long, help: "Which revisions are written: all (the changelog: each record when its day closes, again as its leads arrive) or final (each record once, when its last lead is known or the input ends).")
    var emit: EmitPolicy = .all

    @Option(name: .long, help: "Rejected rows as JSON lines (default: \(RunFiles.defaultRejectsName) in the state folder).")
    var rejects: String?

    @Option(name: .long, help: "Also write the run's summary as JSON to this file.")
    var summaryJson: String?

    @Flag(name: .long, help: "Discard an existing state folder and output and start over.")
    var fresh = false
}

/// `replay run`'s options: thresholds.
struct ThresholdOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Treatment thresholds: batch, expanding, or fixed:INTERACTIONS,SHARE (default batch; expanding for live input).",
            valueName: "mode"))
    var thresholds: ThresholdsMode?
}

/// `replay run`'s options: pacing and progress.
struct PacingOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("Play the log at X simulated seconds per wall second (43200 plays a day in 2 s).", valueName: "x"))
    var speed: PlaybackSpeed?

    @Option(name: .long, help: ArgumentHelp("Stop cleanly after this day (YYYY-MM-DD) closes; a later run continues.", valueName: "date"))
    var until: CalendarDay?

    @Flag(name: .long, help: "Show the progress line even when stderr is not a terminal.")
    var progress = false

    @Flag(name: .long, help: "Print only errors.")
    var quiet = false

    @Option(name: .long, help: ArgumentHelp("Log level.", valueName: "level"))
    var logLevel: Logger.Level = .notice
}

/// `replay run`'s options: live input (input -).
struct LiveOptionsGroup: ParsableArguments {
    @Option(name: .long, help: "Live input's format (default: detected from the first byte).")
    var inputFormat: LiveInputFormat?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Live input: how far behind the newest event time a row may arrive and still count (a duration: 10m, 30s, 1h, 500ms, 0).",
            valueName: "duration"))
    var allowedLateness = TimeSpan(seconds: 600)!

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Live input: also close the open days after this long without a row (wall time, a positive duration: 30s, 5m).",
            valueName: "duration"))
    var idleClose: PositiveTimeSpan?

    @Option(name: .long, help: "Live input: what to do with a row whose day has closed: reject (to the rejects file, reason late) or revise (re-emit what it changes).")
    var latePolicy: LatePolicy = .reject

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Live input with --late-policy revise: how many of the last closed days (1 to \(LiveOptions.maxReviseWindowDays)) a late row may still revise.",
            valueName: "days"))
    var reviseWindow = ReviseWindow(days: 7)

    @Option(name: .long, help: ArgumentHelp("Live input: skip this many data rows first (a feed re-sent from its start after an interrupted run; it must be the count `replay status` prints). Without it a feed re-sent from its start is recognised and skipped by itself.", valueName: "rows"))
    var skipRows: Count?
}

/// `replay run`'s options: state and checkpoints.
struct CheckpointOptions: ParsableArguments {
    @Option(name: .long, help: "The state folder (checkpoints, ordered events, rejects).")
    var state: String = RunFiles.defaultStateFolder

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Checkpoint interval: auto (every second, further apart when a checkpoint takes over a twentieth of the time), a duration (1, 0.5s, 500ms, 1m) or events (100000ev).",
            valueName: "interval"))
    var checkpointEvery: CheckpointPolicy = .auto

    @Option(name: .long, help: ArgumentHelp("Memory for the ordering step's write buffers, in MiB (at least 1).", valueName: "MiB"))
    var memoryBudget = PositiveCount(32)
}

/// `replay run`'s options: diagnostics.
struct DiagnosticsOptions: ParsableArguments {
    @Option(name: .customLong("report"), help: "Keep an HTML report of the notebook's diagnostics fresh in this file during the run.")
    var reportPath: String?

    @Option(name: .long, help: ArgumentHelp("How often --report is rewritten (a positive duration: 5, 5s, 500ms).", valueName: "duration"))
    var reportEvery = PositiveTimeSpan(seconds: 5)!
}

/// `replay run`'s options: tables joined to every record.
struct JoinOptionsGroup: ParsableArguments {
    @Option(
        name: .customLong("with-user-features"),
        help: ArgumentHelp(
            "Join user_features.csv to every record on user_id: --with-user-features alone joins every column, --with-user-features=COLUMNS (comma-separated) the ones named.",
            valueName: "columns"))
    var userFeatures: String?

    @Flag(
        name: .customLong("with-item-context"),
        help: "Join, per user-day, the mean show_cnt and play rate (item_daily_features.csv) of the day's videos on that date and their number of distinct first categories (item_categories.csv).")
    var itemContext = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Live input: the archive (or folder) whose side tables --with-user-features and --with-item-context join.",
            valueName: "archive"))
    var sideTables: String?

    /// What `--with-user-features` alone stands for after ``expandingOptionalValues(_:)``.
    static let everyColumn = "*"

    /// `--with-user-features` takes an optional value (`--with-user-features[=COLUMNS]`, as GNU tools write
    /// optional values: only after `=`, so a following INPUT is never taken for columns); the parser knows
    /// options with a value, so the bare flag is given the value that means every column.
    static func expandingOptionalValues(_ arguments: [String]) -> [String] {
        var out: [String] = []
        for argument in arguments {
            if argument == "--" { return out + arguments[out.count...] }
            out.append(argument == "--with-user-features" ? "--with-user-features=\(everyColumn)" : argument)
        }
        return out
    }

    /// The joins asked for.
    var joins: JoinOptions {
        let columns = userFeatures.map { value -> [String] in
            value == Self.everyColumn
                ? [] : value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        return JoinOptions(userFeatureColumns: columns, itemContext: itemContext, sideTables: sideTables)
    }
}
