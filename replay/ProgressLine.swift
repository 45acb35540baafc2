import Foundation
import ReplayStream

/// The live progress line on stderr: during ingest bytes read of total with an ETA; during the replay
/// the simulated clock, the day being played, events/s, records written and rows rejected.
/// Redrawn at most four times a second with a carriage return.
final class ProgressLine {
    private let enabled: Bool
    private let timeZone: TimeZone
    private var lastDraw = Date.distantPast
    private let started = Date()
    private var replayStarted: Date?
    private var eventsAtReplayStart = 0
    private var drewSomething = false
    private let formatter: DateFormatter

    init(enabled: Bool, timeZone: TimeZone) {
        self.enabled = enabled
        self.timeZone = timeZone
        formatter = DateFormatter()
        formatter.timeZone = timeZone
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
    }

    private func draw(_ text: String, force: Bool = false) {
        guard enabled else { return }
        let now = Date()
        guard force || now.timeIntervalSince(lastDraw) >= 0.25 else { return }
        lastDraw = now
        drewSomething = true
        FileHandle.standardError.write(("\r\u{1B}[K" + text).data(using: .utf8)!)
    }

    func ingest(bytesRead: Int64, total: Int64?, rows: Int) {
        var text = "ingest: \(rows) rows, \(bytesRead >> 20) MiB"
        if let total, total > 0 {
            let fraction = min(1, Double(bytesRead) / Double(total))
            text += " of \(total >> 20) MiB (\(Int(fraction * 100))%)"
            let elapsed = Date().timeIntervalSince(started)
            if fraction > 0.02 { text += ", ETA \(Int(elapsed / fraction - elapsed)) s" }
        }
        draw(text)
    }

    func replay(_ progress: ReplayProgress, simulatedMs: Int64, rejected: Int) {
        if replayStarted == nil {
            replayStarted = Date()
            eventsAtReplayStart = progress.eventsReplayed
        }
        let elapsed = max(0.001, Date().timeIntervalSince(replayStarted!))
        let rate = Int(Double(progress.eventsReplayed - eventsAtReplayStart) / elapsed)
        let clock = simulatedMs > 0 ? formatter.string(from: Date(timeIntervalSince1970: Double(simulatedMs) / 1000)) : "-"
        draw(
            "replay: clock \(clock), playing \(progress.nextDay), \(rate) events/s, \(progress.recordsWritten) records, \(rejected) rows rejected")
    }

    /// A live feed: the newest event time, the next day to close, rows read, late rows, records written.
    func live(_ progress: ReplayProgress, _ live: LiveFeedState) {
        let clock = live.maxEventMs.map { formatter.string(from: Date(timeIntervalSince1970: Double($0) / 1000)) } ?? "-"
        let open = live.lastClosed.map { "\($0.adding(1))" } ?? "-"
        draw(
            "live: newest event \(clock), open from \(open), \(live.rowsRead) rows, \(live.lateRows) late, \(live.rowsRejected) rejected, \(progress.recordsWritten) records")
    }

    /// Ends the line so that later messages start on a fresh one.
    func finish() {
        if enabled && drewSomething { FileHandle.standardError.write("\n".data(using: .utf8)!) }
        drewSomething = false
    }
}
