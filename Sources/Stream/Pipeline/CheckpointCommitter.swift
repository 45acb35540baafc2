import Foundation
import Logging

/// Makes checkpoints durable (the output's fsync, then the state backend's commit) on its own queue, one at
/// a time, while the fold goes on: the fsync of a large output would otherwise stall the event loop.
///
/// Its one reason to change is how a checkpoint becomes durable. The first failure is kept and thrown by
/// the next ``waitForPending()``. Only `Sendable` values cross to the queue: the output's durability,
/// the state backend, the snapshot.
final class CheckpointCommitter {
    private let durability: any OutputDurability
    private let state: StateBackend?
    private let logger: Logger
    private let queue = DispatchQueue(label: "replay.checkpoint")
    private let pending = DispatchGroup()
    private let failure = FirstFailure()
    /// Checkpoints handed to the queue.
    private(set) var committed = 0
    /// The timeline snapshot's buffer, given back by the commit that wrote it (at most one is kept).
    /// Invariant: a snapshot buffer is reused only once the commit that held it is done: the engine hands the
    /// checkpoint over (consumed: it keeps no copy), the commit block takes it out of a ``Loan`` and gives the
    /// buffer back here as it ends, holding no reference after that, and the engine takes it
    /// (``takeSnapshotBuffer()``) after ``waitForPending()``.
    private let snapshotBuffers = SpareBuffers<UInt8>(limit: 1)

    init(sink: RecordSink, state: StateBackend?, logger: Logger) {
        durability = sink.durability
        self.state = state
        self.logger = logger
    }

    /// True when checkpoints are kept (a state backend is set), so timelines must be serialized.
    var needsTimelines: Bool { state != nil }

    /// Queues `snapshot`: the output is made durable first (a checkpoint must never promise bytes that are
    /// not on disk), then the snapshot is committed. After a failure, later checkpoints are not committed.
    func commit(_ snapshot: consuming PanelCheckpoint) {
        let durability = self.durability, state = self.state, logger = self.logger, failure = self.failure
        let loan = Loan(consume snapshot), buffers = snapshotBuffers
        pending.enter()
        queue.async { [pending] in
            defer { pending.leave() }
            var snapshot = loan.take()
            defer { buffers.giveBack(&snapshot.timelines.bytes) }
            if failure.hasFailed { return }
            do {
                try durability.sync()
                try state?.commit(snapshot)
                logger.debug(
                    "checkpoint",
                    metadata: ["next_day": "\(snapshot.progress.nextDay)", "output_bytes": "\(snapshot.progress.outputBytes)"])
            } catch {
                failure.record(error)
            }
        }
        committed += 1
    }

    /// The last snapshot's buffer, empty with its capacity kept (a new empty one when none was given back).
    /// Call it after ``waitForPending()``: a commit in flight still holds its buffer.
    func takeSnapshotBuffer() -> [UInt8] { snapshotBuffers.take() }

    /// Frees the kept snapshot buffer (the next checkpoint allocates one); one in flight is kept when its
    /// commit ends (call it after ``waitForPending()``).
    func releaseSnapshotBuffer() { snapshotBuffers.removeAll() }

    /// Blocks until every queued checkpoint is durable; throws the first failure.
    func waitForPending() throws {
        pending.wait()
        try failure.check()
    }
}

/// Decides when a checkpoint is due under a ``CheckpointPolicy`` (seconds measured on `clock`).
struct CheckpointClock {
    var policy: CheckpointPolicy
    private let clock: any WallClock
    private var last: Double
    private var eventsAtLast: Int

    init(policy: CheckpointPolicy, events: Int, clock: any WallClock = SystemClock()) {
        self.policy = policy
        self.clock = clock
        last = clock.now()
        eventsAtLast = events
    }

    /// True when the interval has passed since the last ``taken(events:)``.
    func isDue(events: Int) -> Bool {
        switch policy {
        case .seconds(let s): return clock.now() - last >= s
        case .events(let n): return events - eventsAtLast >= n
        }
    }

    /// Notes a checkpoint taken now, at `events` replayed.
    mutating func taken(events: Int) {
        last = clock.now()
        eventsAtLast = events
    }
}
