import Foundation
import ReplaySink
import ReplayState
import ReplayStream

/// Keeps an HTML report fresh during a run: every interval, on its own queue, it reads the last checkpoint
/// through a read transaction (the writer is not disturbed) and replaces the file atomically. The page
/// reloads itself at the same interval until the run has finished.
///
/// `@unchecked Sendable`: after `init` its state is touched only on `queue` (the timer's handler, and
/// `stop()` through `queue.sync`); the store is read there through LMDB read transactions, which may run
/// beside the run's writes.
final class LiveReportWriter: @unchecked Sendable {
    private let store: StateStore
    private let path: String
    private let interval: Double
    private let timer: DispatchSourceTimer
    private let queue = DispatchQueue(label: "replay.report")

    init(store: StateStore, path: String, interval: Double) {
        self.store = store
        self.path = path
        self.interval = interval
        timer = DispatchSource.makeTimerSource(queue: queue)
    }

    /// Starts the periodic writes (the first one at once).
    func start() {
        timer.schedule(deadline: .now(), repeating: interval)
        timer.setEventHandler { [self] in try? write() }
        timer.resume()
    }

    /// Stops the periodic writes and writes the report one last time (the run's final state).
    func stop() throws {
        timer.cancel()
        try queue.sync { try write() }
    }

    /// Stops the periodic writes without a last one (a run that failed); waits for a write in progress.
    func cancel() {
        timer.cancel()
        queue.sync {}
    }

    private func write() throws {
        let report = try DiagnosticsReportLoader.load(from: store)
        let refresh = report.status.phase == "finished" ? nil : interval
        try AtomicFile.write(Array(DiagnosticsHTML.render(report, refreshSeconds: refresh).utf8), to: path)
    }
}
