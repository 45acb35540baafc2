import Foundation
import Logging
import ReplayDiagnostics
import ReplaySink
import ReplayState
import ReplayStream

/// A live feed: rows in arrival order from a descriptor (standard input), through the watermark and the same
/// event loop as an archive. A day closes when the newest event time minus the allowed lateness passes its
/// midnight, or after the idle close without rows; the end of input closes every day. Rerunning the same
/// configuration resumes after the rows the last checkpoint consumed.
public typealias LiveRun = Run<LiveRunConfiguration>

extension Run<LiveRunConfiguration> {
    /// Reads the feed until its end or a stop request.
    /// - Parameters:
    ///   - shouldStop: polled between reads and days; true stops the feed with a checkpoint committed.
    ///   - onEvent: told where the feed resumes from and how it progresses, on the calling thread.
    /// - Throws: ``CSVFormatError`` (a bad header, an over-long line), ``StateError`` (the folder is refused),
    ///   and the writers' ``POSIXFileError``s.
    public func run(
        shouldStop: @escaping () -> Bool = { false }, onEvent: @escaping (RunEvent) -> Void = { _ in }
    ) throws -> RunResult {
        let started = Date()
        let common = configuration.common
        let options = configuration.liveOptions
        // The side tables are read before the state folder is touched: a bad archive leaves the state as it was.
        let joined = try common.joins.sideTables.map { try JoinedTables.load(common.joins, from: $0) } ?? JoinedTables()
        let folder = try StateFolder.open(
            directory: common.stateDirectory, for: identity(options), fresh: common.fresh,
            freshPayloads: try RunOutput.freshClaim(path: common.output, messages: common.messageOutput))
        defer { withExtendedLifetime(folder) {} }
        let store = folder.store
        let positioned = configuration.positionedInput
        let checkpoint = try store.loadCheckpoint(
            payloads: [LiveFeedState.payloadName] + DiagnosticsPayloads.all + (positioned.map { [$0.payloadName] } ?? []))
        let resumed = try LiveFeedState(checkpoint: checkpoint)
        if let checkpoint, let live = resumed {
            onEvent(
                live.ended
                    ? .liveFeedAlreadyEnded
                    : .liveFeedResuming(rowsRead: live.rowsRead, daysClosed: checkpoint.progress.daysClosed))
        }
        let rejectsOutput = try ByteOutput(path: common.rejectsPath, resumeAt: resumed?.rejectsBytes)
        defer { try? rejectsOutput.close() }
        let output = try RunOutput.open(
            path: common.output, checkpoint: checkpoint, store: store, fresh: common.fresh, messages: common.messageOutput)
        let records = try RecordPipeline(into: output, for: common, context: joined.columns)
        let sink = records.sink
        // On every path: rendering ends, then the file closes (what a checkpoint promised is already durable,
        // and the feed waits for its checkpoints before it returns or throws).
        defer {
            records.stop()
            try? output.close()
        }
        let buckets = try DayBuckets(directory: store.bucketsDirectory, bufferBudgetBytes: common.memoryBudgetBytes)
        defer { buckets.settleWrites() }
        let feed = try LiveFeed(
            options: options, mode: common.thresholds, sink: sink,
            state: store, buckets: buckets, rejects: JSONRejectsWriter(output: rejectsOutput),
            resumeFrom: checkpoint,
            checkpointPolicy: common.checkpointPolicy,
            logger: logger)
        feed.onProgress = { p, live in onEvent(.live(p, live)) }
        feed.itemContext = joined.itemContext
        let diagnostics = try Self.attachDiagnostics(to: feed, store: store, checkpoint: checkpoint, joined: joined)
        defer { diagnostics?.close() }
        let input: LiveInput
        var closeInput: () -> Void = {}
        defer { closeInput() }
        var closeExchange: () -> Void = {}
        defer { closeExchange() }
        if let factory = configuration.thresholdsExchange {
            let made = try factory.make()
            closeExchange = made.close
            feed.thresholdsExchange = made.exchange
        }
        if let positioned {
            let made = try positioned.make(checkpoint?.payloads[positioned.payloadName])
            closeInput = made.close
            feed.positionedInput = made.position
            input = LiveInput(source: made.bytes, format: .jsonl, timeZone: common.timeZone.zone, name: positioned.name)
        } else {
            input = LiveInput(
                fd: configuration.inputDescriptor, format: configuration.inputFormat, timeZone: common.timeZone.zone,
                name: configuration.inputName)
        }
        logger.info("live feed", metadata: ["lateness_ms": "\(options.allowedLatenessMs)", "policy": "\(options.latePolicy)"])
        let report = configuration.report.map {
            LiveReportWriter(store: store, path: $0.path, interval: $0.interval.seconds)
        }
        defer { report?.cancel() }
        let outcome = try feed.run(input: input, shouldStop: shouldStop)
        try report?.stop()
        return RunResult(
            outcome: outcome == .finished ? .finished : .interrupted,
            summary: summary(of: feed, input: input, started: started))
    }

    /// Attaches the diagnostics' observers to `feed`, restored from `checkpoint`: the interaction tables' row
    /// observer (its row log in the events folder) and the panel observer. None to a feed resumed from a
    /// checkpoint that holds no diagnostics (a folder made before live feeds kept them): their tables would
    /// silently leave out the rows read before; its report says it has no checkpoint of them.
    private static func attachDiagnostics(
        to feed: LiveFeed, store: StateStore, checkpoint: PanelCheckpoint?, joined: JoinedTables
    ) throws -> LiveInteractionDiagnostics? {
        if let checkpoint, checkpoint.payloads[DiagnosticsPayloads.interaction] == nil { return nil }
        let rows = try LiveInteractionDiagnostics(directory: store.bucketsDirectory, restoringFrom: checkpoint)
        feed.rowObserver = rows
        do {
            let panel = try PanelDiagnostics(users: [], firstDay: nil, restoringFrom: checkpoint)
            panel.observeJoins(userFeatureUsers: joined.userFeatureUsers, itemContext: joined.itemContext != nil)
            feed.panelObserver = panel
        } catch {
            rows.close()
            throw error
        }
        return rows
    }

    /// What produced the state folder: a live feed with these options.
    private func identity(_ options: LiveOptions) -> RunIdentity {
        let common = configuration.common
        var identity = RunIdentity(
            inputPath: configuration.positionedInput?.identity ?? "-", inputSize: 0, inputModified: 0, matrix: "-", rowLimit: nil,
            thresholds: common.thresholds.description, timeZone: common.timeZone.name, output: common.output)
        identity.dedupe = common.dedupe
        identity.outputForm = common.outputForm
        identity.joins = JoinedTables.identity(common.joins, source: common.joins.sideTables)
        identity.live = options.identity
        return identity
    }

    /// The run's summary, its ingest counts taken from the feed's own.
    private func summary(of feed: LiveFeed, input: LiveInput, started: Date) -> RunSummary {
        let live = feed.live
        var ingest = IngestSummary()
        ingest.inputLocation = "\(configuration.positionedInput?.name ?? configuration.inputName) (\(input.format?.rawValue ?? "no rows"))"
        ingest.rowsRead = live.rowsRead
        ingest.rowsAccepted = live.rowsAccepted
        ingest.rejected = live.rejected
        ingest.dateLabelDisagreements = live.dateLabelDisagreements
        ingest.firstDay = live.firstDay
        ingest.lastDay = live.lastClosed
        ingest.users = feed.users
        let elapsed = Date().timeIntervalSince(started)
        return RunSummary(
            ingest: ingest, progress: feed.progress, mode: configuration.common.thresholds,
            output: configuration.common.output, rejects: configuration.common.rejectsPath, elapsed: elapsed,
            ingestSeconds: 0, replaySeconds: elapsed, live: live, format: configuration.common.format,
            emit: configuration.common.emit)
    }
}
