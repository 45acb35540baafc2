import Foundation
import Synchronization
import ReplayStream
import SystemPackage

/// The state folder of a run: LMDB for the run's identity, the ingest summary and checkpoints;
/// beside it the ordering step's day buckets (and whatever files the run keeps there, see ``ownEntries``).
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
    private let snapshotNumber = Atomic<Int>(0)

    private static let identityKey = Array("identity".utf8)
    private static let ingestKey = Array("ingest".utf8)
    private static let progressKey = Array("progress".utf8)
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
            throw StateError(directory: directory, kind: .noDatabase)
        }
        do {
            environment = try LMDBEnvironment(directory: lmdbPath, readOnly: readOnly)
            meta = try environment.database(named: "meta", create: !readOnly)
        } catch let error as LMDBError where error.isDiskFull {
            throw StateError(directory: directory, kind: .diskFullAtOpen(cause: "\(error)"))
        } catch let error as LMDBError {
            throw StateError(directory: directory, kind: .unopenable(cause: "\(error)"))
        }
        if let reference = try? readJSON(SnapshotReference.self, key: StateStore.snapshotKey),
            let number = Int(reference.file.dropFirst("timelines-".count).dropLast(".bin".count))
        {
            snapshotNumber.store(number, ordering: .relaxed)
        }
        if !readOnly { removeUnreferencedSnapshots() }
    }

    /// The names the state store keeps in its folder. A run may keep files of its own there too (its
    /// default rejects file): it passes their names as `runFiles` below.
    public static let ownEntries: Set<String> = [
        "lmdb", "events", "snapshots", "lock", markerName, AtomicFile.partialPath(for: markerName),
    ]

    /// Entries of `directory` that neither the store nor the run made (empty for a new, empty or
    /// replay-made folder); `runFiles` are the names the run keeps there.
    public static func foreignEntries(in directory: String, besides runFiles: Set<String> = []) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { !ownEntries.contains($0) && !runFiles.contains($0) }.sorted()
    }

    /// Removes what the store keeps in `directory` (database, ordered events, snapshots) and the run's
    /// `runFiles`, to start over: works on a damaged database that cannot be opened. Call it only on a
    /// folder replay owns (``ownership(of:)``): other files are left alone; the lock and the marker stay.
    public static func discardOwnFiles(in directory: String, besides runFiles: Set<String> = []) throws {
        for name in ownEntries.union(runFiles) where name != "lock" && name != markerName {
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

    /// The snapshot files' hash (``SnapshotHash``) of `bytes`.
    static func hash(_ bytes: [UInt8]) -> UInt64 {
        var h = SnapshotHash()
        bytes.withUnsafeBytes { h.add($0) }
        return h.final
    }

    /// The next checkpoint's timeline snapshot, written to `snapshots/timelines-N.bin.partial` as it is
    /// handed over (``SnapshotFileWriter``); ``commit(_:)`` makes it `timelines-N.bin`.
    public func startSnapshot() throws -> any TimelineSnapshotWriter {
        let number = snapshotNumber.add(1, ordering: .relaxed).newValue
        return try SnapshotFileWriter(folder: snapshotsDirectory, name: "timelines-\(number).bin", stateDirectory: directory)
    }

    /// Writes a snapshot file and makes it durable (file and folder).
    private func writeSnapshot(_ bytes: [UInt8], named name: String) throws {
        try FileManager.default.createDirectory(atPath: snapshotsDirectory, withIntermediateDirectories: true)
        try AtomicFile.write(bytes, to: (snapshotsDirectory as NSString).appendingPathComponent(name))
    }

    /// Reads the snapshot a checkpoint names, checking its size and hash.
    private func readSnapshot(_ reference: SnapshotReference) throws -> TimelineSnapshot {
        let path = (snapshotsDirectory as NSString).appendingPathComponent(reference.file)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StateError(directory: directory, kind: .snapshotMissing(file: reference.file))
        }
        let bytes = [UInt8](data)
        guard bytes.count == reference.size, StateStore.hash(bytes) == reference.hash else {
            throw StateError(
                directory: directory,
                kind: .snapshotDamaged(file: reference.file, size: bytes.count, expected: reference.size))
        }
        return TimelineSnapshot(bytes: bytes)
    }

    private func readJSON<T: Decodable>(_ type: T.Type, key: [UInt8]) throws -> T? {
        try decodeRecord(T.self, from: try environment.withReadTransaction { txn in try txn.get(key, in: meta) }, key: key)
    }

    /// A stored JSON record's value (nil when none is stored); a record that does not decode is a
    /// ``StateError`` naming it.
    private func decodeRecord<T: Decodable>(_ type: T.Type, from bytes: [UInt8]?, key: [UInt8]) throws -> T? {
        guard let bytes else { return nil }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw StateError(
                directory: directory, kind: .unreadableRecord(name: String(decoding: key, as: UTF8.self), cause: "\(error)"))
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
                kind: .formatVersion(found: version.formatVersion, supported: RunIdentity.currentFormatVersion))
        }
        return try readJSON(RunIdentity.self, key: StateStore.identityKey)
    }

    /// Starts the folder anew for `identity`: removes the checkpoint and timelines, and the ingest
    /// summary unless `keepingIngest` (the ordered event log of the same input is then reused), with the
    /// payloads named in `ingestPayloads` (those recorded with the ingest pass). The `recording` payloads are
    /// stored in the same transaction: a process killed right after the reset leaves them standing.
    public func reset(
        for identity: RunIdentity, keepingIngest: Bool = false, ingestPayloads: [String] = [],
        recording payloads: [String: [UInt8]] = [:]
    ) throws {
        try environment.withWriteTransaction { txn in
            let keptKeys = keepingIngest ? [StateStore.ingestKey] + ingestPayloads.map(StateStore.payloadKey) : []
            let kept = try keptKeys.map { try txn.get($0, in: meta) }
            try txn.removeAll(in: meta)
            try writeJSON(identity, key: StateStore.identityKey, txn: &txn)
            for (key, value) in zip(keptKeys, kept) { if let value { try txn.put(value, forKey: key, in: meta) } }
            for (name, bytes) in payloads { try txn.put(bytes, forKey: StateStore.payloadKey(name), in: meta) }
        }
        removeUnreferencedSnapshots()
    }

    /// The ingest summary, once the ingest pass has completed.
    public func ingestSummary() throws -> IngestSummary? { try readJSON(IngestSummary.self, key: StateStore.ingestKey) }

    /// The stored form of `summary`, for ``recordIngest(encoded:payloads:)`` (JSON: it may be made on another
    /// thread than the one that records it; ~10 ms for KuaiRec's small matrix).
    public static func encodeIngest(_ summary: IngestSummary) throws -> [UInt8] { Array(try JSONEncoder().encode(summary)) }

    /// Stores `payloads` (the ingest pass's own, by name) and marks the ingest complete with `summary`
    /// (``encodeIngest(_:)``'s bytes), in one transaction. The buckets must already be synced.
    public func recordIngest(encoded summary: [UInt8], payloads: [String: [UInt8]]) throws {
        try environment.withWriteTransaction { txn in
            for (name, bytes) in payloads { try txn.put(bytes, forKey: StateStore.payloadKey(name), in: meta) }
            try txn.put(summary, forKey: StateStore.ingestKey, in: meta)
        }
    }

    /// The last committed progress, without the timelines (cheap; for `status`).
    public func progress() throws -> ReplayProgress? { try readJSON(ReplayProgress.self, key: StateStore.progressKey) }

    /// The last committed checkpoint with the payloads named (those stored), or nil.
    public func loadCheckpoint(payloads names: [String]) throws -> PanelCheckpoint? {
        guard let progress = try progress() else { return nil }
        let timelines = try readJSON(SnapshotReference.self, key: StateStore.snapshotKey).map(readSnapshot) ?? .empty
        var payloads: [String: [UInt8]] = [:]
        for name in names { payloads[name] = try payload(named: name) }
        return PanelCheckpoint(progress: progress, timelines: timelines, payloads: payloads)
    }

    /// A feature's payload (opaque bytes stored under its name), as of the last checkpoint or as recorded
    /// with ``recordPayload(_:named:)``; nil when none is stored.
    public func payload(named name: String) throws -> [UInt8]? {
        try environment.withReadTransaction { txn in try txn.get(StateStore.payloadKey(name), in: meta) }
    }

    /// Stores a payload outside a checkpoint (the output's claim a `--fresh` run records; the ingest pass's own go
    /// with ``recordIngest(encoded:payloads:)``).
    public func recordPayload(_ bytes: [UInt8], named name: String) throws {
        try environment.withWriteTransaction { txn in try txn.put(bytes, forKey: StateStore.payloadKey(name), in: meta) }
    }

    /// What a report needs, read in one transaction so the parts belong to the same checkpoint: the
    /// ingest summary, the progress, and the payloads named.
    public func reportSnapshot(payloads names: [String]) throws -> (
        ingest: IngestSummary?, progress: ReplayProgress?, payloads: [String: [UInt8]]
    ) {
        let keys = [StateStore.ingestKey, StateStore.progressKey] + names.map(StateStore.payloadKey)
        let values = try environment.withReadTransaction { txn in try keys.map { try txn.get($0, in: meta) } }
        var payloads: [String: [UInt8]] = [:]
        for (i, name) in names.enumerated() { payloads[name] = values[i + 2] }
        return (
            try decodeRecord(IngestSummary.self, from: values[0], key: keys[0]),
            try decodeRecord(ReplayProgress.self, from: values[1], key: keys[1]), payloads
        )
    }

    /// A payload's key in the `meta` database: its name, which must not be one of the store's own keys.
    private static func payloadKey(_ name: String) -> [UInt8] {
        let key = Array(name.utf8)
        precondition(![identityKey, ingestKey, progressKey, snapshotKey].contains(key), "payload name \(name) is reserved")
        return key
    }

    public func commit(_ checkpoint: PanelCheckpoint) throws {
        do {
            // The timelines first, in a new file: the transaction below names it only once it is durable.
            let previous = try readJSON(SnapshotReference.self, key: StateStore.snapshotKey)
            let reference: SnapshotReference
            if let stored = checkpoint.timelines.stored {
                // Written as it was encoded (``startSnapshot()``): made durable and given its name here.
                reference = SnapshotReference(file: stored.name, size: stored.size, hash: stored.hash)
                try AtomicFile.commit((snapshotsDirectory as NSString).appendingPathComponent(stored.name))
            } else {
                let number = snapshotNumber.add(1, ordering: .relaxed).newValue
                let bytes = checkpoint.timelines.bytes
                reference = SnapshotReference(file: "timelines-\(number).bin", size: bytes.count, hash: StateStore.hash(bytes))
                try writeSnapshot(bytes, named: reference.file)
            }
            try environment.withWriteTransaction { txn in
                try writeJSON(reference, key: StateStore.snapshotKey, txn: &txn)
                try writeJSON(checkpoint.progress, key: StateStore.progressKey, txn: &txn)
                for (name, bytes) in checkpoint.payloads { try txn.put(bytes, forKey: StateStore.payloadKey(name), in: meta) }
            }
            if let previous, previous.file != reference.file {
                try? FileManager.default.removeItem(atPath: (snapshotsDirectory as NSString).appendingPathComponent(previous.file))
            }
        } catch let error as POSIXFileError where error.isDiskFull {
            let file = (snapshotsDirectory as NSString).appendingPathComponent("timelines-\(snapshotNumber.load(ordering: .relaxed)).bin")
            try? FileManager.default.removeItem(atPath: file)
            try? FileManager.default.removeItem(atPath: AtomicFile.partialPath(for: file))
            throw StateError(directory: directory, kind: .diskFullAtCheckpoint(cause: "\(error)"))
        } catch let error as LMDBError where error.isDiskFull {
            throw StateError(directory: directory, kind: .diskFullAtCheckpoint(cause: "\(error)"))
        }
    }
}
