import Foundation
import ReplayDiagnostics
import ReplayState
import ReplayStream

/// A run's state folder, opened and locked against a second process for the length of the run.
struct StateFolder {
    /// The state store.
    let store: StateStore
    /// The folder's lock, held while this value lives.
    let lock: ProcessLock

    /// Opens (creating) the folder at `directory` for a run of `identity`. Only a folder replay owns is used
    /// (``StateStore/ownership(of:)``: new or empty, marked, or an older replay's state, which gets the
    /// marker). With `fresh`, replay's own files in it are discarded (a damaged database included) and the
    /// run starts over, keeping the ordered events of an ingest of the same input when they are whole.
    /// - Throws: ``StateError``: `notAFolder`, `notReplays` (`fresh` or not), `foreignEntries` (a marked
    ///   folder holding other entries, unless `fresh`), `inUse`, `madeByDifferentRun` (unless `fresh`), or any
    ///   error opening the store, and what `ingestIsReusable` throws.
    /// - Parameter ingestIsReusable: asked under `fresh` about a whole ingest of the same input and options:
    ///   true keeps it (an archive run checks a bare file's bytes and the rejects file there).
    /// - Parameter freshPayloads: stored under `fresh` in the reset's own transaction (the claim of the output
    ///   the run will start anew, ``RunOutput/freshClaim(path:messages:)``).
    static func open(
        directory: String, for identity: RunIdentity, fresh: Bool, freshPayloads: [String: [UInt8]] = [:],
        ingestIsReusable: (IngestSummary) throws -> Bool = { _ in true }
    ) throws -> StateFolder {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw StateError(directory: directory, kind: .notAFolder)
        }
        if case .other(let entries) = StateStore.ownership(of: directory) {
            throw StateError(directory: directory, kind: .notReplays(entries))  // --fresh included
        }
        let foreign = StateStore.foreignEntries(in: directory, besides: RunFiles.names)
        if !foreign.isEmpty && !fresh { throw StateError(directory: directory, kind: .foreignEntries(foreign)) }
        try create(directory)
        // The marker first: a folder holding replay's lock or database but no marker would not be replay's.
        if !StateStore.hasMarker(directory) { try StateStore.mark(directory) }
        let lock = try ProcessLock(directory: directory)
        let store =
            fresh
            ? try startOver(directory, for: identity, payloads: freshPayloads, ingestIsReusable: ingestIsReusable)
            : try resume(directory, for: identity)
        return StateFolder(store: store, lock: lock)
    }

    /// Makes the folder and its missing parents.
    /// - Throws: ``StateError`` (`unusablePath`) naming the part of the path that is a file, or the
    ///   system's reason (`Permission denied`, `Read-only file system`, `No space left on device`).
    private static func create(_ directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            var ancestor = AtomicFile.folder(containing: directory)
            var isDirectory: ObjCBool = false
            while ancestor != "/" && ancestor != "." {
                if FileManager.default.fileExists(atPath: ancestor, isDirectory: &isDirectory) {
                    if !isDirectory.boolValue {
                        throw StateError(directory: directory, kind: .unusablePath(reason: "\(ancestor) is a file, not a folder"))
                    }
                    break
                }
                ancestor = AtomicFile.folder(containing: ancestor)
            }
            let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError
            let reason = underlying.map { $0.domain == NSPOSIXErrorDomain ? String(cString: strerror(Int32($0.code))) : $0.localizedDescription }
            throw StateError(directory: directory, kind: .unusablePath(reason: reason ?? "\(error)"))
        }
    }

    /// Opens the store and checks that it was made by a run of `identity` (a new folder is marked for it).
    private static func resume(_ directory: String, for identity: RunIdentity) throws -> StateStore {
        let store = try StateStore(directory: directory)
        if let stored = try store.identity() {
            let differences = identity.differences(from: stored)
            if !differences.isEmpty {
                throw StateError(directory: directory, kind: .madeByDifferentRun(differences))
            }
        } else {
            try store.reset(for: identity)
        }
        return store
    }

    /// Opens the store, or removes replay's files and opens it empty when it cannot be opened (damaged,
    /// truncated, another program's), and resets it for `identity`, recording `payloads`.
    private static func startOver(
        _ directory: String, for identity: RunIdentity, payloads: [String: [UInt8]],
        ingestIsReusable: (IngestSummary) throws -> Bool
    ) throws -> StateStore {
        let store: StateStore
        do {
            store = try StateStore(directory: directory)
        } catch is StateError {
            try StateStore.discardOwnFiles(in: directory, besides: RunFiles.names)
            store = try StateStore(directory: directory)
        }
        // A fresh run of the same input keeps the ordered event log (no second ingest), if it is whole.
        let stored = try? store.identity()
        var keep = stored.map { identity.hasSameIngest(as: $0) } ?? false
        if keep, let done = try? store.ingestSummary() {
            keep = DayBuckets.verify(directory: store.bucketsDirectory, expectedEvents: done.rowsAccepted) == nil
            if keep { keep = try ingestIsReusable(done) }
        }
        // The interaction diagnostics belong to the ingest pass: kept with it.
        try store.reset(
            for: identity, keepingIngest: keep, ingestPayloads: [DiagnosticsPayloads.interaction], recording: payloads)
        return store
    }
}
