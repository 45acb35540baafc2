import ArgumentParser
import Foundation
import Logging
import ReplaySink
import ReplayState
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
                """)

        @Argument(help: "The archive, folder or CSV to replay, or - for a live feed on stdin.")
        var input: String

        @Option(name: .long, help: "Live input's format: csv or jsonl (default: detected from the first byte).")
        var inputFormat: String?

        @Option(name: .long, help: "Live input: how far behind the newest event time a row may arrive and still count (10m, 30s, 1h, 500ms, 0).")
        var allowedLateness: String = "10m"

        @Option(name: .long, help: "Live input: also close the open days after this long without a row (wall time: 30s, 5m).")
        var idleClose: String?

        @Option(name: .long, help: "Live input: what to do with a row whose day has closed: reject (to the rejects file, reason late) or revise (re-emit what it changes).")
        var latePolicy: String = "reject"

        @Option(name: .long, help: "Live input with --late-policy revise: how many of the last closed days a late row may still revise.")
        var reviseWindow: Int = 7

        @Option(name: .long, help: "Live input: skip this many data rows first (a feed re-sent from its start after an interrupted run).")
        var skipRows: Int = 0

        @Option(name: .long, help: "The state folder (checkpoints, ordered events, rejects).")
        var state: String = "replay.state"

        @Option(name: .long, help: "Where to write the JSON lines (- for stdout).")
        var out: String = "panel.jsonl"

        @Option(name: .long, help: "Which interaction matrix: small or big.")
        var matrix: String = "small"

        @Option(name: .long, help: "Keep only the first N data rows in file order (the notebook used 300000).")
        var rows: Int?

        @Option(name: .long, help: "Treatment thresholds: batch, expanding, or fixed:INTERACTIONS,SHARE (default batch; expanding for live input).")
        var thresholds: String?

        @Option(name: .long, help: "IANA time zone for days of rows without a date label.")
        var tz: String = "Asia/Shanghai"

        @Option(name: .long, help: "Rejected rows as JSON lines (default: rejects.jsonl in the state folder).")
        var rejects: String?

        @Option(name: .long, help: "Also write the run's summary as JSON to this file.")
        var summaryJson: String?

        @Option(name: .long, help: "Stop cleanly after this day (YYYY-MM-DD) closes; a later run continues.")
        var until: String?

        @Option(name: .long, help: "Checkpoint interval: seconds (1, 0.5s, 500ms) or events (100000ev); taken at the next day boundary.")
        var checkpointEvery: String = "1s"

        @Option(name: .long, help: "Memory for the ordering step's write buffers, in MiB.")
        var memoryBudget: Int = 32

        @Option(name: .long, help: "The most bytes the CSV may expand to (a zip bomb guard): bytes or 500M, 2G, 64G.")
        var maxBytes: String = "64G"

        @Flag(name: .long, help: "Drop exact duplicate rows (the notebook keeps them); the summary says how many.")
        var dedupe = false

        @Option(name: .customLong("report"), help: "Keep an HTML report of the notebook's diagnostics fresh in this file during the run.")
        var reportPath: String?

        @Option(name: .long, help: "How often --report is rewritten (seconds: 5, 5s, 500ms).")
        var reportEvery: String = "5s"

        @Option(name: .long, help: "Play the log at X simulated seconds per wall second (43200 plays a day in 2 s).")
        var speed: Double?

        @Flag(name: .long, help: "Show the progress line even when stderr is not a terminal.")
        var progress = false

        @Flag(name: .long, help: "Discard an existing state folder and output and start over.")
        var fresh = false

        @Flag(name: .long, help: "Print only errors.")
        var quiet = false

        @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error.")
        var logLevel: String = "notice"

        func validate() throws {
            guard MatrixChoice(rawValue: matrix) != nil else { throw ValidationError("--matrix must be small or big") }
            guard ThresholdsMode(argument: thresholdsArgument) != nil else {
                throw ValidationError("--thresholds must be batch, expanding or fixed:INTERACTIONS,SHARE (e.g. fixed:70,0.48)")
            }
            if isLive {
                if ThresholdsMode(argument: thresholdsArgument) == .batch {
                    throw ValidationError(
                        "--thresholds batch needs the whole log before the first day closes; live input uses expanding (the default) or fixed:INTERACTIONS,SHARE")
                }
                if let inputFormat, LiveInputFormat(rawValue: inputFormat) == nil {
                    throw ValidationError("--input-format must be csv or jsonl")
                }
                guard DurationArgument(allowedLateness) != nil else {
                    throw ValidationError("--allowed-lateness must be a duration: 0, 500ms, 30s, 10m, 1h or 2d")
                }
                if let idleClose, (DurationArgument(idleClose)?.seconds ?? 0) <= 0 {
                    throw ValidationError("--idle-close must be a positive duration: 500ms, 30s, 10m, 1h")
                }
                guard LatePolicy(rawValue: latePolicy) != nil else {
                    throw ValidationError("--late-policy must be reject or revise")
                }
                guard (1...LiveOptions.maxReviseWindowDays).contains(reviseWindow) else {
                    throw ValidationError("--revise-window must be 1 to \(LiveOptions.maxReviseWindowDays) days")
                }
                guard skipRows >= 0 else { throw ValidationError("--skip-rows must be at least 0") }
                for (given, name) in [(rows != nil, "--rows"), (until != nil, "--until"), (speed != nil, "--speed"), (reportPath != nil, "--report")] where given {
                    throw ValidationError("\(name) applies to archive input, not to a live feed on stdin")
                }
            } else {
                for (given, name) in [
                    (inputFormat != nil, "--input-format"), (idleClose != nil, "--idle-close"), (skipRows != 0, "--skip-rows"),
                    (latePolicy != "reject", "--late-policy"),
                ] where given {
                    throw ValidationError("\(name) applies to a live feed on stdin (INPUT -), not to an archive, which is replayed in order")
                }
            }
            guard TimeZone(identifier: tz) != nil else { throw ValidationError("--tz \(tz) is not an IANA time zone") }
            if let rows, rows < 0 { throw ValidationError("--rows must be at least 0") }
            if let until, CalendarDay(iso: until) == nil { throw ValidationError("--until must be a date YYYY-MM-DD") }
            guard CheckpointPolicy(argument: checkpointEvery) != nil else {
                throw ValidationError("--checkpoint-every must be seconds (1, 0.5s, 500ms) or events (100000ev)")
            }
            guard ByteCount(argument: maxBytes) != nil else {
                throw ValidationError("--max-bytes must be a positive number of bytes, optionally with K, M, G or T (e.g. 64G)")
            }
            guard case .seconds = CheckpointPolicy(argument: reportEvery) else {
                throw ValidationError("--report-every must be seconds (5, 5s, 500ms)")
            }
            if let speed, !(speed > 0 && speed.isFinite) { throw ValidationError("--speed must be a positive number") }
            guard memoryBudget >= 1 else { throw ValidationError("--memory-budget must be at least 1 (MiB)") }
        }

        /// True when the input is a live feed on stdin.
        var isLive: Bool { input == "-" }

        /// `--thresholds`, or the default for the input (batch for an archive, expanding for a live feed).
        var thresholdsArgument: String { thresholds ?? (isLive ? "expanding" : "batch") }

        func run() throws {
            // One malloc arena: the event loop allocates records that the rendering thread frees, and with
            // glibc's per-thread arenas that pattern left big's peak RSS ~70 MB higher (313 vs 237 MB), at no
            // measurable cost in time.
            _ = glibcMallopt(glibcArenaMax, 1)
            let level = Logger.Level(rawValue: logLevel) ?? .notice
            let logger = bootstrapLogging(level: quiet ? .error : level)
            installStopHandlers()
            do {
                if isLive { try executeLive(logger: logger) } else { try execute(logger: logger) }
            } catch {
                throw userFacingExit(error)
            }
        }

        /// Opens (creating, resetting with --fresh) the state folder for a run of `identity`, locked
        /// against a second process. Refuses a folder made by a different run, naming the differences.
        func openState(for identity: RunIdentity) throws -> (StateStore, ProcessLock) {
            var stateIsDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: state, isDirectory: &stateIsDirectory), !stateIsDirectory.boolValue {
                throw StateError(directory: state, kind: .notAFolder)
            }
            let foreign = StateStore.foreignEntries(in: state, besides: RunFiles.names)
            if !foreign.isEmpty && !fresh { throw StateError(directory: state, kind: .foreignEntries(foreign)) }
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
            let lock = try ProcessLock(directory: state)
            let store: StateStore
            if fresh {
                // --fresh also recovers a database that cannot be opened (damaged, truncated, another
                // program's): replay's own files are removed and the folder starts empty.
                do {
                    store = try StateStore(directory: state)
                } catch is StateError {
                    try StateStore.discardOwnFiles(in: state, besides: RunFiles.names)
                    store = try StateStore(directory: state)
                }
                // A fresh run of the same input keeps the ordered event log (no second ingest), if it is whole.
                let stored = try? store.identity()
                var keep = stored.map { identity.hasSameIngest(as: $0) } ?? false
                if keep, let done = try? store.ingestSummary(),
                    DayBuckets.verify(directory: store.bucketsDirectory, expectedEvents: done.rowsAccepted) != nil
                {
                    keep = false
                }
                try store.reset(for: identity, keepingIngest: keep)
            } else {
                store = try StateStore(directory: state)
                if let stored = try store.identity() {
                    let differences = identity.differences(from: stored)
                    if !differences.isEmpty { throw StateError(directory: state, kind: .madeByDifferentRun(differences)) }
                } else {
                    try store.reset(for: identity)
                }
            }
            return (store, lock)
        }

        private func execute(logger: Logger) throws {
            let started = Date()
            let matrixChoice = MatrixChoice(rawValue: matrix)!
            let mode = ThresholdsMode(argument: thresholdsArgument)!
            let timeZone = TimeZone(identifier: tz)!
            // The input is checked before the state folder is touched: a bad input leaves the state as it was.
            try MatrixSource.preflight(input: input)
            let attributes = try FileManager.default.attributesOfItem(atPath: input)
            var identity = RunIdentity(
                inputPath: (input as NSString).standardizingPath,
                inputSize: (attributes[.size] as? NSNumber)?.int64Value ?? 0,
                inputModified: (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0,
                matrix: matrix, rowLimit: rows, thresholds: mode.description, timeZone: tz, output: out)
            identity.dedupe = dedupe ? true : nil

            let (store, lock) = try openState(for: identity)
            defer { withExtendedLifetime(lock) {} }
            let progressLine = ProgressLine(enabled: !quiet && (progress || isatty(STDERR_FILENO) == 1), timeZone: timeZone)
            defer { progressLine.finish() }
            let buckets = try DayBuckets(directory: store.bucketsDirectory, bufferBudgetBytes: memoryBudget << 20)
            let rejectsPath = rejects ?? RunFiles.defaultRejectsPath(in: state)
            let maxBytesValue = ByteCount(argument: maxBytes)!.bytes

            // 1. Ingest, once: the ordering step and the batch thresholds' counts.
            var summary: IngestSummary
            let ingestStarted = Date()
            if let done = try store.ingestSummary() {
                if let damage = buckets.verify(expectedEvents: done.rowsAccepted) {
                    throw StateError(directory: state, kind: .eventsDamaged(detail: damage))
                }
                summary = done
                if !quiet {
                    printError(
                        fresh
                            ? "replay: reusing the ordered event log of an earlier run of the same input (\(done.rowsRead) rows)"
                            : "replay: resuming; ingest already complete (\(done.rowsRead) rows)")
                }
            } else {
                try buckets.removeAll()
                let source = try MatrixSource.open(input: input, matrix: matrixChoice)
                // Rejects go to a .partial file, renamed when the ingest completes: a failed ingest leaves no
                // half-written rejects file (a previous complete one stays as it was).
                let partialRejects = rejectsPath == "-" ? rejectsPath : rejectsPath + ".partial"
                let rejectsOutput = try ByteOutput(path: partialRejects, resumeAt: nil)
                let rejectWriter = JSONRejectsWriter(output: rejectsOutput)
                let diagnostics = InteractionDiagnosticsCollector(spillDirectory: store.bucketsDirectory)
                let metadata = MetadataTables.Pending(input: input)
                logger.info("ingest", metadata: ["input": "\(source.location)"])
                do {
                    summary = try Ingest.run(
                        source: source,
                        options: IngestOptions(rowLimit: rows, timeZone: timeZone, maxBytes: maxBytesValue),
                        buckets: buckets, rejects: rejectWriter, shouldStop: { stopSignalReceived != 0 },
                        progress: { bytes, rows in
                            progressLine.ingest(bytesRead: bytes, total: source.inputFileSize, rows: rows)
                        },
                        observer: diagnostics)
                    try rejectWriter.sync()
                } catch {
                    if partialRejects != rejectsPath { try? FileManager.default.removeItem(atPath: partialRejects) }
                    throw error
                }
                if partialRejects != rejectsPath, rename(partialRejects, rejectsPath) != 0 {
                    throw POSIXFileError(path: rejectsPath, operation: "rename from \(partialRejects)", code: errno)
                }
                let diagnosticsStarted = Date()
                let metadataTables = metadata.wait()
                let metadataWait = Date().timeIntervalSince(diagnosticsStarted)
                try store.recordInteractionDiagnostics(
                    diagnostics.finish(
                        buckets: buckets, days: summary.firstDay.flatMap { a in summary.lastDay.map { a...$0 } },
                        metadata: metadataTables))
                logger.info(
                    "diagnostics",
                    metadata: [
                        "pass_seconds": "\(diagnosticsStarted.timeIntervalSince(ingestStarted))",
                        "metadata_wait_seconds": "\(metadataWait)",
                        "finish_seconds": "\(Date().timeIntervalSince(diagnosticsStarted))",
                    ])
                // After the interaction diagnostics, which are over the rows as read (their second pass reads
                // the buckets as the first pass saw them).
                if dedupe { try Ingest.dropExactDuplicates(in: buckets, summary: &summary) }
                try store.recordIngest(summary)
            }

            let ingestSeconds = Date().timeIntervalSince(ingestStarted)
            // 2. Replay.
            let replayStarted = Date()
            let checkpoint = try store.loadCheckpoint()
            if let checkpoint, !quiet, !checkpoint.progress.finished {
                printError(
                    "replay: resuming from \(checkpoint.progress.nextDay) (\(checkpoint.progress.daysClosed) days closed, \(checkpoint.progress.outputBytes) output bytes committed)")
            }
            let output = try ByteOutput(path: out, resumeAt: checkpoint?.progress.outputBytes)
            let sink = BackgroundRecordSink(wrapping: JSONLinesSink(output: output))
            let replayer = try Replayer(
                summary: summary, buckets: buckets, mode: mode, sink: sink, state: store, resumeFrom: checkpoint,
                checkpointPolicy: CheckpointPolicy(argument: checkpointEvery)!, logger: logger)
            if let speed { replayer.pacer = Pacer(speed: speed) }
            replayer.endOfDay = { $0.endMilliseconds(in: timeZone) }
            let rejectedRows = summary.rowsRejected
            replayer.onProgress = { p, clock in progressLine.replay(p, simulatedMs: clock, rejected: rejectedRows) }
            replayer.observer = PanelDiagnostics(
                users: summary.users, firstDay: summary.firstDay, restoring: checkpoint?.diagnostics)
            var liveReport: LiveReportWriter?
            if let reportPath, case .seconds(let every) = CheckpointPolicy(argument: reportEvery) {
                liveReport = LiveReportWriter(store: store, path: reportPath, interval: every)
                liveReport?.start()
            }
            let outcome = try replayer.run(
                until: until.flatMap { CalendarDay(iso: $0) }, shouldStop: { stopSignalReceived != 0 })
            try liveReport?.stop()

            let report = RunSummary(
                ingest: summary, progress: replayer.progress, mode: mode, outcome: outcome, output: out,
                rejects: rejectsPath, elapsed: Date().timeIntervalSince(started), ingestSeconds: ingestSeconds,
                replaySeconds: Date().timeIntervalSince(replayStarted))
            progressLine.finish()
            if !quiet { printError(report.text) }
            if let summaryJson {
                try report.json().write(to: URL(fileURLWithPath: summaryJson), options: .atomic)
            }
            switch outcome {
            case .finished: break
            case .reachedUntil(let day):
                if !quiet { printError("replay: stopped after \(day) (--until); rerun with a later --until, or none, to continue") }
            case .interrupted:
                printError("replay: stopped with a checkpoint at \(replayer.progress.nextDay); rerun the same command to resume")
                throw ExitCode(ExitCodes.interrupted)
            }
        }
    }
}


/// A byte count given on the command line: `1000`, `500K`, `64M`, `2G`, `1T` (binary multiples).
struct ByteCount {
    /// The number of bytes.
    var bytes: Int64

    /// Parses the argument; nil when it is not a positive count.
    init?(argument text: String) {
        let units: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = Substring(text)
        var scale: Int64 = 1
        if let last = digits.last?.uppercased().first, let unit = units[last] {
            scale = unit
            digits = digits.dropLast()
        }
        guard let n = Int64(digits), n > 0 else { return nil }
        let (product, overflow) = n.multipliedReportingOverflow(by: scale)
        guard !overflow else { return nil }
        bytes = product
    }
}

/// glibc's `mallopt(3)`; `<malloc.h>` is not part of Swift's Glibc module, so it is declared here.
@_silgen_name("mallopt")
func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
/// `M_ARENA_MAX` from `<malloc.h>`.
let glibcArenaMax: Int32 = -8
