import Foundation

/// How often the replay commits a checkpoint. A checkpoint is taken between two chunks of events (inside a day
/// too) or at a day's close, the first such point after the interval has passed since the last one ended.
public enum CheckpointPolicy: Equatable, Sendable, CustomStringConvertible {
    /// Every ``autoSeconds`` seconds, and further apart when checkpoints take long: the pause after each is at
    /// least ``autoPauseFactor`` times what it took, the longer of the time it held the event loop and the time
    /// the last checkpoint took to become durable (the output's sync and the state's commit, on a thread of their
    /// own), so that checkpoints take at most a twentieth of the time whatever the state's size and the disk's
    /// speed (the default). The timelines' snapshot grows with the users, and at a fixed interval its cost per
    /// event would grow with them; the durability shares the disk with the output's writes, and when those are
    /// what the run waits for (every revision of a large log), each second of it is a second of the run.
    case auto
    /// At least this many seconds of wall time apart.
    case seconds(Double)
    /// At least this many replayed events apart.
    case events(Int)

    /// ``auto``'s shortest pause between two checkpoints, in seconds.
    public static let autoSeconds = 1.0
    /// ``auto``'s pause after a checkpoint, as a multiple of the time it took (19: a checkpoint and its pause
    /// together are twenty times the checkpoint).
    public static let autoPauseFactor = 19.0

    /// Parses `auto`, a positive ``TimeSpan`` (`1`, `500ms`, `5s`, `10m`) or a count of events (`100000ev`,
    /// `100000events`); nil for anything else, zero included.
    public init?(argument text: String) {
        if text == "auto" {
            self = .auto
            return
        }
        for suffix in ["events", "ev"] where text.hasSuffix(suffix) {
            guard let n = Int(text.dropLast(suffix.count)), n > 0 else { return nil }
            self = .events(n)
            return
        }
        guard let span = TimeSpan(text), span.seconds > 0 else { return nil }
        self = .seconds(span.seconds)
    }

    /// True for the policies that count wall time (``auto``, ``seconds(_:)``): a checkpoint they make due may be
    /// put off a little (``FirstCheckpointPrerequisite``); one due by ``events(_:)`` is taken where it falls.
    public var isTimed: Bool {
        if case .events = self { return false }
        return true
    }

    /// The policy in the syntax ``init(argument:)`` reads (`auto`, `1s`, `100000ev`).
    public var description: String {
        switch self {
        case .auto: return "auto"
        case .seconds(let s): return TimeSpan(seconds: s).map { "\($0)" } ?? "\(s)s"
        case .events(let n): return "\(n)ev"
        }
    }
}

/// Decides when a checkpoint is due under a ``CheckpointPolicy`` (seconds measured on `clock`), and times the
/// checkpoints taken through it (``take(_:events:)``) for ``CheckpointPolicy/auto``.
struct CheckpointClock {
    var policy: CheckpointPolicy
    private let clock: any WallClock
    /// When the last checkpoint ended (the clock's start before the first).
    private var last: Double
    private var eventsAtLast: Int
    /// How long the last checkpoint held its caller, in seconds (0 before the first).
    private(set) var lastCost = 0.0
    /// How long the last checkpoint took to become durable, in seconds (0 before the first), as its committer
    /// reports it (`durability`, asked at each ``isDue(events:)``).
    private let durability: () -> Double

    /// `durability`: how long the last checkpoint took to become durable (for ``CheckpointPolicy/auto``).
    init(
        policy: CheckpointPolicy, events: Int, clock: any WallClock = SystemClock(), durability: @escaping () -> Double = { 0 }
    ) {
        self.policy = policy
        self.clock = clock
        self.durability = durability
        last = clock.now()
        eventsAtLast = events
    }

    /// True when the policy's pause has passed since the last checkpoint ended.
    func isDue(events: Int) -> Bool {
        switch policy {
        case .auto:
            let elapsed = clock.now() - last
            // The durability can only lengthen the pause: it is asked (a lock) once the rest has passed.
            return elapsed >= max(CheckpointPolicy.autoSeconds, CheckpointPolicy.autoPauseFactor * lastCost)
                && elapsed >= CheckpointPolicy.autoPauseFactor * durability()
        case .seconds(let s): return clock.now() - last >= s
        case .events(let n): return events - eventsAtLast >= n
        }
    }

    /// Takes a checkpoint (`checkpoint`) and notes when it ended, how long it took, and `events`, the events
    /// replayed when it was taken. Nothing is noted when `checkpoint` throws.
    mutating func take(_ checkpoint: () throws -> Void, events: () -> Int) rethrows {
        let start = clock.now()
        try checkpoint()
        last = clock.now()
        lastCost = max(0, last - start)
        eventsAtLast = events()
    }
}

/// What a replay records before its first checkpoint commits, so that no checkpoint exists without it: an
/// archive run's complete ingest, whose diagnostics' second pass and day files' fsync run beside the replay's
/// first second (``Replayer/beforeFirstCheckpoint``).
///
/// While ``isReady`` is false, a checkpoint due by wall time (``CheckpointPolicy/isTimed``) is put off to the
/// next check, so that the event loop goes on instead of waiting for the pass (on KuaiRec's big matrix a wait
/// would hold it ~0.2 s); one due by events, and the checkpoint a stop or the end takes, wait for ``record``.
public struct FirstCheckpointPrerequisite {
    /// True when ``record`` would not wait.
    public var isReady: () -> Bool
    /// Records the prerequisite, waiting until it can; an error stops the replay.
    public var record: () throws -> Void

    /// A prerequisite recorded by `record`, ready when `isReady` says so (always, by default).
    public init(isReady: @escaping () -> Bool = { true }, record: @escaping () throws -> Void) {
        self.isReady = isReady
        self.record = record
    }
}
