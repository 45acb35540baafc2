import Foundation
import ReplayStream

/// The progress line on stderr, one line redrawn in place with a carriage return, never wider than the
/// terminal.
///
/// The run hands it facts as they change (``ingest(bytesRead:total:rows:)``, ``replay(_:simulatedMs:rejected:)``,
/// ``live(_:_:)``); a thread of its own redraws the line every half second from the latest facts, so rates,
/// ETAs and a live feed's quiet time move even while a paced replay waits or a feed is silent.
/// - ingest: percent of the CSV's size (the zip's directory states it), MiB, rows, ETA;
/// - replay: day N of M, the simulated clock in the run's time zone, percent of the events, events/s, records, ETA;
/// - live feed: the newest event time, the open days, rows, late and rejected rows, records, time since the last row.
final class ProgressLine: Sendable {
    /// The latest facts, the time they came, and the drawing state.
    private struct State {
        var phase = Phase.starting
        var changedAt = 0.0
        var drewSomething = false
        var lastDraw = -1.0
        var stopped = false
        /// Replay rate samples: (time, events) at the start and about a second ago.
        var replayStart: (time: Double, events: Int)?
        var rateSample: (time: Double, events: Int)?
        var rate = 0.0
    }

    private enum Phase {
        case starting
        case ingest(bytesRead: Int64, total: Int64?, rows: Int, startedAt: Double)
        case replay(ReplayProgress, simulatedMs: Int64)
        case live(ReplayProgress, LiveFeedState)
    }

    /// The panel's day range and event count, known once the ingest is done.
    struct Plan: Sendable {
        var firstDay: CalendarDay
        var lastDay: CalendarDay
        var events: Int
        /// The last day's midnight (Unix ms): a paced replay ends when its clock reaches it.
        var endMs: Int64
        /// Simulated seconds per wall second, when paced.
        var speed: Double?
    }

    private let enabled: Bool
    private let timeZone: TimeZone
    /// The facts and the drawing state, read and written only in blocks on ``drawing`` (so its lock is never
    /// contended).
    private let state = TracedMutex(State())
    private let plan = TracedMutex<Plan?>(nil)
    /// The serial queue every fact and every redraw goes through, in order.
    private let drawing = DispatchQueue(label: "replay.progress")
    private let wake = DispatchSemaphore(value: 0)
    private let ended = DispatchSemaphore(value: 0)
    /// How often the line is redrawn.
    static let tick = 0.5

    init(enabled: Bool, timeZone: TimeZone) {
        self.enabled = enabled
        self.timeZone = timeZone
        guard enabled else { return }
        Thread { [self] in
            while !drawing.sync(execute: { state.withLock { $0.stopped } }) {
                _ = wake.wait(timeout: .now() + Self.tick)
                drawing.sync { redraw() }
            }
            ended.signal()
        }.start()
    }

    /// The panel's days and events (the replay's percent, day N of M and ETA come from it).
    func setPlan(_ newPlan: Plan) {
        guard enabled else { return }
        drawing.async { [self] in plan.withLock { $0 = newPlan } }
    }

    func ingest(bytesRead: Int64, total: Int64?, rows: Int) {
        update { state, now in
            var startedAt = now
            if case .ingest(_, _, _, let started) = state.phase { startedAt = started }
            state.phase = .ingest(bytesRead: bytesRead, total: total, rows: rows, startedAt: startedAt)
        }
    }

    func replay(_ progress: ReplayProgress, simulatedMs: Int64) {
        update { state, now in
            state.phase = .replay(progress, simulatedMs: simulatedMs)
            if state.replayStart == nil { state.replayStart = (now, progress.eventsReplayed) }
            if let sample = state.rateSample, now - sample.time >= 1 {
                state.rate = Double(progress.eventsReplayed - sample.events) / (now - sample.time)
                state.rateSample = (now, progress.eventsReplayed)
            } else if state.rateSample == nil {
                state.rateSample = (now, progress.eventsReplayed)
            }
        }
    }

    /// A live feed's counters.
    func live(_ progress: ReplayProgress, _ live: LiveFeedState) {
        update { state, _ in state.phase = .live(progress, live) }
    }

    /// Stops the redrawing and ends the line, so that later messages start on a fresh one.
    func finish() {
        guard enabled else { return }
        let first = drawing.sync {
            state.withLock { state -> Bool in
                defer { state.stopped = true }
                return !state.stopped
            }
        }
        guard first else { return }
        wake.signal()
        ended.wait()
        drawing.sync {
            redraw(force: true)
            if state.withLock({ $0.drewSomething }) { FileHandle.standardError.write(Data("\n".utf8)) }
        }
    }

    /// Applies `change` to the facts on the drawing queue, and wakes the redrawing thread when a redraw is due.
    private func update(_ change: @escaping @Sendable (inout State, Double) -> Void) {
        guard enabled else { return }
        let now = Self.now()
        drawing.async { [self] in
            let due = state.withLock { state -> Bool in
                change(&state, now)
                state.changedAt = now
                return now - state.lastDraw >= Self.tick
            }
            if due { wake.signal() }
        }
    }

    /// Draws the line from the latest facts (on ``drawing``).
    private func redraw(force: Bool = false) {
        let now = Self.now()
        let text = state.withLock { state -> String? in
            guard force || now - state.lastDraw >= Self.tick * 0.9 else { return nil }
            if case .starting = state.phase { return nil }
            state.lastDraw = now
            state.drewSomething = true
            return describe(state, now: now)
        }
        guard let text else { return }
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + Self.fitted(text)).utf8))
    }

    private func describe(_ state: State, now: Double) -> String {
        switch state.phase {
        case .starting: return ""
        case .ingest(let bytes, let total, let rows, let startedAt):
            var parts = ["ingest"]
            if let total, total > 0 {
                let fraction = min(1, Double(bytes) / Double(total))
                parts[0] += " \(Int(fraction * 100))%"
                parts.append("\(Self.mebibytes(bytes)) of \(Self.mebibytes(total)) MiB")
                if fraction > 0.02 { parts.append("ETA \(Self.duration((now - startedAt) * (1 - fraction) / fraction))") }
            } else {
                parts.append("\(Self.mebibytes(bytes)) MiB")
            }
            parts.insert("\(grouped(rows)) rows", at: min(2, parts.count))
            return parts.joined(separator: " · ")
        case .replay(let progress, let simulatedMs):
            return describeReplay(progress, simulatedMs: simulatedMs, state: state, now: now)
        case .live(let progress, let live):
            let newest = live.maxEventMs.map { clock($0) } ?? "no event yet"
            let open = live.lastClosed.map { "open from \($0.adding(1))" } ?? "no day closed"
            return [
                "live · newest \(newest)", open,
                "\(grouped(live.rowsRead)) rows (\(grouped(live.lateRows)) late, \(grouped(live.rowsRejected)) rejected)",
                "\(grouped(progress.recordsWritten)) records", "last row \(Self.duration(now - state.changedAt)) ago",
            ].joined(separator: " · ")
        }
    }

    private func describeReplay(_ progress: ReplayProgress, simulatedMs: Int64, state: State, now: Double) -> String {
        var parts = ["replay"]
        let plan = plan.withLock { $0 }
        if let plan {
            let days = plan.firstDay.distance(to: plan.lastDay) + 1
            let day = min(days, max(1, plan.firstDay.distance(to: progress.nextDay) + 1))
            let fraction = plan.events > 0 ? min(1, Double(progress.eventsReplayed) / Double(plan.events)) : 0
            parts[0] += " day \(day) of \(days) (\(Int(fraction * 100))%)"
        }
        if simulatedMs > 0 { parts.append(clock(simulatedMs)) }
        if let start = state.replayStart, now - start.time >= 1 { parts.append("\(grouped(Int(state.rate.rounded()))) events/s") }
        parts.append("\(grouped(progress.recordsWritten)) records")
        if let plan, let speed = plan.speed, simulatedMs > 0 {
            parts.append("ETA \(Self.duration(Double(max(0, plan.endMs - simulatedMs)) / 1000 / speed))")
        } else if let plan, let start = state.replayStart, now - start.time > 1 {
            let done = progress.eventsReplayed - start.events
            let average = Double(done) / (now - start.time)
            if done > 0, average > 0 { parts.append("ETA \(Self.duration(Double(max(0, plan.events - progress.eventsReplayed)) / average))") }
        }
        return parts.joined(separator: " · ")
    }

    /// `2020-07-16 14:03:22 GMT+8`: an instant in the run's time zone.
    private func clock(_ ms: Int64) -> String {
        let date = Date(timeIntervalSince1970: Double(ms) / 1000)
        var seconds = time_t(floor(Double(ms) / 1000)) + time_t(timeZone.secondsFromGMT(for: date))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let zone = timeZone.abbreviation(for: date) ?? timeZone.identifier
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02d %@", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), zone)
    }

    private static func mebibytes(_ bytes: Int64) -> String { String(format: "%.1f", Double(bytes) / 1_048_576) }

    /// `42 s`, `3:07`, `1:02:03`.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "-" }
        let s = Int(seconds.rounded())
        if seconds < 59.95 { return String(format: "%.1f s", seconds) }
        if s < 3600 { return String(format: "%d:%02d", s / 60, s % 60) }
        return String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
    }

    /// `text` cut to the terminal's width (one column spare, so the cursor never wraps); whole when stderr is
    /// not a terminal.
    static func fitted(_ text: String) -> String {
        var size = winsize()
        guard ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 1 else { return text }
        let width = Int(size.ws_col) - 1
        return text.count <= width ? text : String(text.prefix(max(0, width - 1))) + "…"
    }

    private static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

