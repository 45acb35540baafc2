import ArgumentParser
import Foundation
import Logging
import ReplayRun
import ReplaySink
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

        @OptionGroup(title: "Input") var inputOptions: InputOptions
        @OptionGroup(title: "Output") var outputOptions: OutputOptions
        @OptionGroup(title: "Thresholds") var thresholdOptions: ThresholdOptions
        @OptionGroup(title: "Pacing and progress") var pacingOptions: PacingOptions
        @OptionGroup(title: "Live input (INPUT -)") var liveOptions: LiveOptionsGroup
        @OptionGroup(title: "State and checkpoints") var checkpointOptions: CheckpointOptions
        @OptionGroup(title: "Diagnostics") var diagnosticsOptions: DiagnosticsOptions
        @OptionGroup(title: "Joined tables") var joinOptions: JoinOptionsGroup
        @OptionGroup(title: "Kafka input (INPUT kafka://BOOTSTRAP/TOPIC)") var kafkaOptions: KafkaInputOptions

        // The options by name, wherever their group is.
        var matrix: MatrixChoice { inputOptions.matrix }
        var rows: Count? { inputOptions.rows }
        var tz: NamedTimeZone { inputOptions.tz }
        var maxBytes: ByteCount { inputOptions.maxBytes }
        var dedupe: Bool { inputOptions.dedupe }
        var inflate: InflateChoice? { inputOptions.inflate }
        var out: String { outputOptions.out }
        var format: PanelFormat { outputOptions.format }
        var emit: EmitPolicy { outputOptions.emit }
        var rejects: String? { outputOptions.rejects }
        var summaryJson: String? { outputOptions.summaryJson }
        var fresh: Bool { outputOptions.fresh }
        var thresholds: ThresholdsMode? { thresholdOptions.thresholds }
        var speed: PlaybackSpeed? { pacingOptions.speed }
        var until: CalendarDay? { pacingOptions.until }
        var progress: Bool { pacingOptions.progress }
        var quiet: Bool { pacingOptions.quiet }
        var logLevel: Logger.Level { pacingOptions.logLevel }
        var inputFormat: LiveInputFormat? { liveOptions.inputFormat }
        var allowedLateness: TimeSpan { liveOptions.allowedLateness }
        var idleClose: PositiveTimeSpan? { liveOptions.idleClose }
        var latePolicy: LatePolicy { liveOptions.latePolicy }
        var reviseWindow: ReviseWindow { liveOptions.reviseWindow }
        var skipRows: Count? { liveOptions.skipRows }
        var state: String { checkpointOptions.state }
        var checkpointEvery: CheckpointPolicy { checkpointOptions.checkpointEvery }
        var memoryBudget: PositiveCount { checkpointOptions.memoryBudget }
        var reportPath: String? { diagnosticsOptions.reportPath }
        var reportEvery: PositiveTimeSpan { diagnosticsOptions.reportEvery }
        var joins: JoinOptions { joinOptions.joins }

        /// The rules between options: which apply to an archive and which to a live feed.
        func validate() throws {
            try refuseEmptyPaths(["INPUT": input, "--state": state, "--out": out, "--rejects": rejects, "--summary-json": summaryJson, "--report": reportPath])
            if reportPath == "-" {
                throw ValidationError("--report rewrites an HTML page during the run; it needs a file name, not -")
            }
            try refuseEmptyPaths(["--side-tables": joins.sideTables])
            if joins.userFeatureColumns == [] && joinOptions.userFeatures != JoinOptionsGroup.everyColumn {
                throw ValidationError("--with-user-features=COLUMNS names no column; write --with-user-features alone for every column")
            }
            if !isLive && joins.sideTables != nil {
                throw ValidationError("--side-tables names a live feed's side tables; a run over an archive joins the archive's own")
            }
            if out.hasPrefix("kafka://") && KafkaInputOptions.address(out) == nil {
                throw ValidationError("a Kafka output is written kafka://HOST:PORT[,HOST:PORT...]/TOPIC, not \(out)")
            }
            if isKafka {
                guard KafkaInputOptions.address(input) != nil else {
                    throw ValidationError("a Kafka input is written kafka://HOST:PORT[,HOST:PORT...]/TOPIC, not \(input)")
                }
                if kafkaOptions.job != nil, case .fixed = thresholds ?? .expanding {
                    throw ValidationError("--job agrees expanding or batch thresholds across instances; fixed thresholds need no job")
                }
                if kafkaOptions.job != nil && latePolicy == .revise {
                    throw ValidationError("--job takes each day's user-days once, when it closes; --late-policy revise would change them after")
                }
                for (given, name) in [(skipRows != nil, "--skip-rows"), (inputFormat != nil && inputFormat != .jsonl, "--input-format csv")]
                where given {
                    throw ValidationError("\(name) applies to a feed on stdin; a Kafka topic holds JSON lines and its offsets say where a run stopped")
                }
            } else {
                for (given, name) in [
                    (kafkaOptions.partitions != nil, "--partitions"), (kafkaOptions.exitAtEnd, "--exit-at-end"), (kafkaOptions.group != nil, "--group"),
                    (kafkaOptions.job != nil, "--job"),
                ]
                where given {
                    throw ValidationError("\(name) applies to a Kafka input (kafka://BOOTSTRAP/TOPIC)")
                }
            }
            if isLive {
                if joins.joinsAnything && joins.sideTables == nil {
                    throw ValidationError(
                        "--with-user-features and --with-item-context join the side tables of an archive; a live feed names it with --side-tables ARCHIVE")
                }
                if thresholds == .batch && !(isKafka && kafkaOptions.exitAtEnd) {
                    throw ValidationError(
                        "--thresholds batch needs the whole log before the first day closes; live input uses expanding (the default) or fixed:INTERACTIONS,SHARE (a Kafka topic read to its end, --exit-at-end, may use batch)")
                }
                for (given, name) in [
                    (rows != nil, "--rows"), (until != nil, "--until"), (speed != nil, "--speed"),
                    (inflate != nil, "--inflate"),
                ] where given {
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

        /// True when the input is a live feed: stdin, or a Kafka topic.
        var isLive: Bool { input == "-" || isKafka }
        /// True when the input is a Kafka topic (`kafka://BOOTSTRAP/TOPIC`).
        var isKafka: Bool { input.hasPrefix("kafka://") }

        func run() throws {
            // One malloc arena: the event loop allocates records that the rendering thread frees, and with
            // glibc's per-thread arenas that pattern left big's peak RSS ~70 MB higher (313 vs 237 MB), at no
            // measurable cost in time.
            _ = glibcMallopt(glibcArenaMax, 1)
            // Blocks of 128 KiB and more (a day's events, the timeline snapshot, output buffers) are mapped and
            // unmapped on their own, and free memory at the heap's top is returned past 32 MiB (at 1 MiB, trimming
            // and growing the heap again cost ~0.5 s of system time on big). Setting them also stops glibc from
            // raising both thresholds after the first large free, which leaves freed blocks of 8-17 MB in the
            // heap: without them big's peak RSS is ~10 MB higher (`--emit final`). Mapping each large block costs
            // its page faults: ~0.4 s of system time on big.
            _ = glibcMallopt(glibcMmapThreshold, 128 << 10)
            _ = glibcMallopt(glibcTrimThreshold, 32 << 20)
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
            claims.reads(joins.sideTables, as: "--side-tables")
            claims.stateFolder(state, as: "--state")
            if !out.hasPrefix("kafka://") { claims.writes(out, as: "--out") }
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
            (common.format, common.emit) = (format, emit)
            common.fresh = fresh
            common.joins = joins
            common.messageOutput = kafkaOutput(out)
            return common
        }

        /// The options of a run over an archive.
        var archiveConfiguration: ArchiveRunConfiguration {
            var configuration = ArchiveRunConfiguration(common: commonConfiguration, input: input)
            configuration.matrix = matrix
            configuration.inflate = inflate ?? .auto
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
            configuration.report = reportPath.map { .init(path: $0, interval: reportEvery.span) }
            configuration.reviseWindowDays = reviseWindow.days
            configuration.skipRows = skipRows?.value
            configuration.positionedInput = kafkaOptions.factory(input: input, state: state, idleClose: idleClose?.span.seconds)
            configuration.thresholdsExchange = kafkaOptions.barrier(input: input, state: state) { stopSignalReceived }
            return configuration
        }
    }
}

/// glibc's `mallopt(3)`; `<malloc.h>` is not part of Swift's Glibc module, so it is declared here.
@_silgen_name("mallopt")
func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
/// `M_ARENA_MAX` from `<malloc.h>`.
let glibcArenaMax: Int32 = -8
/// `M_MMAP_THRESHOLD` from `<malloc.h>`.
let glibcMmapThreshold: Int32 = -3
/// `M_TRIM_THRESHOLD` from `<malloc.h>`.
let glibcTrimThreshold: Int32 = -1

extension Replay.RunCommand: CommandSuggestion.Examples {
    static let examples = [
        "replay run data/Kuairec/18164998.zip --state run.state --out panel.jsonl",
        "replay run KuaiRec.zip --rows 300000 --until 2020-07-20 --summary-json summary.json   # the notebook's sample, stop after a day",
        "replay run data/Kuairec/18164998.zip --speed 43200 --out - | replay tail - --final-only   # play a day in 2 s",
        "tail -f rows.csv | replay run - --state live.state --out live.jsonl --idle-close 30s   # a live feed (CSV or JSON lines)",
    ]
}
