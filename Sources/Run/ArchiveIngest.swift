import Foundation
import Logging
import ReplayDiagnostics
import ReplaySink
import ReplayState
import ReplayStream

extension Run<ArchiveRunConfiguration> {
    /// The ingest phase, once per state folder: reuses a completed ingest (checking its buckets are whole), or
    /// reads the input into `buckets`, finishes the interaction diagnostics, drops exact duplicates when asked,
    /// and records the ingest as complete. Without `--dedupe` the diagnostics' second pass is left running
    /// beside the replay instead: the returned ``IngestCompletion`` records the ingest, before
    /// the replay's first checkpoint (nil: the ingest is recorded).
    /// - Throws: ``StateError`` `madeByDifferentRun` when a resumed run's bare input file no longer holds the
    ///   bytes its ingest read (a `--fresh` run ingests again instead: ``StateFolder/open``).
    func ingestOnce(
        into buckets: DayBuckets, store: StateStore, identity: RunIdentity, shouldStop: () -> Bool,
        onEvent: (RunEvent) -> Void
    ) throws -> (summary: IngestSummary, completion: IngestCompletion?) {
        let common = configuration.common
        if let done = try store.ingestSummary() {
            if let damage = buckets.verify(expectedEvents: done.rowsAccepted) {
                throw StateError(directory: common.stateDirectory, kind: .eventsDamaged(detail: damage))
            }
            // The rejects were written by the ingest: a resume naming another file would name a file it never
            // writes (--fresh ingests again and writes it).
            if !common.fresh, let recorded = done.rejects, recorded.path != common.rejectsPath {
                throw StateError(
                    directory: common.stateDirectory,
                    kind: .madeByDifferentRun([.rejects(stored: recorded.path, current: common.rejectsPath)]))
            }
            if !common.fresh, identity.inputContent == nil, let recorded = done.content {
                let now = try rereadContent(as: recorded)
                if now != recorded {
                    throw StateError(
                        directory: common.stateDirectory,
                        kind: .madeByDifferentRun([.inputContent(stored: "\(recorded)", current: "\(now)")]))
                }
            }
            // A run with nothing left to do says so itself (not "resuming"): see ``nothingToDo``.
            if nothingToDo(done, progress: try store.progress()) == nil {
                onEvent(.ingestReused(rows: done.rowsRead, afterReset: common.fresh))
            }
            return (done, nil)
        }
        try buckets.removeAll()
        let started = Date()
        let pass = try readInput(
            into: buckets, store: store, hashesContent: identity.inputContent == nil, shouldStop: shouldStop,
            onEvent: onEvent)
        var summary = pass.summary
        let days = summary.firstDay.flatMap { a in summary.lastDay.map { a...$0 } }
        logger.info("ingest pass", metadata: ["pass_seconds": "\(Date().timeIntervalSince(started))"])
        pass.metadata.runAtNormalPriority()
        // The rejects file is complete once the pass has read every row (`--dedupe` writes nothing to it); its
        // commit (fsync, rename, the folder's fsync) comes before the ingest is recorded.
        let rejectsWritten = pass.rejectsToCommit.map { AtomicFile.partialPath(for: $0) } ?? common.rejectsPath
        summary.rejects = RecordedRejects(path: common.rejectsPath, bytes: Self.fileSize(rejectsWritten) ?? 0)
        if !common.dedupe {
            let completion = IngestCompletion(
                summary: summary, finishing: pass.diagnostics,
                dayFiles: InteractionDiagnosticsCollector.dayFiles(of: buckets, days: days), metadata: pass.metadata,
                committingRejects: pass.rejectsToCommit, buckets: buckets, store: store, logger: logger)
            return (summary, completion)
        }
        if let rejects = pass.rejectsToCommit { try AtomicFile.commitOrDiscard(rejects) }
        try pass.diagnostics.concludeFirstPass()
        let diagnosticsStarted = Date()
        var metadataWait = 0.0
        let interaction = try pass.diagnostics.finish(
            buckets: buckets, days: days,
            metadata: {
                let waitStarted = Date()
                defer { metadataWait = Date().timeIntervalSince(waitStarted) }
                return pass.metadata.wait()
            })
        let payload = try DiagnosticsPayloads.encode(interaction)
        logger.info(
            "diagnostics",
            metadata: [
                "metadata_wait_seconds": "\(metadataWait)",
                "finish_seconds": "\(Date().timeIntervalSince(diagnosticsStarted))",
            ])
        // The bucket files' fsync ran beside the second pass; the ingest is recorded complete only after it.
        try buckets.waitForSync()
        // `--dedupe`, after the interaction diagnostics, which are over the rows as read (their second pass
        // reads the buckets as the first pass saw them).
        try Ingest.dropExactDuplicates(in: buckets, summary: &summary)
        try store.recordIngest(
            encoded: StateStore.encodeIngest(summary), payloads: [DiagnosticsPayloads.interaction: payload])
        return (summary, nil)
    }

    /// True when `done`, a whole ingest of this run's input and options, may stand for this run's (`--fresh`):
    /// - its rejects file is the one this run names, and holds what the ingest wrote (same size). A different
    ///   `--rejects`, or standard output, is not copied but written by ingesting again: the earlier file may
    ///   have been changed or moved since, while an ingest writes exactly this run's rejects;
    /// - for a bare file (no zip directory in `identity`), the CSV bytes read again hash as they did.
    func ingestIsReusable(_ done: IngestSummary, identity: RunIdentity) throws -> Bool {
        let rejects = configuration.common.rejectsPath
        guard rejects != "-", let recorded = done.rejects, recorded.path == rejects,
            Self.fileSize(rejects) == recorded.bytes
        else { return false }
        if identity.inputContent != nil { return true }
        guard let content = done.content else { return false }
        return try rereadContent(as: content) == content
    }

    /// The digest of this run's input read again as far as `recorded`'s read went.
    private func rereadContent(as recorded: ContentDigest) throws -> ContentDigest {
        try recorded.reread(MatrixSource.open(input: configuration.input, matrix: configuration.matrix, inflate: configuration.inflate))
    }

    /// The size of the file at `path`, nil when there is none.
    static func fileSize(_ path: String) -> Int64? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
    }

    /// What the ingest pass leaves for the rest of the phase.
    struct IngestPass {
        var summary: IngestSummary
        var diagnostics: InteractionDiagnosticsCollector
        var metadata: MetadataTables.Pending
        /// The rejects file whose new contents wait in its `.partial` file for ``AtomicFile/commitOrDiscard(_:)``
        /// (nil: written in place, and synced).
        var rejectsToCommit: String?
    }

    /// The ingest pass over the input. Rejects go to a `.partial` file, which the caller commits (renames over
    /// the rejects file: at once under `--dedupe`, else beside the replay, before the ingest is recorded): a
    /// failed pass leaves no half-written rejects file (a previous complete one stays as it was). The side
    /// tables the diagnostics need are read on their own thread meanwhile. `hashesContent`: the CSV's bytes
    /// are hashed (``IngestOptions/hashesContent``: the input has no zip directory to identify it).
    private func readInput(
        into buckets: DayBuckets, store: StateStore, hashesContent: Bool, shouldStop: () -> Bool,
        onEvent: (RunEvent) -> Void
    ) throws -> IngestPass {
        let common = configuration.common
        let rejectsPath = common.rejectsPath
        let source = try MatrixSource.open(input: configuration.input, matrix: configuration.matrix, inflate: configuration.inflate)
        let diagnostics = InteractionDiagnosticsCollector(spillDirectory: store.bucketsDirectory)
        // A pass of a `--rows` sample is shorter than the side tables' read, which its run then waits for: their
        // thread starts at normal priority (at idle priority it made `--rows 300000` ~10% slower).
        let metadata = MetadataTables.Pending(input: configuration.input, idleFirst: configuration.rowLimit == nil)
        logger.info("ingest", metadata: ["input": "\(source.location)", "decompressor": "\(source.decompressor)"])
        /// The pass, its rejects written to `path`, and fsynced there when `syncs` (a partial file is fsynced by
        /// its commit).
        func pass(rejectingTo path: String, syncs: Bool) throws -> IngestSummary {
            let rejectsOutput = try ByteOutput(path: path, resumeAt: nil)
            defer { try? rejectsOutput.close() }  // after the sync below on success; a failed pass's are dropped
            let rejectWriter = JSONRejectsWriter(output: rejectsOutput)
            let summary = try Ingest.run(
                source: source,
                options: IngestOptions(
                    rowLimit: configuration.rowLimit, timeZone: common.timeZone.zone,
                    maxBytes: configuration.maxBytes.bytes, hashesContent: hashesContent),
                buckets: buckets, rejects: rejectWriter, shouldStop: shouldStop,
                progress: { bytes, rows in
                    onEvent(.ingesting(bytesRead: bytes, total: source.expandedSize, rows: rows))
                },
                observer: diagnostics)
            if syncs { try rejectWriter.sync() }
            return summary
        }
        guard rejectsPath != "-", let target = AtomicFile.replaceableFile(rejectsPath) else {
            // Standard output, a device or a FIFO: written in place.
            let summary = try pass(rejectingTo: rejectsPath, syncs: true)
            return IngestPass(summary: summary, diagnostics: diagnostics, metadata: metadata, rejectsToCommit: nil)
        }
        let summary = try AtomicFile.writePartial(of: target) { try pass(rejectingTo: $0, syncs: false) }
        return IngestPass(summary: summary, diagnostics: diagnostics, metadata: metadata, rejectsToCommit: target)
    }
}
