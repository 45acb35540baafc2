import ArgumentParser
import Foundation
import Logging
import ReplayRun
import ReplayStream

extension Replay {
    /// `replay run INPUT`: ingest (once), then replay the log day by day into the panel.
    struct RunCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Replay an interaction log into the user-day panel as JSON lines.",
            discussion: """
                INPUT is the KuaiRec download (18164998.zip), the inner KuaiRec.zip, a folder holding \
                'KuaiRec 2.0/data/', or a bare interactions CSV (plain or compressed). Rerunning the same \
                command resumes from the last checkpoint.

                INPUT '-' reads a live feed from stdin: CSV with KuaiRec's header, or JSON lines with the same \
                field names, in arrival order. A day closes when the watermark (the newest event time minus \
                --allowed-lateness) passes its midnight in --tz, or after --idle-close without rows; rows for a \
                closed day are late (--late-policy). End of input closes every day and writes every record final.

                A duration is 500ms, 5s, 10m, 1h, 2d, or a bare number of seconds.
                """)

        @Argument(help: "The archive, folder or CSV to replay, or - for a live feed on stdin.")
        var input: String

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

        @Option(name: .long, help: "The state folder (checkpoints, ordered events, rejects).")
        var state: String = "replay.state"

        @Option(name: .long, help: "Where to write the JSON lines (- for stdout).")
        var out: String = "panel.jsonl"

        @Option(name: .long, help: "Which interaction matrix.")
        var matrix: MatrixChoice = .small

        @Option(name: .long, help: ArgumentHelp("Keep only the first N data rows in file order (the notebook used 300000).", valueName: "rows"))
        var rows: Count?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Treatment thresholds: batch, expanding, or fixed:INTERACTIONS,SHARE (default batch; expanding for live input).",
                valueName: "mode"))
        var thresholds: ThresholdsMode?

        @Option(name: .long, help: ArgumentHelp("IANA time zone for days of rows without a date label.", valueName: "zone"))
        var tz = NamedTimeZone("Asia/Shanghai")!

        @Option(name: .long, help: "Rejected rows as JSON lines (default: \(RunFiles.defaultRejectsName) in the state folder).")
        var rejects: String?

        @Option(name: .long, help: "Also write the run's summary as JSON to this file.")
        var summaryJson: String?

        @Option(name: .long, help: ArgumentHelp("Stop cleanly after this day (YYYY-MM-DD) closes; a later run continues.", valueName: "date"))
        var until: CalendarDay?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Checkpoint interval: a duration (1, 0.5s, 500ms, 1m) or events (100000ev); taken at the next day boundary.",
                valueName: "interval"))
        var checkpointEvery: CheckpointPolicy = .seconds(1)

        @Option(name: .long, help: ArgumentHelp("Memory for the ordering step's write buffers, in MiB (at least 1).", valueName: "MiB"))
        var memoryBudget = PositiveCount(32)

        @Option(
            name: .long,
            help: ArgumentHelp(
                "The most bytes the CSV may expand to (a zip bomb guard): a positive number of bytes, or with K, M, G or T: 500M, 2G, 64G.",
                valueName: "bytes"))
        var maxBytes = ByteCount(bytes: IngestOptions.defaultMaxBytes)!

        @Flag(name: .long, help: "Drop exact duplicate rows (the notebook keeps them); the summary says how many.")
        var dedupe = false

        @Option(name: .customLong("report"), help: "Keep an HTML report of the notebook's diagnostics fresh in this file during the run.")
        var reportPath: String?

        @Option(name: .long, help: ArgumentHelp("How often --report is rewritten (a positive duration: 5, 5s, 500ms).", valueName: "duration"))
        var reportEvery = PositiveTimeSpan(seconds: 5)!

        @Option(
            name: .long,
            help: ArgumentHelp("Play the log at X simulated seconds per wall second (43200 plays a day in 2 s).", valueName: "x"))
        var speed: PlaybackSpeed?

        @Flag(name: .long, help: "Show the progress line even when stderr is not a terminal.")
        var progress = false

        @Flag(name: .long, help: "Discard an existing state folder and output and start over.")
        var fresh = false

        @Flag(name: .long, help: "Print only errors.")
        var quiet = false

        @Option(name: .long, help: ArgumentHelp("Log level.", valueName: "level"))
        var logLevel: Logger.Level = .notice

        /// The rules between options: which apply to an archive and which to a live feed.
        func validate() throws {
            try refuseEmptyPaths(["INPUT": input, "--state": state, "--out": out, "--rejects": rejects, "--summary-json": summaryJson, "--report": reportPath])
            if reportPath == "-" {
                throw ValidationError("--report rewrites an HTML page during the run; it needs a file name, not -")
            }
            if isLive {
                if thresholds == .batch {
                    throw ValidationError(
                        "--thresholds batch needs the whole log before the first day closes; live input uses expanding (the default) or fixed:INTERACTIONS,SHARE")
                }
                for (given, name) in [(rows != nil, "--rows"), (until != nil, "--until"), (speed != nil, "--speed"), (reportPath != nil, "--report")] where given {
                    throw ValidationError("\(name) applies to archive input, not to a live feed on stdin")
                }
            } else {
                for (given, name) in [
                    (inputFormat != nil, "--input-format"), (idleClose != nil, "--idle-close"), (skipRows != nil, "--skip-rows"),
                    (latePolicy != .reject, "--late-policy"),
                ] where given {
                    throw ValidationError("\(name) applies to a live feed on stdin (INPUT -), not to an archive, which is replayed in order")
                }
            }
        }

        /// True when the input is a live feed on stdin.
        var isLive: Bool { input == "-" }

        func run() throws {
            // One malloc arena: the event loop allocates records that the rendering thread frees, and with
            // glibc's per-thread arenas that pattern left big's peak RSS ~70 MB higher (313 vs 237 MB), at no
            // measurable cost in time.
            _ = glibcMallopt(glibcArenaMax, 1)
            let logger = bootstrapLogging(level: quiet ? .error : logLevel)
            installStopHandlers()
            try runReportingErrors {
                try pathClaims.check()
                let reporter = RunReporter(
                    quiet: quiet, showProgress: !quiet && (progress || isatty(STDERR_FILENO) == 1), timeZone: tz.zone)
                let result = try reporter.whileRunning {
                    let shouldStop = { stopSignalReceived }
                    if isLive {
                        return try LiveRun(configuration: liveConfiguration, logger: logger)
                            .run(shouldStop: shouldStop, onEvent: reporter.handle)
                    }
                    return try ArchiveRun(configuration: archiveConfiguration, logger: logger)
                        .run(shouldStop: shouldStop, onEvent: reporter.handle)
                }
                try reporter.finish(result, summaryJSON: summaryJson)
            }
        }

        /// Every path the run reads or writes, by the option that names it (checked before anything is touched).
        var pathClaims: PathClaims {
            var claims = PathClaims()
            if !isLive { claims.reads(input, as: "INPUT") }
            claims.stateFolder(state, as: "--state")
            claims.writes(out, as: "--out")
            claims.writes(rejects, as: "--rejects")
            claims.writes(summaryJson, as: "--summary-json")
            claims.writes(reportPath, as: "--report")
            return claims
        }

        /// The options every run takes.
        var commonConfiguration: RunConfiguration {
            var common = RunConfiguration(
                stateDirectory: state, output: out, thresholds: thresholds ?? (isLive ? .expanding : .batch), timeZone: tz)
            common.rejects = rejects
            common.checkpointPolicy = checkpointEvery
            common.memoryBudgetBytes = memoryBudget.value << 20
            common.dedupe = dedupe
            common.fresh = fresh
            return common
        }

        /// The options of a run over an archive.
        var archiveConfiguration: ArchiveRunConfiguration {
            var configuration = ArchiveRunConfiguration(common: commonConfiguration, input: input)
            configuration.matrix = matrix
            configuration.rowLimit = rows?.value
            configuration.maxBytes = maxBytes
            configuration.until = until
            configuration.speed = speed?.factor
            configuration.report = reportPath.map { .init(path: $0, interval: reportEvery.span) }
            return configuration
        }

        /// The options of a live feed.
        var liveConfiguration: LiveRunConfiguration {
            var configuration = LiveRunConfiguration(common: commonConfiguration)
            configuration.inputFormat = inputFormat
            configuration.allowedLateness = allowedLateness
            configuration.idleClose = idleClose?.span
            configuration.latePolicy = latePolicy
            configuration.reviseWindowDays = reviseWindow.days
            configuration.skipRows = skipRows?.value
            return configuration
        }
    }
}

/// glibc's `mallopt(3)`; `<malloc.h>` is not part of Swift's Glibc module, so it is declared here.
@_silgen_name("mallopt")
func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
/// `M_ARENA_MAX` from `<malloc.h>`.
let glibcArenaMax: Int32 = -8
