import Foundation
import ReplayStream
import Testing

@testable import ReplayState

/// The timeline snapshot written to its file as it is handed over in chunks: the same hash as the whole
/// buffer's, the same bytes read back, and no file left behind by a snapshot that is not committed.
@Suite struct SnapshotFileTests {
    /// A fresh state folder, removed after `body`.
    func withStore<T>(_ body: (StateStore, String) throws -> T) throws -> T {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("replay-snapshot-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = try StateStore(directory: folder)
        return try body(store, folder)
    }

    /// Bytes that look like nothing in particular (a seeded linear congruential sequence).
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var x = seed
        return (0..<count).map { _ in
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: x >> 56)
        }
    }

    /// Hands `bytes` to `writer` in chunks of the given sizes (the last one takes the rest).
    static func write(_ bytes: [UInt8], chunks sizes: [Int], to writer: any TimelineSnapshotWriter) throws {
        var start = 0
        var chunk: [UInt8] = []
        for size in sizes + [bytes.count] where start < bytes.count {
            let end = min(bytes.count, start + size)
            chunk.append(contentsOf: bytes[start..<end])
            var full: [UInt8] = []
            swap(&full, &chunk)
            chunk = try writer.write(consume full)
            #expect(chunk.isEmpty)
            start = end
        }
    }

    @Test func aHashFedInPiecesIsTheHashOfTheWhole() {
        for count in [0, 1, 7, 8, 9, 63, 64, 1_000, 4_099] {
            let bytes = Self.bytes(count, seed: UInt64(count))
            let whole = StateStore.hash(bytes)
            for split in [1, 3, 5, 8, 13, 64, 1_000] {
                var h = SnapshotHash()
                var i = 0
                bytes.withUnsafeBytes { raw in
                    while i < raw.count {
                        let end = min(raw.count, i + split)
                        h.add(UnsafeRawBufferPointer(rebasing: raw[i..<end]))
                        i = end
                    }
                }
                #expect(h.final == whole, "\(count) bytes fed \(split) at a time")
            }
        }
        // FNV-1a's offset basis for no bytes; a change of one byte changes the hash.
        #expect(StateStore.hash([]) == 0xcbf2_9ce4_8422_2325)
        #expect(StateStore.hash([1, 2, 3]) != StateStore.hash([1, 2, 4]))
    }

    @Test func aSnapshotWrittenInChunksIsCommittedAndReadBackWhole() throws {
        try withStore { store, folder in
            let bytes = Self.bytes(1_000_003, seed: 3)
            let writer = try store.startSnapshot()
            try Self.write(bytes, chunks: [8, 100_000, 3, 262_144, 5], to: writer)
            let snapshot = try writer.finish()
            #expect(snapshot.bytes.isEmpty)
            #expect(snapshot.stored?.size == bytes.count)
            #expect(snapshot.stored?.hash == StateStore.hash(bytes))
            var progress = ReplayProgress(nextDay: CalendarDay(rawValue: 18_500))
            progress.eventsReplayed = 42
            try store.commit(PanelCheckpoint(progress: progress, timelines: snapshot))
            let back = try #require(try store.loadCheckpoint(payloads: []))
            #expect(back.timelines.bytes == bytes)
            #expect(back.progress.eventsReplayed == 42)
            let files = try FileManager.default.contentsOfDirectory(atPath: folder + "/snapshots")
            #expect(files == [try #require(snapshot.stored?.name)])
        }
    }

    @Test func theNextCommitReplacesTheLastSnapshotFile() throws {
        try withStore { store, folder in
            var names: [String] = []
            for seed in 1...3 {
                let bytes = Self.bytes(10_000 * seed, seed: UInt64(seed))
                let writer = try store.startSnapshot()
                try Self.write(bytes, chunks: [4_096], to: writer)
                let snapshot = try writer.finish()
                names.append(try #require(snapshot.stored?.name))
                try store.commit(PanelCheckpoint(progress: ReplayProgress(nextDay: CalendarDay(rawValue: Int32(seed))), timelines: snapshot))
                #expect(try store.loadCheckpoint(payloads: [])?.timelines.bytes == bytes)
            }
            #expect(Set(names).count == 3)
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/snapshots") == [names.last!])
        }
    }

    @Test func anAbandonedSnapshotLeavesNoFile() throws {
        try withStore { store, folder in
            let writer = try store.startSnapshot()
            try Self.write(Self.bytes(50_000, seed: 9), chunks: [10_000], to: writer)
            writer.abandon()
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/snapshots").isEmpty)
            #expect(try store.loadCheckpoint(payloads: []) == nil)
        }
    }

    /// A crash between writing a snapshot and committing it leaves its `.partial` file, which no checkpoint
    /// names: opening the folder again removes it, and the last committed snapshot stays.
    @Test func aSnapshotNeverCommittedIsRemovedWhenTheFolderIsOpenedAgain() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("replay-snapshot-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let committed = Self.bytes(20_000, seed: 1)
        var committedName = ""
        do {
            let store = try StateStore(directory: folder)
            let first = try store.startSnapshot()
            try Self.write(committed, chunks: [8_192], to: first)
            let snapshot = try first.finish()
            committedName = try #require(snapshot.stored?.name)
            try store.commit(PanelCheckpoint(progress: ReplayProgress(nextDay: CalendarDay(rawValue: 1)), timelines: snapshot))
            let second = try store.startSnapshot()
            try Self.write(Self.bytes(30_000, seed: 2), chunks: [8_192], to: second)
            _ = try second.finish()  // never committed
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/snapshots").count == 2)
        }
        let reopened = try StateStore(directory: folder)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/snapshots") == [committedName])
        #expect(try reopened.loadCheckpoint(payloads: [])?.timelines.bytes == committed)
    }
}
