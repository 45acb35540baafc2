import ArgumentParser
import Foundation
import ReplayRun
import ReplayStream

/// Shows a run on stderr: its messages (unless quiet), the progress line, and at the end the summary and
/// what stopped it.
final class RunReporter {
    private let quiet: Bool
    private let progressLine: ProgressLine

    init(quiet: Bool, showProgress: Bool, timeZone: TimeZone) {
        self.quiet = quiet
        progressLine = ProgressLine(enabled: showProgress, timeZone: timeZone)
    }

    /// Runs `body`, ending the progress line however it ends, so that later messages start on a fresh line.
    func whileRunning<T>(_ body: () throws -> T) throws -> T {
        defer { progressLine.finish() }
        return try body()
    }

    /// Shows one event of the run.
    func handle(_ event: RunEvent) {
        switch event {
        case .ingestReused(let rows, let afterReset):
            say(
                afterReset
                    ? "reusing the ordered event log of an earlier run of the same input (\(rows) rows)"
                    : "resuming; ingest already complete (\(rows) rows)")
        case .ingesting(let bytesRead, let total, let rows):
            progressLine.ingest(bytesRead: bytesRead, total: total, rows: rows)
        case .resuming(let p):
            say("resuming from \(p.nextDay) (\(p.daysClosed) days closed, \(ByteCount.human(p.outputBytes)) of output committed)")
        case .alreadyFinished(let p):
            say(
                "this run already finished (\(p.daysClosed) days closed, every record final): nothing to do; use --fresh to start over")
        case .untilAlreadyReached(let until, let firstDay, let p):
            if until < firstDay {
                say("--until \(until) is before the panel's first day \(firstDay): nothing to close; pass a later --until, or none")
            } else {
                say(
                    "already stopped at --until \(until): nothing to do (\(p.daysClosed) days closed, through \(p.nextDay.adding(-1))); rerun with a later --until, or without it, to go on")
            }
        case .replayPlan(let firstDay, let lastDay, let events, let endMs, let speed):
            progressLine.setPlan(ProgressLine.Plan(firstDay: firstDay, lastDay: lastDay, events: events, endMs: endMs, speed: speed))
        case .replaying(let p, let clock, _):
            progressLine.replay(p, simulatedMs: clock)
        case .liveFeedAlreadyEnded:
            say("this live feed already ended (its input was read to the end); use --fresh to start a new one")
        case .liveFeedResuming(let rows, let days):
            say(
                "resuming a live feed after \(rows) input rows (\(days) days closed); send the rest of the feed (a CSV feed with its header line first), or the whole feed again: its first \(rows) rows are then recognised and skipped")
        case .live(let p, let live):
            progressLine.live(p, live)
        }
    }

    /// Prints the summary (unless quiet), writes it as JSON to `summaryJSON`, and says what stopped the run.
    /// - Throws: the exit code 130 when the run was interrupted.
    func finish(_ result: RunResult, summaryJSON: String?) throws {
        let summary = result.summary
        say(summary.text, prefixed: false)
        if let summaryJSON { try OutputFile.write(Array(summary.json()), to: summaryJSON) }
        switch result.outcome {
        case .finished, .untilAlreadyReached: break
        case .reachedUntil(let day):
            say("stopped after \(day) (--until); rerun with a later --until, or none, to continue")
        case .interrupted:
            if let live = summary.live {
                printError(
                    "replay: stopped with a checkpoint after \(live.rowsRead) input rows (the end of input was not declared); rerun the same command with the rest of the feed (a CSV feed with its header line first), or with the whole feed again: its first \(live.rowsRead) rows are recognised and skipped")
            } else {
                printError("replay: stopped with a checkpoint at \(summary.progress.nextDay); rerun the same command to resume")
            }
            throw ExitStatus.interrupted.code
        }
    }

    /// Prints `text` on stderr unless quiet.
    private func say(_ text: String, prefixed: Bool = true) {
        if !quiet { printError(prefixed ? "replay: \(text)" : text) }
    }
}

extension RunSummary {
    /// The summary as the run prints it: counts grouped by thousands, sizes in binary units, thresholds to four
    /// significant digits (`--summary-json` keeps every exact value).
    var text: String {
        var lines = ["replay summary"]
        lines.append("  input:            \(ingest.inputLocation)")
        lines.append("  rows read:        \(grouped(ingest.rowsRead)) = \(grouped(ingest.rowsAccepted)) in the panel + \(grouped(ingest.rowsRejected)) rejected")
        for (reason, n) in ingest.rejected.sorted(by: { $0.key < $1.key }) {
            lines.append("    rejected \(reason): \(grouped(n))")
        }
        if let live {
            lines.append("  late rows:        \(grouped(live.lateRows)) (\(grouped(live.revisedRows)) revised into their day, \(grouped(live.lateRows - live.revisedRows)) rejected as late or closed by idleness)")
        }
        lines.append("  rejects file:     \(rejects)")
        lines.append("  date label ≠ timestamp day: \(grouped(ingest.dateLabelDisagreements)) rows (the date label is used)")
        if ingest.duplicatesDropped > 0 {
            lines.append("  exact duplicates: \(grouped(ingest.duplicatesDropped)) rows dropped (--dedupe: counted as rejected duplicate, not in the rejects file; the notebook keeps them)")
        } else {
            lines.append("  exact duplicates: \(grouped(progress.duplicateRows)) rows (kept, as the notebook does)")
        }
        lines.append("  panel:            \(grouped(ingest.users.count)) users × \(days) days (\(ingest.firstDay.map { "\($0)" } ?? "-") .. \(ingest.lastDay.map { "\($0)" } ?? "-"))")
        lines.append("  days closed:      \(progress.daysClosed)\(progress.finished ? " (finished: every record final)" : "")")
        let form = "\(format.rawValue)\(emit == .final ? ", final records only" : "")"
        lines.append("  records written:  \(grouped(linesWritten)) lines (\(form)), \(grouped(progress.finalRecords)) final, \(ByteCount.human(progress.outputBytes)) → \(output)")
        if let t = progress.thresholds {
            lines.append("  thresholds (\(mode)): interactions >= \(String(format: "%.4g", t.highIntensity)), high_watch_share >= \(String(format: "%.4g", t.highWatchShare))")
        }
        lines.append(
            "  elapsed:          \(ProgressLine.duration(elapsed)) (ingest \(String(format: "%.1f", ingestSeconds)) s, replay \(String(format: "%.1f", replaySeconds)) s)")
        return lines.joined(separator: "\n")
    }
}
