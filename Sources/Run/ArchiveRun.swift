import Foundation
import Logging
import ReplayDiagnostics
import ReplaySink
import ReplayState
import ReplayStream

/// A run over an archive, a folder or an interactions CSV: opens (or resumes) the state folder, ingests the
/// input once into ordered day buckets, then replays them day by day into the panel file, checkpointing as it
/// goes. Rerunning the same configuration resumes from the last checkpoint.
public typealias ArchiveRun = Run<ArchiveRunConfiguration>

extension Run<ArchiveRunConfiguration> {
    /// Runs until the end of the log, the ``ArchiveRunConfiguration/until`` day, or a stop request.
    /// - Parameters:
    ///   - shouldStop: polled at safe points (between ingest blocks, inside and between days); true stops the
    ///     run there (an ingest is abandoned and throws ``IngestInterrupted``, a replay commits a checkpoint).
    ///   - onEvent: told where the run starts from and how it progresses, on the calling thread.
    /// - Throws: ``InputError``, ``ArchiveReadError``, ``CSVFormatError``, ``IngestLimitError`` (the input is
    ///   unusable; checked before the state folder is touched where it can be), ``StateError`` (the folder is
    ///   refused), ``IngestInterrupted``, and the writers' ``POSIXFileError``s.
    public func run(
        shouldStop: @escaping () -> Bool = { false }, onEvent: @escaping (RunEvent) -> Void = { _ in }
    ) throws -> RunResult {
        let started = Date()
        let common = configuration.common
        // The input is checked before the state folder is touched: a bad input leaves the state as it was.
        try MatrixSource.preflight(input: configuration.input)
        let joined = try JoinedTables.load(common.joins, from: configuration.input)
        let identity = try identity()
        let folder = try StateFolder.open(
            directory: common.stateDirectory, for: identity, fresh: common.fresh,
            freshPayloads: try RunOutput.freshClaim(path: common.output, messages: common.messageOutput),
            ingestIsReusable: { try ingestIsReusable($0, identity: identity) })
        defer { withExtendedLifetime(folder) {} }
        let buckets = try DayBuckets(
            directory: folder.store.bucketsDirectory, bufferBudgetBytes: common.memoryBudgetBytes)
        defer { buckets.settleWrites() }

        let ingestStarted = Date()
        let (ingest, completion) = try ingestOnce(
            into: buckets, store: folder.store, identity: identity, shouldStop: shouldStop, onEvent: onEvent)
        // On every path the second pass running beside the replay ends before the run returns.
        defer { completion?.settle() }
        let replayStarted = Date()
        let (outcome, progress) = try replay(
            ingest, completion: completion, from: buckets, store: folder.store, joined: joined,
            shouldStop: shouldStop, onEvent: onEvent)
        // Recorded before the replay's first checkpoint; a replay that took none records it here.
        try completion?.record()

        let summary = RunSummary(
            ingest: ingest, progress: progress, mode: common.thresholds, output: common.output,
            rejects: common.rejectsPath, elapsed: Date().timeIntervalSince(started),
            ingestSeconds: replayStarted.timeIntervalSince(ingestStarted),
            replaySeconds: Date().timeIntervalSince(replayStarted), format: common.format, emit: common.emit)
        return RunResult(outcome: outcome, summary: summary)
    }

    /// What produced the state folder: the input as it is now and every option that changes the output.
    private func identity() throws -> RunIdentity {
        let common = configuration.common
        let attributes = try FileManager.default.attributesOfItem(atPath: configuration.input)
        var identity = RunIdentity(
            inputPath: (configuration.input as NSString).standardizingPath,
            inputSize: (attributes[.size] as? NSNumber)?.int64Value ?? 0,
            inputModified: (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0,
            matrix: configuration.matrix.rawValue, rowLimit: configuration.rowLimit,
            thresholds: common.thresholds.description, timeZone: common.timeZone.name, output: common.output)
        identity.dedupe = common.dedupe
        identity.outputForm = common.outputForm
        identity.joins = JoinedTables.identity(common.joins, source: nil)
        // A zip is identified by its central directory at no cost; a bare file by the bytes the ingest hashes.
        if !(attributes[.type] as? FileAttributeType == .typeDirectory) {
            identity.inputContent = ZipDirectory.fingerprint(path: configuration.input)
        }
        return identity
    }

    /// The replay phase: from the last checkpoint (if any) to the end, the `until` day or a stop request. The
    /// ingest's `completion`, if any, is recorded before the first checkpoint commits.
    private func replay(
        _ ingest: IngestSummary, completion: IngestCompletion?, from buckets: DayBuckets, store: StateStore,
        joined: JoinedTables, shouldStop: @escaping () -> Bool, onEvent: @escaping (RunEvent) -> Void
    ) throws -> (RunOutcome, ReplayProgress) {
        let common = configuration.common
        let timeZone = common.timeZone.zone
        let checkpoint = try store.loadCheckpoint(payloads: [DiagnosticsPayloads.panel])
        if let nothing = nothingToDo(ingest, progress: checkpoint?.progress, onEvent: onEvent) { return nothing }
        if let checkpoint { onEvent(.resuming(checkpoint.progress)) }
        let output = try RunOutput.open(
            path: common.output, checkpoint: checkpoint, store: store, fresh: common.fresh, messages: common.messageOutput,
            directWriteBytes: RunOutput.archiveDirectWriteBytes(emit: common.emit))
        let records = try RecordPipeline(into: output, for: common, context: joined.columns, expectedUsers: ingest.users.count)
        let sink = records.sink
        // On every path: rendering ends, then the file closes (what a checkpoint promised is already durable,
        // and the replayer waits for its checkpoints before it returns or throws).
        defer {
            records.stop()
            try? output.close()
        }
        let replayer = try Replayer(
            summary: ingest, buckets: buckets, mode: common.thresholds, timeZone: timeZone, sink: sink, state: store,
            resumeFrom: checkpoint,
            checkpointPolicy: common.checkpointPolicy,
            logger: logger)
        if let speed = configuration.speed { replayer.pacer = Pacer(speed: speed) }
        replayer.itemContext = joined.itemContext
        // Final-only output keeps no renderings of open records (~23 MB for the big matrix): room for the next
        // day's buffers, read and ordered while a day is played (the event loop is this output's bottleneck).
        replayer.readsAhead = common.emit == .final
        if let completion {
            replayer.beforeFirstCheckpoint = FirstCheckpointPrerequisite(
                isReady: { completion.isReady }, record: completion.record)
        }
        let rejected = ingest.rowsRejected
        replayer.onProgress = { p, clock in onEvent(.replaying(p, simulatedMs: clock, rowsRejected: rejected)) }
        if let firstDay = ingest.firstDay, let lastDay = ingest.lastDay {
            onEvent(
                .replayPlan(
                    firstDay: firstDay, lastDay: lastDay, events: ingest.rowsAccepted,
                    endMs: lastDay.endMilliseconds(in: timeZone), speed: configuration.speed))
        }
        let diagnostics = try PanelDiagnostics(users: ingest.users, firstDay: ingest.firstDay, restoringFrom: checkpoint)
        diagnostics.observeJoins(userFeatureUsers: joined.userFeatureUsers, itemContext: joined.itemContext != nil)
        replayer.observer = diagnostics
        let report = configuration.report.map {
            LiveReportWriter(store: store, path: $0.path, interval: $0.interval.seconds)
        }
        defer { report?.cancel() }
        let outcome = try replayer.run(until: configuration.until, shouldStop: shouldStop)
        try report?.stop()
        return (RunOutcome(outcome), replayer.progress)
    }
}

extension Run<ArchiveRunConfiguration> {
    /// The outcome and progress of a run that has nothing to do, said through `onEvent`; nil when it has work.
    /// A finished run stays finished; a run whose `--until` day is already closed, or before the panel's
    /// first day, closes nothing (the output is not even opened): rerunning with the same `--until` is a no-op.
    func nothingToDo(
        _ ingest: IngestSummary, progress stored: ReplayProgress?, onEvent: (RunEvent) -> Void = { _ in }
    ) -> (RunOutcome, ReplayProgress)? {
        if let stored, stored.finished {
            onEvent(.alreadyFinished(stored))
            return (.finished, stored)
        }
        guard let until = configuration.until, let firstDay = ingest.firstDay else { return nil }
        let progress = stored ?? ReplayProgress(nextDay: firstDay)
        // Days before `nextDay` are closed; before any checkpoint, `nextDay` is the first day.
        guard progress.nextDay > until else { return nil }
        onEvent(.untilAlreadyReached(until: until, firstDay: firstDay, progress: progress))
        return (.untilAlreadyReached(until), progress)
    }
}

extension RunOutcome {
    /// The run's outcome for the replayer's.
    init(_ outcome: Replayer.Outcome) {
        switch outcome {
        case .finished: self = .finished
        case .reachedUntil(let day): self = .reachedUntil(day)
        case .interrupted: self = .interrupted
        }
    }
}
