import ArgumentParser
import Foundation
import Logging
import ReplaySink
import ReplayState
import ReplayStream

extension Replay.RunCommand {
    /// `replay run -`: a live feed on stdin, through the watermark and the same event loop.
    func executeLive(logger: Logger) throws {
        let started = Date()
        let mode = ThresholdsMode(argument: thresholdsArgument)!
        let timeZone = TimeZone(identifier: tz)!
        var options = LiveOptions(timeZone: timeZone)
        options.allowedLatenessMs = Int64((DurationArgument(allowedLateness)!.seconds * 1000).rounded())
        options.idleCloseSeconds = idleClose.flatMap { DurationArgument($0)?.seconds }
        options.latePolicy = LatePolicy(rawValue: latePolicy)!
        options.reviseWindowDays = reviseWindow
        options.dedupe = dedupe
        options.skipRows = skipRows

        var identity = RunIdentity(
            inputPath: "-", inputSize: 0, inputModified: 0, matrix: "-", rowLimit: nil, thresholds: mode.description,
            timeZone: tz, output: out)
        identity.dedupe = dedupe ? true : nil
        identity.live = options.identity
        let (store, lock) = try openState(for: identity)
        defer { withExtendedLifetime(lock) {} }
        let progressLine = ProgressLine(enabled: !quiet && (progress || isatty(STDERR_FILENO) == 1), timeZone: timeZone)
        defer { progressLine.finish() }

        let checkpoint = try store.loadCheckpoint()
        if let checkpoint, !quiet {
            if checkpoint.live?.ended == true {
                printError("replay: this live feed already ended (its input was read to the end); use --fresh to start a new one")
            } else if let live = checkpoint.live {
                printError(
                    "replay: resuming a live feed after \(live.rowsRead) input rows (\(checkpoint.progress.daysClosed) days closed); the input should continue after them (or pass --skip-rows \(live.rowsRead) when re-sending it from the start)")
            }
        }
        let rejectsPath = rejects ?? RunFiles.defaultRejectsPath(in: state)
        let rejectsOutput = try ByteOutput(path: rejectsPath, resumeAt: checkpoint?.live?.rejectsBytes)
        let rejectWriter = JSONRejectsWriter(output: rejectsOutput)
        let output = try ByteOutput(path: out, resumeAt: checkpoint?.progress.outputBytes)
        let sink = BackgroundRecordSink(wrapping: JSONLinesSink(output: output))
        let buckets = try DayBuckets(directory: store.bucketsDirectory, bufferBudgetBytes: memoryBudget << 20)
        let feed = try LiveFeed(
            options: options, mode: mode, sink: sink, state: store, buckets: buckets, rejects: rejectWriter,
            resumeFrom: checkpoint, checkpointPolicy: CheckpointPolicy(argument: checkpointEvery)!, logger: logger)
        feed.onProgress = { p, live in progressLine.live(p, live) }
        let input = LiveInput(fd: STDIN_FILENO, format: inputFormat.flatMap(LiveInputFormat.init(rawValue:)), timeZone: timeZone)
        logger.info("live feed", metadata: ["lateness_ms": "\(options.allowedLatenessMs)", "policy": "\(options.latePolicy)"])
        let outcome = try feed.run(input: input, shouldStop: { stopSignalReceived != 0 })

        let live = feed.live
        var ingest = IngestSummary()
        ingest.inputLocation = "stdin (\(input.format?.rawValue ?? "no rows"))"
        ingest.rowsRead = live.rowsRead
        ingest.rowsAccepted = live.rowsAccepted
        ingest.rejected = live.rejected
        ingest.dateLabelDisagreements = live.dateLabelDisagreements
        ingest.firstDay = live.firstDay
        ingest.lastDay = live.lastClosed
        ingest.users = feed.users
        let report = RunSummary(
            ingest: ingest, progress: feed.progress, mode: mode, outcome: outcome == .finished ? .finished : .interrupted,
            output: out, rejects: rejectsPath, elapsed: Date().timeIntervalSince(started), ingestSeconds: 0,
            replaySeconds: Date().timeIntervalSince(started), live: live)
        progressLine.finish()
        if !quiet { printError(report.text) }
        if let summaryJson {
            try report.json().write(to: URL(fileURLWithPath: summaryJson), options: .atomic)
        }
        if outcome == .interrupted {
            printError(
                "replay: stopped with a checkpoint after \(live.rowsRead) input rows (the end of input was not declared); rerun the same command with the rest of the feed, or re-send it from the start with --skip-rows \(live.rowsRead)")
            throw ExitCode(ExitCodes.interrupted)
        }
    }
}

/// A duration given on the command line: `0`, `500ms`, `30s`, `10m`, `1h`, `2d`, or a bare number of seconds.
struct DurationArgument {
    /// The duration in seconds.
    var seconds: Double

    /// Parses the argument; nil when it is not a non-negative duration.
    init?(_ text: String) {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let v = Double(text.dropLast(suffix.count)), v >= 0, v.isFinite else { return nil }
            seconds = v * scale
            return
        }
        guard let v = Double(text), v >= 0, v.isFinite else { return nil }
        seconds = v
    }
}
