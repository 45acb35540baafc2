import ArgumentParser
import Foundation
import ReplayRun
import ReplayState
import ReplayStream

extension Replay {
    /// `replay status --state DIR`: prints the last checkpoint of a state folder; safe while a run is going.
    struct StatusCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status", abstract: "Print a state folder's checkpoint (works while a run is going).",
            discussion: """
                Reads the state without locking it: safe while a run writes. --json prints the same facts as \
                one JSON object (for scripts and monitoring; counts as numbers, absent facts as null).
                """)

        @Option(name: .long, help: "The state folder.")
        var state: String = RunFiles.defaultStateFolder

        @Flag(name: .long, help: "Print the facts as one JSON object.")
        var json = false

        func validate() throws {
            try refuseEmptyPaths(["--state": state])
        }

        func run() throws {
            try runReportingErrors {
                let facts = try StatusFacts(state: state, store: try StateStore(directory: state, readOnly: true))
                if json {
                    try OutputFile.write(facts.json, to: "-")
                } else {
                    print(facts.text, terminator: "")
                }
            }
        }
    }
}

/// What `replay status` says about a state folder, as text and as JSON: one set of facts for both.
struct StatusFacts: Encodable {
    var state: String
    var runRecorded: Bool
    var liveFeed: Bool?
    var input: String?
    var inputBytes: Int64?
    var matrix: String?
    var rowLimit: Int?
    var output: String?
    var timeZone: String?
    var thresholdsMode: String?
    var liveOptions: String?
    var rowsConsumed: Int?
    var rowsInPanel: Int?
    var rowsRejected: Int?
    var lateRows: Int?
    var revisedRows: Int?
    var openDays: [String]?
    /// A sharded job's instance waiting at the barrier: the day and the partitions not yet in.
    var waitingFor: String?
    var ingestComplete: Bool?
    var ingestRowsRead: Int?
    var firstDay: String?
    var lastDay: String?
    var users: Int?
    var lastClosedDay: String?
    var nextDay: String?
    var eventsReplayed: Int?
    var recordsWritten: Int?
    var finalRecords: Int?
    var outputBytes: Int64?
    var thresholdInteractions: Double?
    var thresholdWatchShare: Double?
    var checkpointAgeSeconds: Double?
    var finished: Bool?
    var heldBy: String?

    enum CodingKeys: String, CodingKey {
        case state, runRecorded = "run_recorded", liveFeed = "live_feed", input, inputBytes = "input_bytes", matrix
        case rowLimit = "row_limit", output, timeZone = "time_zone", thresholdsMode = "thresholds_mode"
        case liveOptions = "live_options", rowsConsumed = "rows_consumed", rowsInPanel = "rows_in_panel", waitingFor = "waiting_for"
        case rowsRejected = "rows_rejected", lateRows = "late_rows", revisedRows = "revised_rows", openDays = "open_days"
        case ingestComplete = "ingest_complete", ingestRowsRead = "ingest_rows_read", firstDay = "first_day"
        case lastDay = "last_day", users, lastClosedDay = "last_closed_day", nextDay = "next_day"
        case eventsReplayed = "events_replayed", recordsWritten = "records_written", finalRecords = "final_records"
        case outputBytes = "output_bytes", thresholdInteractions = "threshold_interactions"
        case thresholdWatchShare = "threshold_watch_share", checkpointAgeSeconds = "checkpoint_age_seconds", finished
        case heldBy = "held_by"
    }

    /// Reads the facts of the folder `state` from `store`.
    init(state: String, store: StateStore) throws {
        self.state = state
        heldBy = ProcessLock.holder(of: state)
        guard let identity = try store.identity() else {
            runRecorded = false
            return
        }
        runRecorded = true
        liveFeed = identity.live != nil
        liveOptions = identity.live
        if identity.live == nil {
            (input, inputBytes, matrix, rowLimit) = (identity.inputPath, identity.inputSize, identity.matrix, identity.rowLimit)
        } else if identity.inputPath.hasPrefix("kafka") {
            input = identity.inputPath
        }
        if let wait = JobWait.read(in: state), heldBy != nil {
            let since = Date(timeIntervalSince1970: wait.since)
            waitingFor = "\(wait.day) waits for job \(wait.job)'s partitions \(wait.partitions.map(String.init).joined(separator: ",")) "
                + "(for \(Int(Date().timeIntervalSince(since))) s: their instance is behind or down)"
        }
        (output, timeZone, thresholdsMode) = (identity.output, identity.timeZone, identity.thresholds)
        if let live = try LiveFeedState(payload: store.payload(named: LiveFeedState.payloadName)) {
            (rowsConsumed, rowsInPanel, rowsRejected) = (live.rowsRead, live.rowsAccepted, live.rowsRejected)
            (lateRows, revisedRows) = (live.lateRows, live.revisedRows)
            if let maxDay = live.maxDay, live.lastClosed.map({ $0 < maxDay }) ?? true {
                openDays = [live.lastClosed.map { "\($0.adding(1))" } ?? live.dayEvents.keys.min().map { "\($0)" } ?? "\(maxDay)", "\(maxDay)"]
            } else {
                openDays = []
            }
        } else if identity.live != nil {
            rowsConsumed = 0
        } else if let ingest = try store.ingestSummary() {
            ingestComplete = true
            (ingestRowsRead, rowsInPanel, rowsRejected) = (ingest.rowsRead, ingest.rowsAccepted, ingest.rowsRejected)
            (firstDay, lastDay, users) = (ingest.firstDay.map { "\($0)" }, ingest.lastDay.map { "\($0)" }, ingest.users.count)
        } else {
            ingestComplete = false
        }
        if let progress = try store.progress() {
            lastClosedDay = progress.daysClosed > 0 ? "\(progress.nextDay.adding(-1))" : nil
            (nextDay, eventsReplayed) = ("\(progress.nextDay)", progress.eventsReplayed)
            (recordsWritten, finalRecords, outputBytes) = (progress.recordsWritten, progress.finalRecords, progress.outputBytes)
            (thresholdInteractions, thresholdWatchShare) = (progress.thresholds?.highIntensity, progress.thresholds?.highWatchShare)
            checkpointAgeSeconds = max(0, Date().timeIntervalSince1970 - progress.committedAt)
            finished = progress.finished
        }
    }

    /// The facts as one JSON object and a newline (every key present; absent facts are null).
    var json: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let object = (try? JSONSerialization.jsonObject(with: (try? encoder.encode(self)) ?? Data())) as? [String: Any] ?? [:]
        var all: [String: Any] = [:]
        for key in CodingKeys.allKeys { all[key] = object[key] ?? NSNull() }
        let data = (try? JSONSerialization.data(withJSONObject: all, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return Array(data) + [0x0A]
    }

    /// The facts as aligned lines of text.
    var text: String {
        var lines: [(String, String)] = [("state", state)]
        guard runRecorded else { return "state \(state): empty (no run recorded)\n" }
        if liveFeed == true {
            let source = input.map { $0.hasPrefix("kafka") ? $0 : nil } ?? nil
            lines.append(("input", "\(source ?? "a live feed on stdin") (\(liveOptions ?? ""))"))
            if let waitingFor { lines.append(("waiting", waitingFor)) }
        } else {
            lines.append(("input", "\(input ?? "") (\(ByteCount.human(inputBytes ?? 0)), matrix \(matrix ?? ""), rows \(rowLimit.map(String.init) ?? "all"))"))
        }
        lines += [("output", output ?? ""), ("time zone", timeZone ?? ""), ("thresholds mode", thresholdsMode ?? "")]
        if let rowsConsumed, liveFeed == true {
            lines.append(("rows consumed", rowsInPanel == nil ? "0 (no checkpoint yet)" : "\(rowsConsumed) (\(rowsInPanel ?? 0) in the panel, \(rowsRejected ?? 0) rejected, \(lateRows ?? 0) late of which \(revisedRows ?? 0) revised in); a resumed feed continues after them (--skip-rows \(rowsConsumed) when re-sent from the start)"))
            if let openDays { lines.append(("open days", openDays.isEmpty ? "none" : openDays.joined(separator: " .. "))) }
        } else if ingestComplete == true {
            lines.append(("ingest", "complete: \(ingestRowsRead ?? 0) rows read, \(rowsInPanel ?? 0) accepted, \(rowsRejected ?? 0) rejected; days \(firstDay ?? "-") .. \(lastDay ?? "-"), \(users ?? 0) users"))
        } else if ingestComplete == false {
            lines.append(("ingest", "not complete"))
        }
        if let nextDay {
            lines.append(("last closed day", lastClosedDay ?? "none"))
            lines.append(("input position", "next day \(nextDay), \(eventsReplayed ?? 0) events replayed"))
            lines.append(("records written", "\(recordsWritten ?? 0) lines (\(finalRecords ?? 0) final), \(ByteCount.human(outputBytes ?? 0)) committed"))
            if let thresholdInteractions, let thresholdWatchShare {
                lines.append(("thresholds", "interactions >= \(thresholdInteractions), high_watch_share >= \(thresholdWatchShare)"))
            }
            lines.append(("checkpoint age", String(format: "%.1f s", checkpointAgeSeconds ?? 0)))
            lines.append(("finished", finished == true ? "yes" : "no"))
        } else {
            lines.append(("checkpoint", "none yet"))
        }
        lines.append(("held by", heldBy ?? "no process"))
        return lines.map { "\(($0.0 + ":").padding(toLength: 18, withPad: " ", startingAt: 0))\($0.1)\n" }.joined()
    }
}

extension StatusFacts.CodingKeys: CaseIterable {
    static var allKeys: [String] { allCases.map(\.rawValue) }
}

extension Replay.StatusCommand: CommandSuggestion.Examples {
    static let examples = [
        "replay status                                   # the default state folder, replay.state",
        "replay status --state run.state --json | jq .records_written",
        "watch -n 1 replay status --state run.state      # while a run is going",
    ]
}
