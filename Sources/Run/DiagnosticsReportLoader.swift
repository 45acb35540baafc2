import ReplayDiagnostics
import ReplayState
import ReplayStream

/// Reads the notebook's diagnostics report out of a state folder.
public enum DiagnosticsReportLoader {
    /// The report as of the folder's last checkpoint (one read transaction: safe while a run writes).
    /// - Throws: ``StateError`` (`noRunRecorded`, `liveFeedHasNoDiagnostics`, or the folder cannot be read).
    public static func load(from store: StateStore) throws -> DiagnosticsReport {
        guard let identity = try store.identity() else {
            throw StateError(directory: store.directory, kind: .noRunRecorded)
        }
        if identity.live != nil { throw StateError(directory: store.directory, kind: .liveFeedHasNoDiagnostics) }
        let snapshot = try store.reportSnapshot(payloads: DiagnosticsPayloads.all)
        func decode<T: Decodable>(_ type: T.Type, _ name: String) throws -> T? {
            do {
                return try DiagnosticsPayloads.decode(T.self, from: snapshot.payloads[name])
            } catch {
                throw StateError(directory: store.directory, kind: .unreadableRecord(name: name, cause: "\(error)"))
            }
        }
        return DiagnosticsReport.assemble(
            ingest: snapshot.ingest, progress: snapshot.progress, thresholdsMode: identity.thresholds,
            interaction: try decode(InteractionDiagnostics.self, DiagnosticsPayloads.interaction),
            panel: try decode(PanelDiagnosticsState.self, DiagnosticsPayloads.panel))
    }
}
