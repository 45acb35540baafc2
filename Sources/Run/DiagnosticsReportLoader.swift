import Foundation
import ReplayDiagnostics
import ReplayState
import ReplayStream

/// Reads the notebook's diagnostics report out of a state folder.
public enum DiagnosticsReportLoader {
    /// The report as of the folder's last checkpoint (one read transaction: safe while a run writes). For a
    /// live feed, the interaction tables are computed from the feed's row log as far as that checkpoint counts
    /// it; `sideTables` (an archive's metadata tables; by default those of the feed's `--side-tables` archive, if
    /// it joined one) fill its join tables, which without them say they need them (an archive run's come from its
    /// own input, and `sideTables` is not used).
    /// - Throws: ``StateError`` (`noRunRecorded`, or the folder cannot be read), ``DamagedFileError`` (a live
    ///   feed's row log is shorter than its checkpoint says).
    public static func load(from store: StateStore, sideTables: MetadataTables? = nil) throws -> DiagnosticsReport {
        guard let identity = try store.identity() else {
            throw StateError(directory: store.directory, kind: .noRunRecorded)
        }
        if identity.live != nil {
            // A feed that joins an archive's side tables (`--side-tables`) reports on them too.
            let tables = sideTables ?? JoinedTables.sideTablesArchive(of: identity).map { MetadataTables.read(input: $0) }
            return try loadLive(from: store, identity: identity, sideTables: tables)
        }
        let snapshot = try store.reportSnapshot(payloads: DiagnosticsPayloads.all)
        return DiagnosticsReport.assemble(
            ingest: snapshot.ingest, progress: snapshot.progress, thresholdsMode: identity.thresholds,
            interaction: try decode(InteractionDiagnostics.self, snapshot.payloads, DiagnosticsPayloads.interaction, store),
            panel: try decode(PanelDiagnosticsState.self, snapshot.payloads, DiagnosticsPayloads.panel, store))
    }

    /// A live feed's report: its own state says how far it read; the interaction tables come from its row log.
    private static func loadLive(
        from store: StateStore, identity: RunIdentity, sideTables: MetadataTables?
    ) throws -> DiagnosticsReport {
        let snapshot = try store.reportSnapshot(payloads: DiagnosticsPayloads.all + [LiveFeedState.payloadName])
        let feed: LiveFeedState?
        do {
            feed = try LiveFeedState(payload: snapshot.payloads[LiveFeedState.payloadName])
        } catch {
            throw StateError(
                directory: store.directory, kind: .unreadableRecord(name: LiveFeedState.payloadName, cause: "\(error)"))
        }
        let rows = try decode(
            LiveInteractionDiagnosticsState.self, snapshot.payloads, DiagnosticsPayloads.interaction, store)
        let interaction = try rows.map {
            try LiveInteractionDiagnostics.diagnostics(of: $0, logDirectory: store.bucketsDirectory, sideTables: sideTables)
        }
        return DiagnosticsReport.assembleLive(
            progress: snapshot.progress, thresholdsMode: identity.thresholds,
            coverage: .init(rowsRead: feed?.rowsRead ?? 0, throughDay: feed?.maxDay), ended: feed?.ended ?? false,
            interaction: interaction,
            panel: try decode(PanelDiagnosticsState.self, snapshot.payloads, DiagnosticsPayloads.panel, store))
    }

    /// The payload `name` decoded, nil when none is stored.
    /// - Throws: ``StateError`` `unreadableRecord` when it cannot be decoded.
    private static func decode<T: Decodable>(
        _ type: T.Type, _ payloads: [String: [UInt8]], _ name: String, _ store: StateStore
    ) throws -> T? {
        do {
            return try DiagnosticsPayloads.decode(T.self, from: payloads[name])
        } catch {
            throw StateError(directory: store.directory, kind: .unreadableRecord(name: name, cause: "\(error)"))
        }
    }
}
