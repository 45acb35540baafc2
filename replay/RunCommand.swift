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
                """)

        @Argument(help: "The archive, folder or CSV to replay.")
        var input: String

        @Option(name: .long, help: "The state folder (checkpoints, ordered events, rejects).")
        var state: String = "replay.state"

        @Option(name: .long, help: "Where to write the JSON lines (- for stdout).")
        var out: String = "panel.jsonl"

        @Option(name: .long, help: "Which interaction matrix: small or big.")
        var matrix: String = "small"

        @Option(name: .long, help: "Keep only the first N data rows in file order (the notebook used 300000).")
        var rows: Int?

        @Option(name: .long, help: "Treatment thresholds: batch, expanding, or fixed:INTERACTIONS,SHARE.")
        var thresholds: String = "batch"

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
            guard ThresholdsMode(argument: thresholds) != nil else {
                throw ValidationError("--thresholds must be batch, expanding or fixed:INTERACTIONS,SHARE (e.g. fixed:70,0.48)")
            }
            guard TimeZone(identifier: tz) != nil else { throw ValidationError("--tz \(tz) is not an IANA time zone") }
            if let rows, rows < 0 { throw ValidationError("--rows must be at least 0") }
            if let until, CalendarDay(iso: until) == nil { throw ValidationError("--until must be a date YYYY-MM-DD") }
            guard CheckpointPolicy(argument: checkpointEvery) != nil else {
                throw ValidationError("--checkpoint-every must be seconds (1, 0.5s, 500ms) or events (100000ev)")
            }
            guard case .seconds = CheckpointPolicy(argument: reportEvery) else {
                throw ValidationError("--report-every must be seconds (5, 5s, 500ms)")
            }
            if let speed, !(speed > 0 && speed.isFinite) { throw ValidationError("--speed must be a positive number") }
            guard memoryBudget >= 1 else { throw ValidationError("--memory-budget must be at least 1 (MiB)") }
        }

        func run() throws {
            let level = Logger.Level(rawValue: logLevel) ?? .notice
            let logger = bootstrapLogging(level: quiet ? .error : level)
            installStopHandlers()
            do {
                try execute(logger: logger)
            } catch let code as ExitCode {
                throw code
            } catch let error as IngestInterrupted {
                printError("replay: \(error)")
                throw ExitCode(ExitCodes.interrupted)
            } catch let error as InputError {
                printError("replay: \(error)")
                throw ExitCode(ExitCodes.input)
            } catch let error as ArchiveReadError {
                printError("replay: \(error)")
                throw ExitCode(ExitCodes.input)
            } catch let error as CSVFormatError {
                printError("replay: \(error)")
                throw ExitCode(ExitCodes.input)
            } catch let error as StateError {
                printError("replay: \(error)")
                throw ExitCode(error.isDiskFull ? ExitCodes.diskFull : ExitCodes.state)
            } catch let error as POSIXFileError where error.isDiskFull {
                printError("replay: \(error)")
                throw ExitCode(ExitCodes.diskFull)
            } catch let error as LMDBError where error.isDiskFull || error.isMapFull {
                printError("replay: the state database could not grow: \(error); free some space and rerun the same command to resume")
                throw ExitCode(ExitCodes.diskFull)
            } catch {
                printError("replay: \(error)")
                throw ExitCode(ExitCodes.failure)
            }
        }

        private func execute(logger: Logger) throws {
            let started = Date()
            let matrixChoice = MatrixChoice(rawValue: matrix)!
            let mode = ThresholdsMode(argument: thresholds)!
            let timeZone = TimeZone(identifier: tz)!
            guard FileManager.default.fileExists(atPath: input) else {
                throw InputError(input: input, message: "no such file or folder")
            }
            let attributes = try FileManager.default.attributesOfItem(atPath: input)
            let identity = RunIdentity(
                inputPath: (input as NSString).standardizingPath,
                inputSize: (attributes[.size] as? NSNumber)?.int64Value ?? 0,
                inputModified: (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0,
                matrix: matrix, rowLimit: rows, thresholds: mode.description, timeZone: tz, output: out)

            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
            let lock = try ProcessLock(directory: state)
            defer { withExtendedLifetime(lock) {} }
            let store = try StateStore(directory: state)
            if fresh {
                // A fresh run of the same input keeps the ordered event log (no second ingest).
                let stored = try? store.identity()
                let keep = stored.map { identity.hasSameIngest(as: $0) } ?? false
                try store.reset(for: identity, keepingIngest: keep)
            } else if let stored = try store.identity() {
                let differences = identity.differences(from: stored)
                if !differences.isEmpty {
                    throw StateError(
                        directory: state,
                        message: "it was made by a different run — \(differences.joined(separator: "; ")). Use the same options to resume, another --state, or --fresh to discard it")
                }
            } else {
                try store.reset(for: identity)
            }
            let progressLine = ProgressLine(enabled: !quiet && (progress || isatty(STDERR_FILENO) == 1), timeZone: timeZone)
            defer { progressLine.finish() }
            let buckets = try DayBuckets(directory: store.bucketsDirectory, bufferBudgetBytes: memoryBudget << 20)
            let rejectsPath = rejects ?? store.defaultRejectsPath

            // 1. Ingest, once: the ordering step and the batch thresholds' counts.
            var summary: IngestSummary
            let ingestStarted = Date()
            if let done = try store.ingestSummary() {
                summary = done
                if !quiet {
                    printError(
                        fresh
                            ? "replay: reusing the ordered event log of an earlier run of the same input (\(done.rowsRead) rows)"
                            : "replay: resuming; ingest already complete (\(done.rowsRead) rows)")
                }
            } else {
                try buckets.removeAll()
                let rejectsOutput = try ByteOutput(path: rejectsPath, resumeAt: nil)
                let rejectWriter = JSONRejectsWriter(output: rejectsOutput)
                let source = try MatrixSource.open(input: input, matrix: matrixChoice)
                let diagnostics = InteractionDiagnosticsCollector(spillDirectory: store.bucketsDirectory)
                logger.info("ingest", metadata: ["input": "\(source.location)"])
                summary = try Ingest.run(
                    source: source, options: IngestOptions(rowLimit: rows, timeZone: timeZone), buckets: buckets,
                    rejects: rejectWriter, shouldStop: { stopSignalReceived != 0 },
                    progress: { bytes, rows in progressLine.ingest(bytesRead: bytes, total: source.inputFileSize, rows: rows) },
                    observer: diagnostics)
                try rejectWriter.sync()
                let diagnosticsStarted = Date()
                try store.recordInteractionDiagnostics(
                    diagnostics.finish(
                        buckets: buckets, days: summary.firstDay.flatMap { a in summary.lastDay.map { a...$0 } },
                        metadata: MetadataTables.read(input: input)))
                logger.info("diagnostics", metadata: ["finish_seconds": "\(Date().timeIntervalSince(diagnosticsStarted))"])
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
            let sink = JSONLinesSink(output: output)
            let replayer = try Replayer(
                summary: summary, buckets: buckets, mode: mode, sink: sink, state: store, resumeFrom: checkpoint,
                checkpointPolicy: CheckpointPolicy(argument: checkpointEvery)!, logger: logger)
            if let speed { replayer.pacer = Pacer(speed: speed) }
            replayer.endOfDay = { day in
                // The instant local midnight after `day` in --tz.
                let naive = Double(day.adding(1).rawValue) * 86_400
                let offset = Double(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: naive)))
                return Int64((naive - offset) * 1000)
            }
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

