import Foundation
import KuaiRecFixtures
import ReplayStream

/// In-memory sinks, state backends and rejects, a clock the test moves, seeded random numbers and random
/// logs, for tests that drive the engine without files or real waiting.

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
    private let kept = TracedMutex<(last: PanelCheckpoint?, commits: Int)>((nil, 0))
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

/// Collects a live feed's rejected rows in memory. ``flush()`` returns the count of rows kept, which a
/// checkpoint stores as the rejects' length: a resumed test cuts ``rows`` back to it.
public final class CollectingRejects: LiveRejectWriter {
    /// One rejected row.
    public struct Row: Equatable, Sendable {
        public var line: Int64
        public var reason: String
        public var raw: String
        /// A late or idle-closed row's day (nil for other reasons).
        public var day: CalendarDay?
        /// How far a late row was behind the newest event time, in ms.
        public var latenessMs: Int64?
        /// Why a late row could not be revised.
        public var note: String?

        public init(
            line: Int64, reason: String, raw: String, day: CalendarDay? = nil, latenessMs: Int64? = nil, note: String? = nil
        ) {
            (self.line, self.reason, self.raw, self.day, self.latenessMs, self.note) = (line, reason, raw, day, latenessMs, note)
        }
    }

    /// Thrown by a write for ``failsOn``'s reason: an interrupted run (a crash) in the middle of a read.
    public struct SimulatedCrash: Error {}

    public var rows: [Row] = []
    /// A reason whose next row throws ``SimulatedCrash`` instead of being kept (once).
    public var failsOn: RejectReason?

    public init() {}

    public func reject(line: Int64, reason: RejectReason, raw: UnsafeRawBufferPointer) throws {
        try keep(Row(line: line, reason: reason.rawValue, raw: String(decoding: raw, as: UTF8.self)))
    }

    public func rejectLate(
        line: Int64, raw: UnsafeRawBufferPointer, reason: RejectReason, day: CalendarDay, latenessMs: Int64?, note: String?
    ) throws {
        try keep(
            Row(
                line: line, reason: reason.rawValue, raw: String(decoding: raw, as: UTF8.self), day: day,
                latenessMs: latenessMs, note: note))
    }

    private func keep(_ row: Row) throws {
        if let failsOn, row.reason == failsOn.rawValue {
            self.failsOn = nil
            throw SimulatedCrash()
        }
        rows.append(row)
    }

    public func flush() throws -> Int64 { Int64(rows.count) }
    public func sync() throws {}
}

/// A clock that moves only when told: ``sleep(seconds:)`` advances it at once (no real waiting) and records
/// the sleep; ``advance(by:)`` moves it from the test. Shared state is behind a `TracedMutex`, so it is `Sendable`.
public final class ManualClock: WallClock {
    private let state: TracedMutex<(now: Double, sleeps: [Double])>

    /// A clock reading `now`.
    public init(now: Double = 0) { state = TracedMutex((now, [])) }

    public func now() -> Double { state.withLock { $0.now } }

    public func sleep(seconds: Double) {
        state.withLock {
            $0.sleeps.append(seconds)
            if seconds > 0 { $0.now += seconds }
        }
    }

    /// The clock's own time as Unix milliseconds (`now` seconds after 1970).
    public func calendarMs() -> Int64 { Int64((now() * 1000).rounded()) }

    /// Moves the clock `seconds` forward.
    public func advance(by seconds: Double) { state.withLock { $0.now += seconds } }

    /// Every sleep asked for, in order.
    public var sleeps: [Double] { state.withLock { $0.sleeps } }
}

/// The generator's SplitMix64 as a `RandomNumberGenerator`, so that a test drawing random values draws the
/// same ones for the same seed. Every random test takes its numbers from it, seeded by ``testSeed(default:)``.
public struct SeededGenerator: RandomNumberGenerator {
    private var bits: SplitMix64

    /// Starts the sequence at `seed`.
    public init(seed: UInt64) { bits = SplitMix64(seed: seed) }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 { bits.next() }

    /// Uniform in [0, 1), with 53 random bits.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
}

/// The environment variable that overrides every random test's seed: a failure message names its seed, and
/// `REPLAY_TEST_SEED=N swift test --filter NAME` draws the same values again.
public let testSeedVariable = "REPLAY_TEST_SEED"

/// A random test's seed: `REPLAY_TEST_SEED` when set (decimal, or hexadecimal after `0x`), else `value`.
/// A value that is not a number stops the test run (a typo would otherwise rerun another seed).
public func testSeed(default value: UInt64) -> UInt64 {
    guard let text = ProcessInfo.processInfo.environment[testSeedVariable] else { return value }
    let parsed = text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
    guard let parsed else { preconditionFailure("\(testSeedVariable)=\(text) is not an unsigned 64-bit number") }
    return parsed
}

/// A random log: users who start late, stop early, skip days; written straight into day buckets.
public struct RandomLog {
    public var events: [(CalendarDay, Interaction)] = []
    public var summary = IngestSummary()

    public init(seed: UInt64, users: Int, days: Int) {
        var random = SeededGenerator(seed: seed)
        func next() -> UInt64 { random.next() }
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

    /// The log's events appended to buckets in `dir`; `fresh`: the folder emptied first (``DayBuckets/removeAll()``),
    /// as an archive's ingest does, so that the buckets know each day's order from the appends.
    public func buckets(in dir: URL, fresh: Bool = false) throws -> DayBuckets {
        let b = try DayBuckets(directory: dir)
        if fresh { try b.removeAll() }
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

