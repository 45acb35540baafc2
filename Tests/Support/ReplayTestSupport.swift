import Foundation
import ReplayStream
import Synchronization

/// In-memory sinks and state backends, and random logs, for tests that drive the engine without files.

/// Collects records in memory.
public final class CollectingSink: RecordSink {
    public var records: [UserDayRecord] = []
    public init() {}
    public func write(_ record: UserDayRecord) throws { records.append(record) }
    public func flush() throws -> Int64 { Int64(records.count) }
    public var durability: any OutputDurability { NothingToSync() }
}

/// Keeps the last checkpoint in memory (committed on the checkpoint thread, read by the test's).
public final class MemoryState: StateBackend {
    private let kept = Mutex<(last: PanelCheckpoint?, commits: Int)>((nil, 0))
    public init() {}
    /// The last checkpoint committed.
    public var last: PanelCheckpoint? { kept.withLock { $0.last } }
    /// Checkpoints committed.
    public var commits: Int { kept.withLock { $0.commits } }
    public func commit(_ checkpoint: PanelCheckpoint) throws {
        kept.withLock {
            $0.last = checkpoint
            $0.commits += 1
        }
    }
}

/// A random log: users who start late, stop early, skip days; written straight into day buckets.
public struct RandomLog {
    public var events: [(CalendarDay, Interaction)] = []
    public var summary = IngestSummary()

    public init(seed: UInt64, users: Int, days: Int) {
        var state = seed
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let first = CalendarDay(yyyymmdd: 20200705)!
        var counts: [UInt64: (Int, Int)] = [:]
        var userSet = Set<Int32>()
        for u in 0..<users {
            let start = Int(next() % UInt64(days / 2 + 1))
            let stop = days - Int(next() % UInt64(days / 3 + 1))
            for d in start..<max(start + 1, stop) where next() % 5 != 0 {
                let n = 1 + Int(next() % 12)
                for k in 0..<n {
                    let video = Int32(next() % 25)
                    let play = Int64(next() % 20_000)
                    let dur = Int64(1_000 + next() % 20_000)
                    let e = Interaction(
                        timestampMs: Int64(first.adding(d).rawValue) * 86_400_000 + Int64(k * 60_000) + Int64(next() % 1000),
                        userID: Int32(u * 3 + 1), videoID: video, playDurationMs: play, videoDurationMs: dur,
                        watchRatio: Double(play) / Double(dur))
                    events.append((first.adding(d), e))
                    let key = UInt64(u) << 32 | UInt64(d)
                    let old = counts[key] ?? (0, 0)
                    counts[key] = (old.0 + 1, old.1 + (e.watchRatio >= 0.8 ? 1 : 0))
                    userSet.insert(e.userID)
                }
            }
        }
        let days = events.map(\.0)
        summary.firstDay = days.min()
        summary.lastDay = days.max()
        summary.users = userSet.sorted()
        summary.rowsRead = events.count
        summary.rowsAccepted = events.count
        for (_, v) in counts { summary.distribution.add(interactions: v.0, highWatchCount: v.1) }
    }

    public func buckets(in dir: URL) throws -> DayBuckets {
        let b = try DayBuckets(directory: dir)
        for (d, e) in events { try b.append(e, day: d) }
        try b.flush()
        return b
    }
}

public func temporaryDirectory() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("replay-test-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

