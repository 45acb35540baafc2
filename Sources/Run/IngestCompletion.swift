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
/// collector's per-user sets are freed as it starts (``InteractionDiagnosticsCollector/concludeFirstPass()``).
///
/// Crash safety: the replay calls ``record()`` before its first checkpoint commits
/// (``Replayer/beforeFirstCheckpoint``; a checkpoint due by wall time is put off until ``isReady``), and the
/// run calls it after a replay that took none, so a state folder never holds a checkpoint without a complete
/// ingest. A run stopped or killed before that point has no complete ingest: its rerun ingests again (the
/// same buckets, the same diagnostics) and replays from the start, as after a kill during the ingest.
///
/// Used by the run's thread only; the pass's thread gets the collector and the day files' paths handed over,
/// and hands back its result through its ``BackgroundTask``.
final class IngestCompletion {
    /// The second pass, on a thread of its own, and what it records: the diagnostics' payload and the summary,
    /// encoded there (their JSON takes ~20 ms on the small matrix, which the event loop's thread would spend at
    /// the first checkpoint).
    private let finishing: BackgroundTask<(payload: [UInt8], summary: [UInt8]), any Error>
    /// The rejects file's commit, on a thread of its own (nil: written in place and synced by the pass).
    private let rejectsCommit: BackgroundTask<Void, POSIXFileError>?
    private let store: StateStore
    private let buckets: DayBuckets
    /// Whether ``record()`` has run, and how it ended.
    private var recorded: Result<Void, any Error>?

    /// Starts the second pass of `collector` (no longer used by the caller) over `dayFiles`, joined with the side
    /// tables of `metadata` once they are read, and the commit of the rejects file `committingRejects` (its new
    /// contents written to its `.partial` file: ``AtomicFile/writePartial(of:_:)``; the fsync, rename and folder
    /// fsync that make it the file take ~30 ms, which the run's thread would spend with both cores idle);
    /// ``record()`` writes the pass's result and `summary` to `store`, once the commit and the fsync of `buckets`
    /// (started by the ingest) have ended.
    init(
        summary: IngestSummary, finishing collector: InteractionDiagnosticsCollector, dayFiles: [URL],
        metadata: MetadataTables.Pending, committingRejects: String?, buckets: DayBuckets, store: StateStore,
        logger: Logger
    ) {
        self.store = store
        self.buckets = buckets
        rejectsCommit = committingRejects.map { path in
            BackgroundTask(name: "replay.rejects-commit") { () throws(POSIXFileError) in try AtomicFile.commitOrDiscard(path) }
        }
        let handed = HandedOver(collector)
        finishing = BackgroundTask(name: "replay.diagnostics", stackSize: 1 << 22) { () throws(any Error) in
            let started = Date()
            var metadataWait = 0.0
            defer {
                logger.info(
                    "diagnostics",
                    metadata: [
                        "metadata_wait_seconds": "\(metadataWait)",
                        "finish_seconds": "\(Date().timeIntervalSince(started))",
                        "beside_replay": "true",
                    ])
            }
            // The first pass's per-user sets are freed first (held while the replay's first days allocate, they
            // would raise the every-revision outputs' peak by 10-20 MB).
            try handed.value.concludeFirstPass()
            let diagnostics = try handed.value.finish(dayFiles: dayFiles) {
                let waitStarted = Date()
                defer { metadataWait = Date().timeIntervalSince(waitStarted) }
                return metadata.wait()
            }
            return (try DiagnosticsPayloads.encode(diagnostics), try StateStore.encodeIngest(summary))
        }
    }

    /// Waits for the second pass and the rejects' commit to end, without recording them: the run calls it on its
    /// way out (a failed run included), so that no thread is still reading the day files or renaming the rejects
    /// when the run returns.
    func settle() {
        _ = finishing.wait()
        _ = rejectsCommit?.wait()
    }

    /// True when ``record()`` would not wait: it has run, or the second pass, the rejects' commit and the buckets'
    /// fsync have ended.
    var isReady: Bool {
        recorded != nil || (finishing.hasEnded && (rejectsCommit?.hasEnded ?? true) && buckets.syncHasEnded)
    }

    /// Waits for the second pass, the rejects' commit and the buckets' fsync, then records the pass's payload and
    /// the summary as the complete ingest, in one transaction; once (later calls return or throw what the first
    /// did).
    /// - Throws: the pass's error (a day file or the spill could not be read), the commit's or the fsync's
    ///   (``POSIXFileError``), or the store's.
    func record() throws {
        if recorded == nil {
            recorded = Result {
                let encoded = try finishing.wait().get()
                try rejectsCommit?.wait().get()
                try buckets.waitForSync()
                try store.recordIngest(encoded: encoded.summary, payloads: [DiagnosticsPayloads.interaction: encoded.payload])
            }
        }
        try recorded!.get()
    }
}
