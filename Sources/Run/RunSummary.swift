import Foundation
import ReplaySink
import ReplayStream

/// The end-of-run summary: rows read, accepted, rejected by reason, duplicates, users, days, records and
/// revisions, thresholds, elapsed time. ``json()`` is the machine form (`--summary-json`).
public struct RunSummary: Sendable {
    /// The ingest's counts (for a live feed, built from its own counters).
    public var ingest: IngestSummary
    /// The replay's progress at the end.
    public var progress: ReplayProgress
    /// The thresholds mode.
    public var mode: ThresholdsMode
    /// The output path.
    public var output: String
    /// The rejects file.
    public var rejects: String
    /// Seconds: the whole run, the ingest phase, the replay phase.
    public var elapsed: Double
    public var ingestSeconds: Double
    public var replaySeconds: Double
    /// A live feed's own counters (nil for an archive).
    public var live: LiveFeedState?
    /// The output's format and which revisions it holds.
    public var format: PanelFormat = .jsonl
    public var emit: EmitPolicy = .all

    /// Record lines in the output: every revision, or under `--emit final` the final ones.
    public var linesWritten: Int { emit == .final ? progress.finalRecords : progress.recordsWritten }

    /// Days from the first to the last day of the panel.
    public var days: Int {
        guard let a = ingest.firstDay, let b = ingest.lastDay else { return 0 }
        return a.distance(to: b) + 1
    }

    /// The summary as a JSON object (sorted keys, pretty-printed).
    public func json() throws -> Data {
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
            "records_written": linesWritten,
            "revisions_emitted": progress.recordsWritten,
            "format": format.rawValue,
            "emit": emit.rawValue,
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
