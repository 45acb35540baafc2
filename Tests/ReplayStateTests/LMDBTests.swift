import Foundation
import ReplayStream
import Testing
@testable import ReplayState

/// Runs `body` with a fresh, unique temporary directory path and removes it afterwards.
private func lmdbWithTempDirectory<R>(_ body: (String) throws -> R) throws -> R {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("lmdb-test-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url.path)
}

private func lmdbBytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// A key made of `i`'s 8 big-endian bytes.
private func lmdbKey(_ i: Int) -> [UInt8] { withUnsafeBytes(of: UInt64(i).bigEndian) { Array($0) } }

private struct LMDBTestBoom: Error, Equatable {}

/// Shared mutable state for the cross-thread tests.
private final class LMDBTestBox<T: Sendable>: Sendable {
    private let stored: TracedMutex<T>
    init(_ value: T) { stored = TracedMutex(value) }
    var value: T {
        get { stored.withLock { $0 } }
        set { stored.withLock { $0 = newValue } }
    }
}

@Suite("LMDB wrapper")
struct LMDBTests {
    @Test func putGetOverwriteRemoveAll() throws {
        try lmdbWithTempDirectory { dir in
            let env = try LMDBEnvironment(directory: dir)
            let db = try env.database(named: "kv")
            try env.withWriteTransaction { txn in
                try txn.put(lmdbBytes("one"), forKey: lmdbBytes("a"), in: db)
                try txn.put(lmdbBytes("two"), forKey: lmdbBytes("b"), in: db)
                #expect(try txn.get(lmdbBytes("a"), in: db) == lmdbBytes("one"))
                try txn.put(lmdbBytes("uno"), forKey: lmdbBytes("a"), in: db)  // overwrite
                try txn.put([UInt8](), forKey: lmdbBytes("empty"), in: db)  // empty value is allowed
            }
            try env.withReadTransaction { txn throws in
                #expect(try txn.get(lmdbBytes("a"), in: db) == lmdbBytes("uno"))
                #expect(try txn.get(lmdbBytes("b"), in: db) == lmdbBytes("two"))
                #expect(try txn.get(lmdbBytes("empty"), in: db) == [])
                #expect(try txn.get(lmdbBytes("zzz"), in: db) == nil)
                #expect(try txn.count(in: db) == 3)
            }
            try env.withWriteTransaction { txn in try txn.removeAll(in: db) }
            #expect(try env.withReadTransaction { try $0.count(in: db) } == 0)
        }
    }

    @Test func databasesAreSeparate() throws {
        try lmdbWithTempDirectory { dir in
            let env = try LMDBEnvironment(directory: dir)
            let a = try env.database(named: "a"), b = try env.database(named: "b")
            #expect(a != b)
            #expect(try env.database(named: "a") == a)
            try env.withWriteTransaction { txn in try txn.put(lmdbBytes("x"), forKey: lmdbBytes("k"), in: a) }
            try env.withReadTransaction { txn throws in
                #expect(try txn.get(lmdbBytes("k"), in: a) == lmdbBytes("x"))
                #expect(try txn.get(lmdbBytes("k"), in: b) == nil)
            }
        }
    }

    @Test func abortedTransactionLeavesNoTrace() throws {
        try lmdbWithTempDirectory { dir in
            let env = try LMDBEnvironment(directory: dir)
            let db = try env.database(named: "kv")
            try env.withWriteTransaction { txn in try txn.put(lmdbBytes("kept"), forKey: lmdbBytes("old"), in: db) }
            #expect(throws: LMDBTestBoom.self) {
                try env.withWriteTransaction { txn in
                    try txn.put(lmdbBytes("new"), forKey: lmdbBytes("new"), in: db)
                    try txn.put(lmdbBytes("changed"), forKey: lmdbBytes("old"), in: db)
                    throw LMDBTestBoom()
                }
            }
            try env.withReadTransaction { txn throws in
                #expect(try txn.get(lmdbBytes("new"), in: db) == nil)
                #expect(try txn.get(lmdbBytes("old"), in: db) == lmdbBytes("kept"))
                #expect(try txn.count(in: db) == 1)
            }
            // The environment is still usable after an aborted transaction.
            try env.withWriteTransaction { txn in try txn.put(lmdbBytes("v"), forKey: lmdbBytes("after"), in: db) }
            #expect(try env.withReadTransaction { try $0.get(lmdbBytes("after"), in: db) } == lmdbBytes("v"))
        }
    }

    @Test func mapGrowsAndBodyIsRetried() throws {
        try lmdbWithTempDirectory { dir in
            let env = try LMDBEnvironment(directory: dir, initialMapSize: 32 * 4096)
            let initial = env.mapSize
            let db = try env.database(named: "big")
            let value = [UInt8](repeating: 0xAB, count: 3000)
            var runs = 0
            try env.withWriteTransaction { txn in
                runs += 1
                for i in 0..<2000 {  // ~6 MB in one transaction
                    try txn.put(value, forKey: lmdbKey(i), in: db)
                }
            }
            #expect(runs > 1)
            #expect(env.mapSize > initial)
            #expect(env.mapSize >= 6_000_000)
            try env.withReadTransaction { txn throws in
                #expect(try txn.count(in: db) == 2000)
                #expect(try txn.get(lmdbKey(1999), in: db) == value)
            }
        }
    }

    @Test func mapFullSwallowedByBodyStillGrows() throws {
        try lmdbWithTempDirectory { dir in
            let env = try LMDBEnvironment(directory: dir, initialMapSize: 32 * 4096)
            let db = try env.database(named: "big")
            let value = [UInt8](repeating: 1, count: 4000)
            var sawMapFull = false
            try env.withWriteTransaction { txn in
                for i in 0..<500 {
                    do {
                        try txn.put(value, forKey: lmdbKey(i), in: db)
                    } catch LMDBError.Code.mapFull {
                        sawMapFull = true
                        return  // swallow it and return normally
                    }
                }
            }
            #expect(sawMapFull)
            #expect(try env.withReadTransaction { try $0.count(in: db) } == 500)
        }
    }

    @Test func dataPersistsAndGrownSizeIsKeptAfterReopen() throws {
        try lmdbWithTempDirectory { dir in
            let grown: Int
            do {
                let env = try LMDBEnvironment(directory: dir, initialMapSize: 32 * 4096)
                let db = try env.database(named: "kv")
                try env.withWriteTransaction { txn in
                    for i in 0..<1000 {  // ~12 MB: more than LMDB's 10 MiB default map size
                        try txn.put([UInt8](repeating: UInt8(i % 256), count: 12_000), forKey: lmdbKey(i), in: db)
                    }
                }
                try env.sync()
                grown = env.mapSize
                #expect(grown > 32 * 4096)
            }  // env closed here
            let env = try LMDBEnvironment(directory: dir, initialMapSize: 32 * 4096)
            #expect(env.mapSize >= grown)
            let db = try env.database(named: "kv", create: false)
            try env.withReadTransaction { txn throws in
                #expect(try txn.count(in: db) == 1000)
                #expect(try txn.get(lmdbKey(999), in: db) == [UInt8](repeating: UInt8(999 % 256), count: 12_000))
            }
            try env.withWriteTransaction { txn in try txn.put(lmdbBytes("x"), forKey: lmdbBytes("more"), in: db) }
        }
    }

    @Test func readOnlyEnvironmentCanRead() throws {
        try lmdbWithTempDirectory { dir in
            do {
                let env = try LMDBEnvironment(directory: dir)
                let db = try env.database(named: "kv")
                try env.withWriteTransaction { txn in try txn.put(lmdbBytes("v"), forKey: lmdbBytes("k"), in: db) }
            }
            let ro = try LMDBEnvironment(directory: dir, readOnly: true)
            let db = try ro.database(named: "kv")
            #expect(try ro.withReadTransaction { try $0.get(lmdbBytes("k"), in: db) } == lmdbBytes("v"))
            // A database that does not exist cannot be created read-only.
            do {
                _ = try ro.database(named: "missing")
                Issue.record("expected MDB_NOTFOUND")
            } catch LMDBError.Code.notFound {
            }
            // Writes are refused.
            #expect(throws: LMDBError.self) {
                try ro.withWriteTransaction { txn in try txn.put(lmdbBytes("v"), forKey: lmdbBytes("k2"), in: db) }
            }
        }
    }

    @Test func missingDirectoryReadOnlyFailsCleanly() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmdb-missing-\(UUID().uuidString)").path
        #expect(throws: LMDBError.self) { _ = try LMDBEnvironment(directory: dir, readOnly: true) }
        #expect(!FileManager.default.fileExists(atPath: dir))
    }

    @Test func errorsDescribeThemselves() throws {
        try lmdbWithTempDirectory { dir in
            let env = try LMDBEnvironment(directory: dir)
            do {
                _ = try env.database(named: "nope", create: false)
                Issue.record("expected an error")
            } catch let error as LMDBError {
                #expect(error.isNotFound)
                #expect(!error.isMapFull && !error.isDiskFull)
                #expect(error.operation == "mdb_dbi_open")
                #expect(error.description.contains("mdb_dbi_open"))
                #expect(error.message.contains("MDB_NOTFOUND"))
            }
            #expect(LMDBError(code: ENOSPC, operation: "mdb_put").isDiskFull)
            #expect(LMDBError(code: ENOSPC, operation: "mdb_put").message == String(cString: strerror(ENOSPC)))
            // Keys must be 1...511 bytes.
            let db = try env.database(named: "kv")
            #expect(throws: LMDBError(code: LMDBError.Code.badValueSize.rawValue, operation: "mdb_put")) {
                try env.withWriteTransaction { txn in try txn.put(lmdbBytes("v"), forKey: [UInt8](), in: db) }
            }
        }
    }

    @Test func nestedWriteTransactionIsRefused() throws {
        try lmdbWithTempDirectory { dir in
            let env = try LMDBEnvironment(directory: dir)
            let db = try env.database(named: "kv")
            try env.withWriteTransaction { txn in
                try txn.put(lmdbBytes("v"), forKey: lmdbBytes("k"), in: db)
                #expect(throws: LMDBError(code: LMDBError.Code.busy.rawValue, operation: "mdb_txn_begin")) {
                    try env.withWriteTransaction { _ in }
                }
            }
            #expect(try env.withReadTransaction { try $0.get(lmdbBytes("k"), in: db) } == lmdbBytes("v"))
        }
    }

    /// A read transaction on another thread keeps its snapshot while this thread writes and
    /// commits: readers and the writer do not block each other.
    /// (Two environments on the same directory in one process are forbidden by lmdb.h, and a
    /// child process would need a helper binary, so the concurrency is tested across threads.)
    @Test func readerAndWriterRunConcurrently() throws {
        try lmdbWithTempDirectory { dir in
            let env = try LMDBEnvironment(directory: dir)
            let db = try env.database(named: "kv")
            try env.withWriteTransaction { txn in try txn.put(lmdbBytes("old"), forKey: lmdbBytes("k"), in: db) }

            let readerStarted = DispatchSemaphore(value: 0)
            let writerDone = DispatchSemaphore(value: 0)
            let readerDone = DispatchSemaphore(value: 0)
            let before = LMDBTestBox<[UInt8]?>(nil), after = LMDBTestBox<[UInt8]?>(nil), readerError = LMDBTestBox<Error?>(nil)
            let thread = Thread {
                do {
                    try env.withReadTransaction { txn throws in
                        before.value = try txn.get(lmdbBytes("k"), in: db)
                        readerStarted.signal()
                        writerDone.wait()
                        after.value = try txn.get(lmdbBytes("k"), in: db)  // still the old snapshot
                    }
                } catch { readerError.value = error }
                readerDone.signal()
            }
            thread.start()
            readerStarted.wait()
            try env.withWriteTransaction { txn in try txn.put(lmdbBytes("new"), forKey: lmdbBytes("k"), in: db) }
            #expect(try env.withReadTransaction { try $0.get(lmdbBytes("k"), in: db) } == lmdbBytes("new"))
            writerDone.signal()
            readerDone.wait()
            #expect(readerError.value == nil)
            #expect(before.value == lmdbBytes("old"))
            #expect(after.value == lmdbBytes("old"))
        }
    }

    /// Growing the map waits for this process's readers on other threads to finish.
    @Test func growthWaitsForReaderOnAnotherThread() throws {
        try lmdbWithTempDirectory { dir in
            let env = try LMDBEnvironment(directory: dir, initialMapSize: 32 * 4096)
            let db = try env.database(named: "kv")
            try env.withWriteTransaction { txn in try txn.put(lmdbBytes("v"), forKey: lmdbBytes("k"), in: db) }
            let readerStarted = DispatchSemaphore(value: 0)
            let readerDone = DispatchSemaphore(value: 0)
            let readValue = LMDBTestBox<[UInt8]?>(nil), readerEnd = LMDBTestBox(Date.distantFuture)
            let thread = Thread {
                try? env.withReadTransaction { txn throws in
                    readerStarted.signal()
                    Thread.sleep(forTimeInterval: 0.3)
                    readValue.value = try txn.get(lmdbBytes("k"), in: db)
                    readerEnd.value = Date()
                }
                readerDone.signal()
            }
            thread.start()
            readerStarted.wait()
            try env.withWriteTransaction { txn in
                for i in 0..<500 {
                    try txn.put([UInt8](repeating: 7, count: 4000), forKey: lmdbKey(i), in: db)
                }
            }
            let writerEnd = Date()
            readerDone.wait()
            #expect(writerEnd >= readerEnd.value)  // the resize waited for the reader
            #expect(readValue.value == lmdbBytes("v"))
            #expect(try env.withReadTransaction { try $0.count(in: db) } == 501)
        }
    }

    /// A write that must grow the map while this same thread holds a read transaction would
    /// deadlock; it is refused instead.
    @Test func growthInsideOwnReadTransactionIsRefused() throws {
        try lmdbWithTempDirectory { dir in
            let env = try LMDBEnvironment(directory: dir, initialMapSize: 32 * 4096)
            let db = try env.database(named: "kv")
            try env.withReadTransaction { _ throws in
                #expect(throws: LMDBError(code: LMDBError.Code.busy.rawValue, operation: "mdb_env_set_mapsize")) {
                    try env.withWriteTransaction { txn in
                        for i in 0..<500 {
                            try txn.put([UInt8](repeating: 7, count: 4000), forKey: lmdbKey(i), in: db)
                        }
                    }
                }
            }
            // And it works once the read transaction is over.
            try env.withWriteTransaction { txn in
                for i in 0..<500 {
                    try txn.put([UInt8](repeating: 7, count: 4000), forKey: lmdbKey(i), in: db)
                }
            }
        }
    }
}
