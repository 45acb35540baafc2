import Dispatch
import Foundation
import Logging
import ReplayDiagnostics
import ReplayState
import ReplayStream
import Synchronization

/// The end of an ingest: the interaction diagnostics' second pass, run on a thread of its own while the replay
/// starts, then the ingest recorded as complete with the diagnostics' payload (``record()``).
///
/// Why a thread: the second pass reads every bucket again (~0.7 s of one core for KuaiRec's big matrix), and
/// the replay that follows keeps one core busy with its event loop: the pass fits beside it.
///
/// Crash safety: the replay calls ``record()`` before its first checkpoint commits
/// (``Replayer/beforeFirstCheckpoint``), so a state folder never holds a replay checkpoint without a complete
/// ingest. A run stopped or killed before that point has no complete ingest: its rerun ingests again (the same
/// buckets, the same diagnostics) and replays from the start, as after a kill during the ingest, cutting the
/// output back to nothing.
///
/// Used by the run's thread only; the pass's thread gets the collector handed over and hands back its result
/// through a lock.
final class IngestCompletion {
    /// The complete ingest to record (set by the ingest before the replay may call ``record()``).
    var summary: IngestSummary?
    private let finishing: Finishing?
    private let store: StateStore?
    /// Whether ``record()`` has run, and how it ended.
    private var recorded: Result<Void, any Error>?

    /// The second pass's result, behind a lock: written by its thread, taken by the run's.
    private final class Finishing: Sendable {
        let result = Mutex<Result<InteractionDiagnostics, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
    }

    /// An ingest already recorded complete (reused from an earlier run): ``record()`` does nothing.
    static func alreadyRecorded() -> IngestCompletion { IngestCompletion() }

    private init() {
        finishing = nil
        store = nil
        recorded = .success(())
    }

    /// Starts the second pass of `collector` (no longer used by the caller) over `dayFiles`, joined with the side
    /// tables of `metadata` once they are read; ``record()`` writes its result and the ``summary`` to `store`.
    init(
        finishing collector: InteractionDiagnosticsCollector, dayFiles: [URL], metadata: MetadataTables.Pending,
        store: StateStore, logger: Logger
    ) {
        let finishing = Finishing()
        self.finishing = finishing
        self.store = store
        let handed = HandedOver(collector)
        let thread = Thread {
            let started = Date()
            let tables = metadata.wait()
            let metadataWait = Date().timeIntervalSince(started)
            let result = Result { try handed.value.finish(dayFiles: dayFiles, metadata: tables) }
            logger.info(
                "diagnostics",
                metadata: [
                    "metadata_wait_seconds": "\(metadataWait)",
                    "finish_seconds": "\(Date().timeIntervalSince(started))",
                ])
            finishing.result.withLock { $0 = result }
            finishing.done.signal()
        }
        thread.stackSize = 1 << 22
        thread.start()
    }

    /// Waits for the second pass and returns its tables.
    /// - Throws: the pass's error (a bucket or the spill could not be read).
    func diagnostics() throws -> InteractionDiagnostics {
        guard let finishing else { preconditionFailure("an ingest recorded earlier has no second pass") }
        finishing.done.wait()
        finishing.done.signal()
        return try finishing.result.withLock { $0! }.get()
    }

    /// Waits for the second pass to end, without recording it: the run calls it on its way out (a failed run
    /// included), so that the pass's thread is not still reading the buckets when the run returns.
    func settle() {
        guard let finishing else { return }
        finishing.done.wait()
        finishing.done.signal()
    }

    /// Waits for the second pass, then records its payload and ``summary`` as the complete ingest; once (later
    /// calls return or throw what the first did).
    /// - Throws: the pass's error, or the state store's.
    func record() throws {
        if recorded == nil {
            recorded = Result {
                guard let store, let summary else { preconditionFailure("the ingest's summary is set before it is recorded") }
                try store.recordPayload(DiagnosticsPayloads.encode(diagnostics()), named: DiagnosticsPayloads.interaction)
                try store.recordIngest(summary)
            }
        }
        try recorded!.get()
    }
}
