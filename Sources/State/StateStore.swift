import Foundation
import ReplayStream
import SystemPackage

/// The state folder of a run: LMDB for the run's identity, the ingest summary and checkpoints;
/// beside it the ordering step's day buckets and the default rejects file.
///
/// A checkpoint (progress, thresholds state, every user's timeline, the output's committed
/// length) is one LMDB write transaction: after a crash either the previous or the new checkpoint
/// is there, never a mix. The timelines (megabytes, rewritten whole at every checkpoint) are written
/// beside the database, to `snapshots/timelines-N.bin`, made durable first, and named by the
/// transaction with their size and hash: kept inside LMDB, each commit's copy-on-write pages made the
/// file (and the process's mapped memory) grow to several snapshots' worth.
public final class StateStore: StateBackend {
    /// The folder.
    public let directory: String
    private let environment: LMDBEnvironment
    private let meta: LMDBDatabase
    /// The number of the last snapshot file written (the next gets the following one).
    private var snapshotNumber = 0

    private static let identityKey = Array("identity".utf8)
    private static let ingestKey = Array("ingest".utf8)
    private static let progressKey = Array("progress".utf8)
    private static let interactionDiagnosticsKey = Array("interaction_diagnostics".utf8)
    private static let panelDiagnosticsKey = Array("panel_diagnostics".utf8)
    private static let liveKey = Array("live".utf8)
    private static let snapshotKey = Array("timelines_snapshot".utf8)

    /// Where the checkpoint's timelines are: a file in `snapshots/`, its size and hash.
    struct SnapshotReference: Codable {
        var file: String
        var size: Int
        var hash: UInt64
    }

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
        } catch let error as LMDBError {
            throw StateError(
                directory: directory,
                message: "the state database cannot be opened (\(error)); it may be damaged or from another program — rerun with --fresh to start over")
        }
        if let reference = try? readJSON(SnapshotReference.self, key: StateStore.snapshotKey),
            let number = Int(reference.file.dropFirst("timelines-".count).dropLast(".bin".count))
        {
            snapshotNumber = number
        }
        if !readOnly { removeUnreferencedSnapshots() }
    }

    /// The names replay keeps in a state folder; anything else means the folder is not (only) replay's.
    public static let ownEntries: Set<String> = [
        "lmdb", "events", "snapshots", "rejects.jsonl", "rejects.jsonl.partial", "lock",
    ]

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

    /// The folder holding the checkpoints' timeline snapshots.
    var snapshotsDirectory: String { (directory as NSString).appendingPathComponent("snapshots") }

    /// Deletes snapshot files no checkpoint names (a crash between writing one and committing it).
    private func removeUnreferencedSnapshots() {
        let kept = (try? readJSON(SnapshotReference.self, key: StateStore.snapshotKey))?.file
        let names = (try? FileManager.default.contentsOfDirectory(atPath: snapshotsDirectory)) ?? []
        for name in names where name != kept {
            try? FileManager.default.removeItem(atPath: (snapshotsDirectory as NSString).appendingPathComponent(name))
        }
    }

    /// FNV-1a over 64-bit words (and the tail bytes): detects a damaged snapshot file cheaply.
    static func hash(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        bytes.withUnsafeBytes { raw in
            let words = raw.count / 8
            for i in 0..<words {
                h = (h ^ raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) &* 0x100_0000_01b3
            }
            for i in (words * 8)..<raw.count { h = (h ^ UInt64(raw[i])) &* 0x100_0000_01b3 }
        }
        return h
    }

    /// Writes a snapshot file and makes it durable (file and folder).
    private func writeSnapshot(_ bytes: [UInt8], named name: String) throws {
        try FileManager.default.createDirectory(atPath: snapshotsDirectory, withIntermediateDirectories: true)
        let path = (snapshotsDirectory as NSString).appendingPathComponent(name)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw POSIXFileError(path: path, operation: "open", code: errno) }
        defer { close(fd) }
        try bytes.withUnsafeBytes { try FileDescriptor(rawValue: fd).writeAll($0, path: path) }
        guard fsync(fd) == 0 else { throw POSIXFileError(path: path, operation: "fsync", code: errno) }
        let dir = open(snapshotsDirectory, O_RDONLY)
        if dir >= 0 {
            _ = fsync(dir)
            close(dir)
        }
    }

    /// Reads the snapshot a checkpoint names, checking its size and hash.
    private func readSnapshot(_ reference: SnapshotReference) throws -> TimelineSnapshot {
        let path = (snapshotsDirectory as NSString).appendingPathComponent(reference.file)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StateError(
                directory: directory,
                message: "the checkpoint's timelines (snapshots/\(reference.file)) are missing — rerun with --fresh to start over")
        }
        let bytes = [UInt8](data)
        guard bytes.count == reference.size, StateStore.hash(bytes) == reference.hash else {
            throw StateError(
                directory: directory,
                message: "the checkpoint's timelines (snapshots/\(reference.file)) are damaged (\(bytes.count) bytes, \(reference.size) expected, or a wrong hash) — rerun with --fresh to start over")
        }
        return TimelineSnapshot(bytes: bytes)
    }

    /// The default rejects file.
    public var defaultRejectsPath: String { (directory as NSString).appendingPathComponent("rejects.jsonl") }

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
            try writeJSON(identity, key: StateStore.identityKey, txn: &txn)
            if let ingest { try txn.put(ingest, forKey: StateStore.ingestKey, in: meta) }
            if let interaction { try txn.put(interaction, forKey: StateStore.interactionDiagnosticsKey, in: meta) }
        }
        removeUnreferencedSnapshots()
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
        let timelines = try readJSON(SnapshotReference.self, key: StateStore.snapshotKey).map(readSnapshot) ?? .empty
        return PanelCheckpoint(
            progress: progress, timelines: timelines, diagnostics: try panelDiagnostics(), live: try liveFeed())
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
            // The timelines first, in a new file: the transaction below names it only once it is durable.
            let previous = try readJSON(SnapshotReference.self, key: StateStore.snapshotKey)
            snapshotNumber += 1
            let bytes = checkpoint.timelines.bytes
            let reference = SnapshotReference(
                file: "timelines-\(snapshotNumber).bin", size: bytes.count, hash: StateStore.hash(bytes))
            try writeSnapshot(bytes, named: reference.file)
            try environment.withWriteTransaction { txn in
                try writeJSON(reference, key: StateStore.snapshotKey, txn: &txn)
                try writeJSON(checkpoint.progress, key: StateStore.progressKey, txn: &txn)
                if let diagnostics = checkpoint.diagnostics {
                    try writeJSON(diagnostics, key: StateStore.panelDiagnosticsKey, txn: &txn)
                }
                if let live = checkpoint.live { try writeJSON(live, key: StateStore.liveKey, txn: &txn) }
            }
            if let previous, previous.file != reference.file {
                try? FileManager.default.removeItem(atPath: (snapshotsDirectory as NSString).appendingPathComponent(previous.file))
            }
        } catch let error as POSIXFileError where error.isDiskFull {
            try? FileManager.default.removeItem(
                atPath: (snapshotsDirectory as NSString).appendingPathComponent("timelines-\(snapshotNumber).bin"))
            throw StateError(
                directory: directory,
                message: "the disk is full while committing a checkpoint (\(error)); the previous checkpoint is intact — free some space and rerun the same command to resume",
                isDiskFull: true)
        } catch let error as LMDBError where error.isDiskFull {
            throw StateError(
                directory: directory,
                message: "the disk is full while committing a checkpoint (\(error)); the previous checkpoint is intact — free some space and rerun the same command to resume",
                isDiskFull: true)
        }
    }
}
