import ArgumentParser
import Foundation
import ReplayState
import ReplayStream

extension Replay {
    /// `replay status --state DIR`: prints the last checkpoint of a state folder; safe while a run is going.
    struct StatusCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status", abstract: "Print a state folder's checkpoint (works while a run is going).")

        @Option(name: .long, help: "The state folder.")
        var state: String

        func validate() throws {
            try refuseEmptyPaths(["--state": state])
        }

        func run() throws {
            try runReportingErrors { try show(try StateStore(directory: state, readOnly: true)) }
        }

        /// Prints the folder's identity, input position and last checkpoint.
        private func show(_ store: StateStore) throws {
            guard let identity = try store.identity() else {
                print("state \(state): empty (no run recorded)")
                return
            }
            print("state:            \(state)")
            if let live = identity.live {
                print("input:            a live feed on stdin (\(live))")
            } else {
                print("input:            \(identity.inputPath) (\(identity.inputSize) bytes, matrix \(identity.matrix), rows \(identity.rowLimit.map(String.init) ?? "all"))")
            }
            print("output:           \(identity.output)")
            print("time zone:        \(identity.timeZone)")
            print("thresholds mode:  \(identity.thresholds)")
            if let live = try LiveFeedState(payload: store.payload(named: LiveFeedState.payloadName)) {
                print("rows consumed:    \(live.rowsRead) (\(live.rowsAccepted) in the panel, \(live.rowsRejected) rejected, \(live.lateRows) late of which \(live.revisedRows) revised in); a resumed feed continues after them (--skip-rows \(live.rowsRead) when re-sent from the start)")
                if let maxDay = live.maxDay, live.lastClosed.map({ $0 < maxDay }) ?? true {
                    print("open days:        \(live.lastClosed.map { "\($0.adding(1))" } ?? "every day seen (none closed yet)") .. \(maxDay)")
                } else {
                    print("open days:        none")
                }
            } else if identity.live != nil {
                print("rows consumed:    0 (no checkpoint yet)")
            } else if let ingest = try store.ingestSummary() {
                print("ingest:           complete: \(ingest.rowsRead) rows read, \(ingest.rowsAccepted) accepted, \(ingest.rowsRejected) rejected; days \(ingest.firstDay.map { "\($0)" } ?? "-") .. \(ingest.lastDay.map { "\($0)" } ?? "-"), \(ingest.users.count) users")
            } else {
                print("ingest:           not complete")
            }
            if let progress = try store.progress() {
                let lastClosed = progress.nextDay.adding(-1)
                print("last closed day:  \(progress.daysClosed > 0 ? "\(lastClosed)" : "none")")
                print("input position:   next day \(progress.nextDay), \(progress.eventsReplayed) events replayed")
                print("records written:  \(progress.recordsWritten) lines (\(progress.finalRecords) final), \(progress.outputBytes) bytes committed")
                if let t = progress.thresholds {
                    print("thresholds:       interactions >= \(t.highIntensity), high_watch_share >= \(t.highWatchShare)")
                }
                let age = Date().timeIntervalSince1970 - progress.committedAt
                print("checkpoint age:   \(String(format: "%.1f", age)) s")
                print("finished:         \(progress.finished ? "yes" : "no")")
            } else {
                print("checkpoint:       none yet")
            }
            print("held by:          \(ProcessLock.holder(of: state) ?? "no process")")
        }
    }
}
