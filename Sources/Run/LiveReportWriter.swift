import Foundation
import ReplaySink
import ReplayState
import ReplayStream
import Synchronization

/// Keeps an HTML report fresh during a run: every interval, on its own thread, it reads the last checkpoint
/// through a read transaction (the writer is not disturbed) and replaces the file atomically. The page
/// reloads itself at the same interval until the run has finished.
///
/// The owner ends it on every path: ``stop()`` after a run that finished its work (one last write),
/// ``cancel()`` otherwise. Everything it holds is constant or atomic, so it is `Sendable` as checked.
final class LiveReportWriter: Sendable {
    private let store: StateStore
    private let path: String
    private let interval: Double
    /// Signalled to end the thread's wait early (a stop).
    private let wake = DispatchSemaphore(value: 0)
    /// Signalled by the thread as it ends.
    private let finished = DispatchSemaphore(value: 0)
    private let ended = Atomic<Bool>(false)

    /// Starts the periodic writes (the first one at once) on a thread of its own.
    init(store: StateStore, path: String, interval: Double) {
        self.store = store
        self.path = path
        self.interval = interval
        let thread = Thread { [self] in
            repeat { try? write() } while wake.wait(timeout: .now() + interval) == .timedOut
            finished.signal()
        }
        thread.name = "replay.report"
        thread.start()
    }

    /// Stops the periodic writes and writes the report one last time (the run's final state).
    func stop() throws {
        cancel()
        try write()
    }

    /// Stops the periodic writes without a last one (a run that failed); waits for a write in progress.
    /// Idempotent.
    func cancel() {
        guard !ended.exchange(true, ordering: .relaxed) else { return }
        wake.signal()
        finished.wait()
    }

    private func write() throws {
        let report = try DiagnosticsReportLoader.load(from: store)
        let refresh = report.status.phase == "finished" ? nil : interval
        try AtomicFile.write(Array(DiagnosticsHTML.render(report, refreshSeconds: refresh).utf8), to: path)
    }
}
