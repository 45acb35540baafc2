import Foundation
import ReplayStream

/// The state folder of a run: LMDB for the run's identity, the ingest summary and checkpoints;
/// beside it the ordering step's day buckets and the default rejects file.
///
/// A checkpoint (progress, thresholds state, every user's timeline, the output's committed
/// length) is one LMDB write transaction: after a crash either the previous or the new checkpoint
/// is there, never a mix.
public final class StateStore: StateBackend {
    /// The folder.
    public let directory: String
    private let environment: LMDBEnvironment
    private let meta: LMDBDatabase
    private let timelines: LMDBDatabase

    private static let identityKey = Array("identity".utf8)
    private static let ingestKey = Array("ingest".utf8)
    private static let progressKey = Array("progress".utf8)
    private static let interactionDiagnosticsKey = Array("interaction_diagnostics".utf8)
    private static let panelDiagnosticsKey = Array("panel_diagnostics".utf8)
    private static let liveKey = Array("live".utf8)

    /// Opens (creating) the state folder's database. `readOnly` opens without writing (for `status`).
    public init(directory: String, readOnly: Bool = false) throws {
        self.directory = directory
        let lmdbPath = (directory as NSString).appendingPathComponent("lmdb")
        if !readOnly {
            try FileManager.default.createDirectory(atPath: lmdbPath, withIntermediateDirectories: true)
        } else if !FileManager.default.fileExists(atPath: (lmdbPath as NSString).appendingPathComponent("data.mdb")) {
            throw StateError(directory: directory, message: "no state here (no lmdb/data.mdb); was a run started with this --state?")
        }
        do {
            environment = try LMDBEnvironment(directory: lmdbPath, readOnly: readOnly)
            meta = try environment.database(named: "meta", create: !readOnly)
            timelines = try environment.database(named: "timelines", create: !readOnly)
        } catch let error as LMDBError {
            throw StateError(
                directory: directory,
                message: "the state database cannot be opened (\(error)); it may be damaged or from another program — rerun with --fresh to start over")
        }
    }

    /// The names replay keeps in a state folder; anything else means the folder is not (only) replay's.
    public static let ownEntries: Set<String> = ["lmdb", "events", "rejects.jsonl", "rejects.jsonl.partial", "lock"]

    /// Entries of `directory` that replay did not make (empty for a new, empty or replay-made folder).
    public static func foreignEntries(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { !ownEntries.contains($0) }.sorted()
    }

    /// Removes what replay keeps in `directory` (database, ordered events, default rejects), for `--fresh`:
    /// works on a damaged database that cannot be opened. Other files are left alone; the lock stays.
    public static func discardOwnFiles(in directory: String) throws {
        for name in ownEntries where name != "lock" {
            let path = (directory as NSString).appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        }
    }

    /// The folder holding the day buckets.
    public var bucketsDirectory: URL { URL(fileURLWithPath: directory).appendingPathComponent("events") }

    /// The default rejects file.
    public var defaultRejectsPath: String { (directory as NSString).appendingPathComponent("rejects.jsonl") }

    /// Number of LMDB readers active (a run in progress has none; `status` has one).
    public var readerCount: Int { environment.readerCount }

    private func readJSON<T: Decodable>(_ type: T.Type, key: [UInt8]) throws -> T? {
        let bytes = try environment.withReadTransaction { txn in try txn.get(key, in: meta) }
        guard let bytes else { return nil }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw StateError(
                directory: directory,
                message: "the state's \(String(decoding: key, as: UTF8.self)) record cannot be read (\(error)); it was written by another version or program — rerun with --fresh")
        }
    }

    private func writeJSON<T: Encodable>(_ value: T, key: [UInt8], txn: inout LMDBWriteTransaction) throws {
        let data = try JSONEncoder().encode(value)
        try txn.put(data, forKey: key, in: meta)
    }

    /// What produced this folder, or nil for a new one. Refuses other format versions.
    public func identity() throws -> RunIdentity? {
        struct Version: Decodable { var formatVersion: Int }
        guard let version = try readJSON(Version.self, key: StateStore.identityKey) else { return nil }
        guard version.formatVersion == RunIdentity.currentFormatVersion else {
            throw StateError(
                directory: directory,
                message: "it was written by state format version \(version.formatVersion); this replay reads version \(RunIdentity.currentFormatVersion) only. Rerun with --fresh to start over (the old state and output are discarded)")
        }
        return try readJSON(RunIdentity.self, key: StateStore.identityKey)
    }

    /// Starts the folder anew for `identity`: removes the checkpoint and timelines, and the ingest
    /// summary unless `keepingIngest` (the ordered event log of the same input is then reused).
    public func reset(for identity: RunIdentity, keepingIngest: Bool = false) throws {
        try environment.withWriteTransaction { txn in
            let ingest = keepingIngest ? try txn.get(StateStore.ingestKey, in: meta) : nil
            // The interaction-level diagnostics belong to the ingest pass: kept with it.
            let interaction = keepingIngest ? try txn.get(StateStore.interactionDiagnosticsKey, in: meta) : nil
            try txn.removeAll(in: meta)
            try txn.removeAll(in: timelines)
            try writeJSON(identity, key: StateStore.identityKey, txn: &txn)
            if let ingest { try txn.put(ingest, forKey: StateStore.ingestKey, in: meta) }
            if let interaction { try txn.put(interaction, forKey: StateStore.interactionDiagnosticsKey, in: meta) }
        }
    }

    /// The ingest summary, once the ingest pass has completed.
    public func ingestSummary() throws -> IngestSummary? { try readJSON(IngestSummary.self, key: StateStore.ingestKey) }

    /// Marks the ingest pass complete (its buckets must already be synced).
    public func recordIngest(_ summary: IngestSummary) throws {
        try environment.withWriteTransaction { txn in try writeJSON(summary, key: StateStore.ingestKey, txn: &txn) }
    }

    /// The last committed progress, without the timelines (cheap; for `status`).
    public func progress() throws -> ReplayProgress? { try readJSON(ReplayProgress.self, key: StateStore.progressKey) }

    /// The last committed checkpoint, or nil.
    public func loadCheckpoint() throws -> PanelCheckpoint? {
        guard let progress = try progress() else { return nil }
        var states: [Int32: [UInt8]] = [:]
        try environment.withReadTransaction { txn in
            try txn.forEach(in: timelines) { key, value in
                guard let user = LMDBKey.int64(from: Array(key)) else { return }
                states[Int32(user)] = Array(value)
            }
        }
        return PanelCheckpoint(
            progress: progress, timelines: states, diagnostics: try panelDiagnostics(), live: try liveFeed())
    }

    /// The live feed's state of the last checkpoint (nil for an archive run).
    public func liveFeed() throws -> LiveFeedState? { try readJSON(LiveFeedState.self, key: StateStore.liveKey) }

    /// The interaction-level diagnostic tables, stored when the ingest pass completed (nil before).
    public func interactionDiagnostics() throws -> InteractionDiagnostics? {
        try readJSON(InteractionDiagnostics.self, key: StateStore.interactionDiagnosticsKey)
    }

    /// Stores the interaction-level diagnostic tables (before ``recordIngest(_:)`` marks the ingest complete).
    public func recordInteractionDiagnostics(_ diagnostics: InteractionDiagnostics) throws {
        try environment.withWriteTransaction { txn in
            try writeJSON(diagnostics, key: StateStore.interactionDiagnosticsKey, txn: &txn)
        }
    }

    /// The panel diagnostics' state as of the last checkpoint (nil before the first).
    public func panelDiagnostics() throws -> PanelDiagnosticsState? {
        try readJSON(PanelDiagnosticsState.self, key: StateStore.panelDiagnosticsKey)
    }

    /// Everything a report needs, read in one transaction so the parts belong to the same checkpoint.
    public func reportSnapshot() throws -> (
        ingest: IngestSummary?, progress: ReplayProgress?, interaction: InteractionDiagnostics?,
        panel: PanelDiagnosticsState?
    ) {
        let keys = [
            StateStore.ingestKey, StateStore.progressKey, StateStore.interactionDiagnosticsKey,
            StateStore.panelDiagnosticsKey,
        ]
        let values = try environment.withReadTransaction { txn in try keys.map { try txn.get($0, in: meta) } }
        func decode<T: Decodable>(_ type: T.Type, _ i: Int) throws -> T? {
            guard let bytes = values[i] else { return nil }
            do {
                return try JSONDecoder().decode(T.self, from: Data(bytes))
            } catch {
                throw StateError(
                    directory: directory,
                    message: "the state's \(String(decoding: keys[i], as: UTF8.self)) record cannot be read (\(error)); it was written by another version or program — rerun the run with --fresh")
            }
        }
        return (
            try decode(IngestSummary.self, 0), try decode(ReplayProgress.self, 1),
            try decode(InteractionDiagnostics.self, 2), try decode(PanelDiagnosticsState.self, 3)
        )
    }

    public func commit(_ checkpoint: PanelCheckpoint) throws {
        do {
            try environment.withWriteTransaction { txn in
                for (user, bytes) in checkpoint.timelines {
                    try txn.put(bytes, forKey: LMDBKey.int64(Int64(user)), in: timelines)
                }
                try writeJSON(checkpoint.progress, key: StateStore.progressKey, txn: &txn)
                if let diagnostics = checkpoint.diagnostics {
                    try writeJSON(diagnostics, key: StateStore.panelDiagnosticsKey, txn: &txn)
                }
                if let live = checkpoint.live { try writeJSON(live, key: StateStore.liveKey, txn: &txn) }
            }
        } catch let error as LMDBError where error.isDiskFull {
            throw StateError(
                directory: directory,
                message: "the disk is full while committing a checkpoint (\(error)); the previous checkpoint is intact — free some space and rerun the same command to resume",
                isDiskFull: true)
        }
    }
}
