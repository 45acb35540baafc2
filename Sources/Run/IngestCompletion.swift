import Dispatch
import Foundation
import Logging
import ReplayDiagnostics
import ReplayState
import ReplayStream

/// The end of a fresh ingest whose interaction diagnostics' second pass runs on a thread of its own while the
/// replay starts; ``record()`` then records the pass's payload and the ingest as complete.
///
/// Why a thread: the second pass reads every day file again (~0.3 s of one core for KuaiRec's small matrix,
/// 0.6-0.9 s for the big one), and the replay need not wait for it: its first record comes that much sooner.
/// Used for every output but `--dedupe` (which drops duplicates from the buckets after the pass). The
/// collector's per-user sets are freed before it starts (``InteractionDiagnosticsCollector/concludeFirstPass()``):
/// held while the replay's first days allocate, they would raise the every-revision outputs' peak by 10-20 MB
/// (docs/DEVELOPING.md, Performance).
///
/// Crash safety: the replay calls ``record()`` before its first checkpoint commits
/// (``Replayer/beforeFirstCheckpoint``; a checkpoint due by wall time is put off until ``isReady``), and the
/// run calls it after a replay that took none, so a state folder never holds a checkpoint without a complete
/// ingest. A run stopped or killed before that point has no complete ingest: its rerun ingests again (the
/// same buckets, the same diagnostics) and replays from the start, as after a kill during the ingest.
///
/// Used by the run's thread only; the pass's thread gets the collector and the day files' paths handed over,
/// and hands back its result through ``Finishing``.
final class IngestCompletion {
    /// The complete ingest to record.
    private let summary: IngestSummary
    private let finishing: Finishing
    private let store: StateStore
    private let buckets: DayBuckets
    /// Whether ``record()`` has run, and how it ended.
    private var recorded: Result<Void, any Error>?

    /// The second pass's result: written once by its thread, then signalled; read by the run's thread after
    /// the signal.
    private final class Finishing: Sendable {
        let result = TracedMutex<Result<InteractionDiagnostics, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
    }

    /// Starts the second pass of `collector` (no longer used by the caller) over `dayFiles`, joined with the side
    /// tables of `metadata` once they are read; ``record()`` writes its result and `summary` to `store`, once the
    /// fsync of `buckets` (started by the ingest) has ended.
    init(
        summary: IngestSummary, finishing collector: InteractionDiagnosticsCollector, dayFiles: [URL],
        metadata: MetadataTables.Pending, buckets: DayBuckets, store: StateStore, logger: Logger
    ) {
        let finishing = Finishing()
        self.summary = summary
        self.finishing = finishing
        self.store = store
        self.buckets = buckets
        let handed = HandedOver(collector)
        let thread = Thread {
            let started = Date()
            var metadataWait = 0.0
            let result = Result {
                try handed.value.finish(dayFiles: dayFiles) {
                    let waitStarted = Date()
                    defer { metadataWait = Date().timeIntervalSince(waitStarted) }
                    return metadata.wait()
                }
            }
            logger.info(
                "diagnostics",
                metadata: [
                    "metadata_wait_seconds": "\(metadataWait)",
                    "finish_seconds": "\(Date().timeIntervalSince(started))",
                    "beside_replay": "true",
                ])
            finishing.result.withLock { $0 = result }
            finishing.done.signal()
        }
        thread.name = "replay.diagnostics"
        thread.stackSize = 1 << 22
        thread.start()
    }

    /// Waits for the second pass to end, without recording it: the run calls it on its way out (a failed run
    /// included), so that the pass's thread is not still reading the day files when the run returns.
    func settle() {
        finishing.done.wait()
        finishing.done.signal()
    }

    /// True when ``record()`` would not wait: it has run, or the second pass and the buckets' fsync have ended.
    var isReady: Bool {
        recorded != nil || (finishing.result.withLock { $0 != nil } && buckets.syncHasEnded)
    }

    /// Waits for the second pass and the buckets' fsync, then records the pass's payload and the summary as the
    /// complete ingest; once (later calls return or throw what the first did).
    /// - Throws: the pass's error (a day file or the spill could not be read), the fsync's, or the store's.
    func record() throws {
        if recorded == nil {
            recorded = Result {
                settle()
                let diagnostics = try finishing.result.withLock { $0! }.get()
                try store.recordPayload(DiagnosticsPayloads.encode(diagnostics), named: DiagnosticsPayloads.interaction)
                try buckets.waitForSync()
                try store.recordIngest(summary)
            }
        }
        try recorded!.get()
    }
}
