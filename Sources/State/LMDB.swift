// A thin, safe Swift wrapper over LMDB (liblmdb 0.9.x).
//
// No C type appears in a public signature: keys and values go in as `ContiguousBytes`
// (`[UInt8]`, `Data`, `UnsafeRawBufferPointer`, ...) and come out as copied `[UInt8]`
// or as buffers that are only valid inside a closure.

import Foundation
internal import CLMDB
import ReplayStream

// MARK: - Errors

/// An error returned by an LMDB C function.
///
/// Carries the raw code, the C function that failed and `mdb_strerror`'s text; `description`
/// adds what the user can do about it. Match specific cases with the `is…` properties or with
/// the pattern constants in ``LMDBError/Code`` (`catch LMDBError.Code.mapFull { … }`).
public struct LMDBError: Error, CustomStringConvertible, Equatable {
    /// The raw `MDB_*` code (negative) or `errno` value (positive).
    public let code: Int32
    /// The C function that failed, e.g. `"mdb_put"` or `"mdb_env_open"`.
    public let operation: String

    /// Creates an error from a raw return code and the C function that produced it.
    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// The text of `mdb_strerror(code)` (which also covers `errno` values).
    /// The corresponding C function is `mdb_strerror`.
    public var message: String { String(cString: mdb_strerror(code)) }

    /// The memory map is full (`MDB_MAP_FULL`). ``LMDBEnvironment/withWriteTransaction(_:)`` handles this itself by growing the map.
    public var isMapFull: Bool { code == Code.mapFull.rawValue }
    /// The file system is out of space or quota (`ENOSPC`, `EDQUOT`, `EFBIG`).
    ///
    /// LMDB reports a short page write as `EIO` (`mdb_page_flush`: written != asked), which is what a full
    /// disk or a file-size limit gives part-way through a commit: counted as full too. The commit is
    /// atomic either way, so the previous checkpoint stays.
    public var isDiskFull: Bool { code == ENOSPC || code == EDQUOT || code == EFBIG || code == EIO }
    /// The key or database does not exist (`MDB_NOTFOUND`).
    public var isNotFound: Bool { code == Code.notFound.rawValue }

    /// Pattern-matchable LMDB error codes: `catch LMDBError.Code.mapFull`, `case LMDBError.Code.notFound`.
    public struct Code: Hashable, Sendable {
        /// The raw `MDB_*` or `errno` value.
        public let rawValue: Int32
        /// Wraps a raw code.
        public init(_ rawValue: Int32) { self.rawValue = rawValue }

        /// `MDB_MAP_FULL`: the environment's map size has been reached.
        public static let mapFull = Code(MDB_MAP_FULL)
        /// `MDB_NOTFOUND`: key or named database not found.
        public static let notFound = Code(MDB_NOTFOUND)
        /// `MDB_BAD_VALSIZE`: key empty or longer than the maximum key size (511 bytes by default).
        public static let badValueSize = Code(MDB_BAD_VALSIZE)
        /// `EBUSY`: this wrapper refused a nested or conflicting transaction on the same thread.
        public static let busy = Code(EBUSY)

        /// Matches an ``LMDBError`` with this code.
        public static func ~= (pattern: Code, value: LMDBError) -> Bool { value.code == pattern.rawValue }
        /// Matches any error that is an ``LMDBError`` with this code (for `catch` clauses).
        public static func ~= (pattern: Code, value: any Error) -> Bool {
            (value as? LMDBError)?.code == pattern.rawValue
        }
    }

    /// The operation, LMDB's message, and what to do about it.
    public var description: String {
        let hint: String
        switch code {
        case MDB_MAP_FULL:
            hint = "the LMDB map size is exhausted; it could not be grown further — free disk/address space or open the environment with a larger initialMapSize"
        case ENOSPC, EDQUOT, EFBIG:
            hint = "the disk (or quota) holding the state directory is full — free space or move the state directory, then retry"
        case EIO:
            hint = "a write to the state directory was cut short (how LMDB reports a disk that filled mid-write, or a failing disk) — free space or move the state directory, then retry"
        case MDB_NOTFOUND:
            hint = "the key or named database does not exist — create it first (a read-only environment cannot create databases)"
        case MDB_DBS_FULL:
            hint = "too many named databases — raise maxDatabases when opening the environment"
        case MDB_READERS_FULL:
            hint = "all reader slots are in use — finish read transactions sooner or close stale processes using this directory"
        case MDB_BAD_VALSIZE:
            hint = "keys must be 1…511 bytes long"
        case MDB_VERSION_MISMATCH, MDB_INVALID, MDB_CORRUPTED:
            hint = "the directory does not hold a usable LMDB environment of this version — restore it from a backup or point to another directory"
        case EACCES, EROFS, EPERM:
            hint = "permission denied — check ownership and permissions of the state directory (or open it read-only)"
        case ENOENT:
            hint = "the state directory does not exist"
        case EAGAIN:
            hint = "the environment is locked by another process in an incompatible mode"
        case EBUSY:
            hint = "a conflicting transaction is already open on this thread — do not nest write transactions, and close read transactions before a write that must grow the map"
        default:
            hint = "see the LMDB documentation for this error"
        }
        return "\(operation) failed: \(message) (code \(code)); \(hint)"
    }
}

/// Throws an ``LMDBError`` unless `rc` is `MDB_SUCCESS`.
@inline(__always)
private func check(_ rc: Int32, _ operation: String) throws {
    if rc != MDB_SUCCESS { throw LMDBError(code: rc, operation: operation) }
}

// MARK: - Database handle

/// A named database inside an ``LMDBEnvironment`` (wraps an `MDB_dbi`).
///
/// Only use it with transactions of the environment that created it.
public struct LMDBDatabase: Sendable, Hashable {
    let dbi: UInt32
    /// The database's name.
    public let name: String
}

// MARK: - Environment

/// An LMDB environment: one directory holding `data.mdb` and `lock.mdb`. Closed on deinit.
///
/// Opened with `MDB_NOTLS` (read transactions may run on any thread) and default durability
/// (every commit is fsynced). Thread-safe: write transactions are serialized in-process, and
/// growing the map waits for this process's read transactions to finish.
///
/// lmdb.h: "Do not have open an LMDB database twice in the same process at the same time."
/// Keep exactly one `LMDBEnvironment` per directory per process.
///
/// `@unchecked Sendable`: the one stored C handle, `env`, is made for use from several threads
/// (`MDB_NOTLS`); what LMDB leaves to the caller (one writer at a time, no map resize while a read
/// transaction is open) is enforced by `writerLock` and `registry`, Swift state is in those mutexes only.
public final class LMDBEnvironment: @unchecked Sendable {
    private let env: OpaquePointer
    /// The directory the environment lives in.
    public let path: String
    /// Whether the environment was opened read-only.
    public let isReadOnly: Bool

    /// Serializes write transactions, `mdb_dbi_open` and map resizes within this process.
    private let writerLock = TracedMutex(())
    /// The process's open read transactions by thread, whether a resize is under way, and the thread
    /// inside a write transaction.
    private struct Registry {
        var readers: [pthread_t: Int] = [:]
        var resizing = false
        var writerThread: pthread_t?
    }
    private let registry = TracedMutex(Registry())

    /// Opens (creating the directory if needed) an environment in directory `path`.
    ///
    /// If the environment already exists, its stored map size is kept when larger than
    /// `initialMapSize` (so a map grown earlier stays grown). In read-only mode the directory
    /// is not created and `create:` is ignored by ``database(named:create:)``.
    /// The corresponding C functions are `mdb_env_create`, `mdb_env_set_maxdbs`,
    /// `mdb_env_set_mapsize` and `mdb_env_open`.
    public init(directory path: String, maxDatabases: Int = 16, initialMapSize: Int = 64 << 20, readOnly: Bool = false) throws {
        if !readOnly {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError
                let errno = underlying?.domain == NSPOSIXErrorDomain ? Int32(underlying!.code) : EIO
                throw LMDBError(code: errno, operation: "mkdir")
            }
        }
        if !readOnly { try LMDBEnvironment.reserveLockFile(in: path) }
        let dataFile = (path as NSString).appendingPathComponent("data.mdb")
        let isNew = ((try? FileManager.default.attributesOfItem(atPath: dataFile))?[.size] as? NSNumber)?.intValue ?? 0 == 0
        var handle: OpaquePointer?
        try check(mdb_env_create(&handle), "mdb_env_create")
        guard let env = handle else { throw LMDBError(code: ENOMEM, operation: "mdb_env_create") }
        do {
            try check(mdb_env_set_maxdbs(env, UInt32(clamping: maxDatabases)), "mdb_env_set_maxdbs")
            // Size 0 before open: LMDB adopts the size stored in an existing environment (so a map
            // grown earlier stays grown), or its 10 MiB default for a new one; raised to initialMapSize below.
            try check(mdb_env_set_mapsize(env, 0), "mdb_env_set_mapsize")
            var flags = UInt32(MDB_NOTLS)
            if readOnly { flags |= UInt32(MDB_RDONLY) }
            // lmdb.h: "If this function fails, mdb_env_close() must be called to discard the MDB_env handle."
            try check(mdb_env_open(env, path, flags, 0o644), "mdb_env_open")
            try LMDBEnvironment.checkNotTruncated(env, directory: path)
            if !readOnly {
                var info = MDB_envinfo()
                try check(mdb_env_info(env, &info), "mdb_env_info")
                if info.me_mapsize < initialMapSize {
                    // lmdb.h: mdb_env_set_mapsize "may be called at later times if no transactions
                    // are active in this process" — none can be, the environment was just opened.
                    try check(mdb_env_set_mapsize(env, initialMapSize), "mdb_env_set_mapsize")
                }
            }
        } catch {
            mdb_env_close(env)
            // A new environment whose first meta pages did not all reach the disk (it filled) would read as
            // "not an LMDB file" next time: it held nothing, so it goes, and the next open starts it anew.
            if isNew, !readOnly { unlink(dataFile) }
            throw error
        }
        self.env = env
        self.path = path
        self.isReadOnly = readOnly
    }

    /// Allocates the disk blocks of a new `lock.mdb` before LMDB maps it. LMDB extends the lock file with
    /// `ftruncate` (a sparse file) and writes its reader table through a shared memory map: on a full file
    /// system (tmpfs above all) the first write to a page without a block kills the process with SIGBUS.
    /// Reserved here, a full disk is ENOSPC before anything is mapped. The size is the one LMDB gives the file
    /// for its default 126 readers (8 KiB): a lock file of another size would change how many reader slots
    /// each process sees. A lock file that already has its size is left alone (another process may map it).
    private static func reserveLockFile(in directory: String) throws {
        let lockFileSize: off_t = 8 << 10
        let path = (directory as NSString).appendingPathComponent("lock.mdb")
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LMDBError(code: errno, operation: "open lock.mdb") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size < lockFileSize else { return }
        let rc = posix_fallocate(fd, 0, lockFileSize)  // returns the error number; does not set errno
        if rc != 0, rc != EOPNOTSUPP, rc != EINVAL {
            throw LMDBError(code: rc, operation: "reserve lock.mdb")
        }
    }

    /// Refuses a data file shorter than its last used page: LMDB maps the file, and reading a page past its
    /// end would kill the process with SIGBUS instead of returning an error.
    /// The corresponding C functions are `mdb_env_info` and `mdb_env_stat`.
    private static func checkNotTruncated(_ env: OpaquePointer, directory: String) throws {
        var info = MDB_envinfo()
        var stat = MDB_stat()
        try check(mdb_env_info(env, &info), "mdb_env_info")
        try check(mdb_env_stat(env, &stat), "mdb_env_stat")
        let needed = (Int(info.me_last_pgno) + 1) * Int(stat.ms_psize)
        let file = (directory as NSString).appendingPathComponent("data.mdb")
        let size = ((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? NSNumber)?.intValue ?? 0
        if size < needed {
            throw LMDBError(code: MDB_CORRUPTED, operation: "mdb_env_open (data.mdb is truncated: \(size) bytes, its pages need \(needed))")
        }
    }

    /// Closes the environment. All transactions have ended (they cannot outlive their closures).
    /// The corresponding C function is `mdb_env_close`.
    deinit {
        mdb_env_close(env)
    }

    /// The current size of the memory map in bytes (the maximum size of the data file).
    /// The corresponding C function is `mdb_env_info`.
    public var mapSize: Int {
        var info = MDB_envinfo()
        _ = mdb_env_info(env, &info)
        return info.me_mapsize
    }

    /// Opens or creates a named database.
    ///
    /// Runs `mdb_dbi_open` in its own write transaction (with `MDB_CREATE` when `create` is true)
    /// and commits it; in a read-only environment it uses a read transaction and never creates.
    /// Throws an error with `isNotFound` when the database does not exist and is not created.
    /// The corresponding C function is `mdb_dbi_open`.
    public func database(named name: String, create: Bool = true) throws -> LMDBDatabase {
        // lmdb.h: "This function must not be called from multiple concurrent transactions in the
        // same process." — writerLock serializes it.
        if isReadOnly {
            // lmdb.h: "The database handle will be private to the current transaction until the
            // transaction is successfully committed." — hence commit (not abort) this read transaction.
            var dbi: UInt32 = 0
            try writerLock.withLock { _ in
                try withReadTransaction({ txn in
                    try check(mdb_dbi_open(txn.handle, name, 0, &dbi), "mdb_dbi_open")
                }, commit: true)
            }
            return LMDBDatabase(dbi: dbi, name: name)
        }
        return try withWriteTransaction { txn in
            var dbi: UInt32 = 0
            try txn.checkWrite(mdb_dbi_open(txn.handle, name, create ? UInt32(MDB_CREATE) : 0, &dbi), "mdb_dbi_open")
            return LMDBDatabase(dbi: dbi, name: name)
        }
    }

    /// Flushes the data buffers to disk, even though commits already fsync.
    /// The corresponding C function is `mdb_env_sync` (with `force = 1`).
    public func sync() throws {
        try check(mdb_env_sync(env, 1), "mdb_env_sync")
    }

    // MARK: Transactions

    /// Runs `body` in a write transaction; commits when it returns, aborts when it throws
    /// (rethrowing the error).
    ///
    /// When the map is full (`MDB_MAP_FULL` from any operation or from the commit), the
    /// transaction is aborted, the map size is doubled and `body` runs **again from the start**
    /// with a fresh transaction. So `body` must only act through `txn` (no side effects outside
    /// it, or side effects that are safe to repeat). Any other error aborts and is thrown.
    /// Write transactions are serialized; do not nest them (that throws `LMDBError.Code.busy`).
    /// The corresponding C functions are `mdb_txn_begin`, `mdb_txn_commit`, `mdb_txn_abort` and
    /// `mdb_env_set_mapsize`.
    @available(*, noasync)
    @discardableResult
    public func withWriteTransaction<R>(_ body: (inout LMDBWriteTransaction) throws -> R) throws -> R {
        let me = pthread_self()
        let nested = registry.withLock { $0.writerThread.map { pthread_equal($0, me) != 0 } ?? false }
        if nested { throw LMDBError(code: EBUSY, operation: "mdb_txn_begin") }
        // The result leaves the lock through a local: `TracedMutex.withLock` returns only values it can send.
        var result: R?
        try writerLock.withLock { _ in
            registry.withLock { $0.writerThread = me }
            defer { registry.withLock { $0.writerThread = nil } }
            result = try writeTransactionGrowingMap(body)
        }
        return result!
    }

    /// The body of ``withWriteTransaction(_:)``, with `writerLock` held: runs `body`, growing the map and
    /// running it again while LMDB reports the map full.
    private func writeTransactionGrowingMap<R>(_ body: (inout LMDBWriteTransaction) throws -> R) throws -> R {

        var growths = 0
        while true {
            var sawMapFull = false
            let outcome: R? = try withUnsafeMutablePointer(to: &sawMapFull) { flag -> R? in
                var txn = try LMDBWriteTransaction(handle: beginTransaction(flags: 0), mapFullFlag: flag)
                let r: Result<R, any Error>
                do { r = .success(try body(&txn)) } catch { r = .failure(error) }
                switch r {
                case .failure(let error):
                    txn.abort()
                    if flag.pointee { return nil }
                    throw error
                case .success(let value):
                    if flag.pointee { txn.abort(); return nil }
                    // mdb_txn_commit frees the handle even when it fails.
                    do {
                        try txn.commit()
                    } catch let error as LMDBError where error.isMapFull {
                        return nil
                    }
                    return value
                }
            }
            if let outcome { return outcome }
            // MDB_MAP_FULL: grow (no transaction of ours is open now) and run body again.
            growths += 1
            let current = mapSize
            let (doubled, overflow) = current.multipliedReportingOverflow(by: 2)
            if overflow || growths > 40 { throw LMDBError(code: MDB_MAP_FULL, operation: "mdb_env_set_mapsize") }
            try resizeMap(to: doubled)
        }
    }

    /// Runs `body` in a read-only transaction: a consistent snapshot that never blocks and is
    /// never blocked by writers. The transaction is always aborted (released) afterwards.
    /// May run on any thread (`MDB_NOTLS`). Keep it short: lmdb.h says "Avoid long-lived
    /// transactions. Read transactions prevent reuse of pages freed by newer write transactions",
    /// and a write that must grow the map waits for this process's readers to finish.
    /// The corresponding C functions are `mdb_txn_begin` (with `MDB_RDONLY`) and `mdb_txn_abort`.
    @available(*, noasync)
    @discardableResult
    public func withReadTransaction<R>(_ body: (borrowing LMDBReadTransaction) throws -> R) throws -> R {
        try withReadTransaction(body, commit: false)
    }

    private func withReadTransaction<R>(_ body: (borrowing LMDBReadTransaction) throws -> R, commit: Bool) throws -> R {
        let me = pthread_self()
        // Register as a reader; wait while a resize is in progress.
        while true {
            let registered = registry.withLock { registry -> Bool in
                if registry.resizing { return false }
                registry.readers[me, default: 0] += 1
                return true
            }
            if registered { break }
            usleep(1000)
        }
        defer {
            registry.withLock {
                if let n = $0.readers[me], n > 1 { $0.readers[me] = n - 1 } else { $0.readers[me] = nil }
            }
        }
        let txn = LMDBReadTransaction(handle: try beginTransaction(flags: UInt32(MDB_RDONLY)))
        let value: R
        do {
            value = try body(txn)
        } catch {
            txn.finish()
            throw error
        }
        if commit {
            try txn.commit()
        } else {
            txn.finish()
        }
        return value
    }

    /// `mdb_txn_begin`, adopting a map grown by another process (`MDB_MAP_RESIZED`).
    private func beginTransaction(flags: UInt32) throws -> OpaquePointer {
        var attempts = 0
        while true {
            var txn: OpaquePointer?
            let rc = mdb_txn_begin(env, nil, flags, &txn)
            if rc == MDB_MAP_RESIZED, attempts < 3, flags & UInt32(MDB_RDONLY) == 0 {
                // lmdb.h: "If the mapsize is increased by another process ... mdb_txn_begin() will
                // return MDB_MAP_RESIZED. This function may be called with a size of zero to adopt
                // the new size." Only done for writers (they hold writerLock, which resizeMap needs).
                attempts += 1
                try resizeMap(to: 0)
                continue
            }
            try check(rc, "mdb_txn_begin")
            return txn!
        }
    }

    /// Calls `mdb_env_set_mapsize` once no read transaction of this process is active.
    /// Caller holds `writerLock` and has no open write transaction.
    private func resizeMap(to size: Int) throws {
        let me = pthread_self()
        // lmdb.h: mdb_env_set_mapsize "may be called at later times if no transactions are active
        // in this process. Note that the library does not check for this condition, the caller
        // must ensure it explicitly." Readers on other threads are drained; one on this thread
        // would deadlock, so refuse.
        let ownReader = registry.withLock { registry -> Bool in
            if registry.readers.keys.contains(where: { pthread_equal($0, me) != 0 }) { return true }
            registry.resizing = true
            return false
        }
        if ownReader { throw LMDBError(code: EBUSY, operation: "mdb_env_set_mapsize") }
        defer { registry.withLock { $0.resizing = false } }
        while !registry.withLock({ $0.readers.isEmpty }) { usleep(1000) }
        try check(mdb_env_set_mapsize(env, size), "mdb_env_set_mapsize")
    }
}

// MARK: - Byte helpers

/// Presents `bytes` as an `MDB_val` for the duration of `body` (LMDB copies keys and values on put).
@inline(__always)
private func lmdbWithVal<R>(_ bytes: some ContiguousBytes, _ body: (inout MDB_val) throws -> R) rethrows -> R {
    try bytes.withUnsafeBytes { buf in
        if let base = buf.baseAddress {
            var val = MDB_val(mv_size: buf.count, mv_data: UnsafeMutableRawPointer(mutating: base))
            return try body(&val)
        }
        // Empty input may have no base address; give LMDB a valid pointer with size 0.
        var zero: UInt8 = 0
        return try withUnsafeMutableBytes(of: &zero) { z in
            var val = MDB_val(mv_size: 0, mv_data: z.baseAddress)
            return try body(&val)
        }
    }
}

@inline(__always)
private func lmdbBuffer(_ val: MDB_val) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: val.mv_data, count: val.mv_size)
}

// Shared read operations (used by both transaction types).

private func lmdbGet(_ txn: OpaquePointer, _ key: some ContiguousBytes, _ db: LMDBDatabase) throws -> [UInt8]? {
    try lmdbWithVal(key) { k in
        var v = MDB_val()
        let rc = mdb_get(txn, db.dbi, &k, &v)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_get")
        // lmdb.h: "Values returned from the database are valid only until a subsequent update
        // operation, or the end of the transaction." — so copy.
        return [UInt8](lmdbBuffer(v))
    }
}

private func lmdbCount(_ txn: OpaquePointer, _ db: LMDBDatabase) throws -> Int {
    var stat = MDB_stat()
    try check(mdb_stat(txn, db.dbi, &stat), "mdb_stat")
    return stat.ms_entries
}

// MARK: - Transactions

/// A write transaction, only available inside ``LMDBEnvironment/withWriteTransaction(_:)``.
///
/// Commit and abort are done by `withWriteTransaction`; if the value is dropped any other way,
/// deinit aborts it.
public struct LMDBWriteTransaction: ~Copyable {
    let handle: OpaquePointer
    /// Set when any operation returns `MDB_MAP_FULL` (the body may have swallowed the error;
    /// LMDB marks the transaction as failed anyway).
    private let mapFullFlag: UnsafeMutablePointer<Bool>

    init(handle: OpaquePointer, mapFullFlag: UnsafeMutablePointer<Bool>) {
        self.handle = handle
        self.mapFullFlag = mapFullFlag
    }

    deinit { mdb_txn_abort(handle) }

    /// `check` that also records `MDB_MAP_FULL` for the retry logic.
    func checkWrite(_ rc: Int32, _ operation: String) throws {
        if rc == MDB_MAP_FULL { mapFullFlag.pointee = true }
        try check(rc, operation)
    }

    /// Commits; lmdb.h: "The transaction handle is freed" (on success and failure alike).
    /// The corresponding C function is `mdb_txn_commit`.
    consuming func commit() throws {
        let h = handle
        let flag = mapFullFlag
        discard self
        let rc = mdb_txn_commit(h)
        if rc == MDB_MAP_FULL { flag.pointee = true }
        try check(rc, "mdb_txn_commit")
    }

    /// Aborts. The corresponding C function is `mdb_txn_abort`.
    consuming func abort() {
        let h = handle
        discard self
        mdb_txn_abort(h)
    }

    /// Returns a copy of the value stored under `key`, or nil when absent.
    /// The corresponding C function is `mdb_get`.
    public func get(_ key: some ContiguousBytes, in db: LMDBDatabase) throws -> [UInt8]? {
        try lmdbGet(handle, key, db)
    }

    /// Stores `value` under `key`, replacing any existing value. Keys must be 1…511 bytes.
    /// The corresponding C function is `mdb_put`.
    public func put(_ value: some ContiguousBytes, forKey key: some ContiguousBytes, in db: LMDBDatabase) throws {
        try lmdbWithVal(key) { k in
            try lmdbWithVal(value) { v in
                try checkWrite(mdb_put(handle, db.dbi, &k, &v, 0), "mdb_put")
            }
        }
    }

    /// Removes every entry of `db` (the database itself stays).
    /// The corresponding C function is `mdb_drop` (with `del = 0`).
    public func removeAll(in db: LMDBDatabase) throws {
        try checkWrite(mdb_drop(handle, db.dbi, 0), "mdb_drop")
    }

    /// Number of entries in `db` (for the wrapper's tests, which check the map growth rule through it).
    /// The corresponding C function is `mdb_stat`.
    func count(in db: LMDBDatabase) throws -> Int {
        try lmdbCount(handle, db)
    }
}

/// A read-only snapshot, only available inside ``LMDBEnvironment/withReadTransaction(_:)``.
public struct LMDBReadTransaction: ~Copyable {
    let handle: OpaquePointer

    init(handle: OpaquePointer) { self.handle = handle }

    deinit { mdb_txn_abort(handle) }

    /// Releases the snapshot. The corresponding C function is `mdb_txn_abort`.
    consuming func finish() {
        let h = handle
        discard self
        mdb_txn_abort(h)
    }

    /// Commits the read transaction (keeps database handles opened in it).
    /// The corresponding C function is `mdb_txn_commit`.
    consuming func commit() throws {
        let h = handle
        discard self
        try check(mdb_txn_commit(h), "mdb_txn_commit")
    }

    /// Returns a copy of the value stored under `key`, or nil when absent.
    /// The corresponding C function is `mdb_get`.
    public func get(_ key: some ContiguousBytes, in db: LMDBDatabase) throws -> [UInt8]? {
        try lmdbGet(handle, key, db)
    }

    /// Number of entries in `db` (for the wrapper's tests, which check the map growth rule through it).
    /// The corresponding C function is `mdb_stat`.
    func count(in db: LMDBDatabase) throws -> Int {
        try lmdbCount(handle, db)
    }
}
