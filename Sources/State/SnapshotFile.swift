import Foundation
import ReplayStream
import SystemPackage

/// FNV-1a over 64-bit words (and the tail bytes), fed in pieces: detects a damaged snapshot file cheaply.
/// Feeding a file's bytes in any split gives the hash of the whole (``StateStore/hash(_:)``).
struct SnapshotHash {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    /// Bytes of a word not yet complete (fewer than 8), at the end of what was fed.
    private var tail: UInt64 = 0
    private var tailCount = 0

    /// Feeds the next bytes.
    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var i = 0
        while tailCount > 0 && tailCount < 8 && i < bytes.count {
            tail |= UInt64(bytes[i]) << UInt64(8 * tailCount)
            tailCount += 1
            i += 1
        }
        if tailCount == 8 {
            value = (value ^ tail) &* Self.prime
            tail = 0
            tailCount = 0
        }
        while i + 8 <= bytes.count {
            value = (value ^ UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))) &* Self.prime
            i += 8
        }
        while i < bytes.count {
            tail |= UInt64(bytes[i]) << UInt64(8 * tailCount)
            tailCount += 1
            i += 1
        }
    }

    /// The hash of everything fed (the bytes of an incomplete last word hashed one by one).
    var final: UInt64 {
        var h = value
        for k in 0..<tailCount { h = (h ^ (tail >> UInt64(8 * k) & 0xFF)) &* Self.prime }
        return h
    }

    private static let prime: UInt64 = 0x100_0000_01b3
}

/// Writes a checkpoint's timeline snapshot to `snapshots/NAME.partial` as the engine hands it over in chunks:
/// the `write`s and the hash run on a queue of their own (``BufferWriteQueue``: two chunks in flight, two kept
/// for reuse), so the engine's thread only encodes, and no buffer holds the whole snapshot. The checkpoint's
/// commit (``StateStore/commit(_:)``) fsyncs the file and renames it to `NAME` (``AtomicFile/commit(_:)``)
/// before its transaction names it; a crash before that leaves a file no checkpoint names, removed when the
/// store is opened again.
///
/// Errors: a full disk is ``StateError`` `diskFullAtCheckpoint` (the partial file removed), other failures
/// the ``POSIXFileError`` naming the file.
final class SnapshotFileWriter: TimelineSnapshotWriter {
    private let name: String
    private let partial: String
    private let stateDirectory: String
    private let descriptor: FileDescriptor
    private let queue = BufferWriteQueue<UInt8>(label: "replay.snapshot")
    private let hash = HashBox()
    private var size = 0
    private var isOpen = true

    /// The hash, written by the queue's blocks (one at a time) and read after they are done.
    private final class HashBox: Sendable {
        let state = TracedMutex(SnapshotHash())
    }

    /// Creates (or empties) `folder/name.partial`. `stateDirectory` names the state folder in errors.
    init(folder: String, name: String, stateDirectory: String) throws {
        self.name = name
        self.stateDirectory = stateDirectory
        partial = AtomicFile.partialPath(for: (folder as NSString).appendingPathComponent(name))
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            descriptor = try FileDescriptor.open(
                FilePath(partial), .writeOnly, options: [.create, .truncate],
                permissions: [.ownerReadWrite, .groupRead, .otherRead])
        } catch let error as Errno {
            throw Self.stateError(POSIXFileError(path: partial, operation: "open", error), directory: stateDirectory)
        }
    }

    func write(_ chunk: consuming [UInt8]) throws -> [UInt8] {
        try check()
        size += chunk.count
        let descriptor = self.descriptor, partial = self.partial, hash = self.hash
        var sent = consume chunk
        queue.send(&sent) { mutable in
            let bytes = UnsafeRawBufferPointer(mutable)
            hash.state.withLock { $0.add(bytes) }
            try descriptor.writeAll(bytes, path: partial)
        }
        return sent
    }

    func finish() throws -> TimelineSnapshot {
        queue.waitForWrites()
        try check()
        close()
        return TimelineSnapshot(
            stored: StoredTimelineSnapshot(name: name, size: size, hash: hash.state.withLock { $0.final }))
    }

    func abandon() {
        queue.waitForWrites()
        close()
        unlink(partial)
    }

    /// Throws the first failed write (the partial file removed).
    private func check() throws {
        do {
            try queue.failure.check()
        } catch {
            abandon()
            throw Self.stateError(error, directory: stateDirectory)
        }
    }

    private func close() {
        guard isOpen else { return }
        isOpen = false
        try? descriptor.close()
    }

    /// A full disk as the state folder's error (what the user does about it is the same as for a commit).
    private static func stateError(_ error: any Error, directory: String) -> any Error {
        guard let file = error as? POSIXFileError, file.isDiskFull else { return error }
        return StateError(directory: directory, kind: .diskFullAtCheckpoint(cause: "\(file)"))
    }
}
