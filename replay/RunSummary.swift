import Foundation
import ReplayStream

/// The end-of-run summary: rows read, accepted, rejected by reason, duplicates, users, days,
/// records and revisions, thresholds, elapsed time.
struct RunSummary {
    var ingest: IngestSummary
    var progress: ReplayProgress
    var mode: ThresholdsMode
    var outcome: Replayer.Outcome
    var output: String
    var rejects: String
    var elapsed: Double
    var ingestSeconds: Double
    var replaySeconds: Double
    /// A live feed's own counters (nil for an archive).
    var live: LiveFeedState? = nil

    var days: Int {
        guard let a = ingest.firstDay, let b = ingest.lastDay else { return 0 }
        return a.distance(to: b) + 1
    }

    var text: String {
        var lines = ["replay summary"]
        lines.append("  input:            \(ingest.inputLocation)")
        lines.append("  rows read:        \(ingest.rowsRead) = \(ingest.rowsAccepted) in the panel + \(ingest.rowsRejected) rejected")
        for (reason, n) in ingest.rejected.sorted(by: { $0.key < $1.key }) {
            lines.append("    rejected \(reason): \(n)")
        }
        if let live {
            lines.append("  late rows:        \(live.lateRows) (\(live.revisedRows) revised into their day, \(live.lateRows - live.revisedRows) rejected as late)")
        }
        lines.append("  rejects file:     \(rejects)")
        lines.append("  date label ≠ timestamp day: \(ingest.dateLabelDisagreements) rows (the date label is used)")
        if ingest.duplicatesDropped > 0 {
            lines.append("  exact duplicates: \(ingest.duplicatesDropped) rows dropped (--dedupe: counted as rejected duplicate, not in the rejects file; the notebook keeps them)")
        } else {
            lines.append("  exact duplicates: \(progress.duplicateRows) rows (kept, as the notebook does)")
        }
        lines.append("  panel:            \(ingest.users.count) users × \(days) days (\(ingest.firstDay.map { "\($0)" } ?? "-") .. \(ingest.lastDay.map { "\($0)" } ?? "-"))")
        lines.append("  days closed:      \(progress.daysClosed)")
        lines.append("  records written:  \(progress.recordsWritten) lines, \(progress.finalRecords) final, \(progress.outputBytes) bytes → \(output)")
        if let t = progress.thresholds {
            lines.append("  thresholds (\(mode)): interactions >= \(t.highIntensity), high_watch_share >= \(t.highWatchShare)")
        }
        lines.append(
            "  elapsed:          \(String(format: "%.3f", elapsed)) s (ingest \(String(format: "%.3f", ingestSeconds)) s, replay \(String(format: "%.3f", replaySeconds)) s)")
        return lines.joined(separator: "\n")
    }

    func json() throws -> Data {
        var object: [String: Any] = [
            "input": ingest.inputLocation,
            "rows_read": ingest.rowsRead,
            "rows_accepted": ingest.rowsAccepted,
            "rows_rejected": ingest.rowsRejected,
            "rejected_by_reason": ingest.rejected,
            "date_label_disagreements": ingest.dateLabelDisagreements,
            "duplicate_rows": ingest.duplicatesDropped > 0 ? ingest.duplicatesDropped : progress.duplicateRows,
            "duplicates_dropped": ingest.duplicatesDropped,
            "users": ingest.users.count,
            "days": days,
            "first_day": ingest.firstDay.map { "\($0)" } ?? NSNull(),
            "last_day": ingest.lastDay.map { "\($0)" } ?? NSNull(),
            "days_closed": progress.daysClosed,
            "records_written": progress.recordsWritten,
            "final_records": progress.finalRecords,
            "output_bytes": progress.outputBytes,
            "events_replayed": progress.eventsReplayed,
            "thresholds_mode": mode.description,
            "finished": progress.finished,
            "elapsed_seconds": elapsed,
            "ingest_seconds": ingestSeconds,
            "replay_seconds": replaySeconds,
        ]
        if let live {
            object["late_rows"] = live.lateRows
            object["late_rows_revised"] = live.revisedRows
        }
        if let t = progress.thresholds {
            object["thresholds"] = [
                "high_intensity_threshold": t.highIntensity, "high_watch_share_threshold": t.highWatchShare,
            ]
        }
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    }
}
