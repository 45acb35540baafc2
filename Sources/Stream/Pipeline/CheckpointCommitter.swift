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
    /// How long the last checkpoint that became durable took to (the output's sync and the state's commit, on
    /// the queue), in seconds; 0 before the first.
    private let durableSeconds = TracedMutex(0.0)

    init(sink: RecordSink, state: StateBackend?, logger: Logger) {
        durability = sink.durability
        self.state = state
        self.logger = logger
    }

    /// True when checkpoints are kept (a state backend is set), so timelines must be serialized.
    var needsTimelines: Bool { state != nil }

    /// The state backend's writer for the next checkpoint's timeline snapshot (``needsTimelines`` must be
    /// true). Call it after ``waitForPending()``: the backend starts a snapshot only once the last commit ended.
    func startSnapshot() throws -> any TimelineSnapshotWriter { try state!.startSnapshot() }

    /// Queues `snapshot`: the output is made durable first (a checkpoint must never promise bytes that are
    /// not on disk), then the snapshot is committed. After a failure, later checkpoints are not committed.
    func commit(_ snapshot: consuming PanelCheckpoint) {
        let durability = self.durability, state = self.state, logger = self.logger, failure = self.failure
        let durableSeconds = self.durableSeconds
        let loan = Loan(consume snapshot)
        pending.enter()
        queue.async { [pending] in
            defer { pending.leave() }
            let snapshot = loan.take()
            if failure.hasFailed { return }
            do {
                let start = DispatchTime.now().uptimeNanoseconds
                try durability.sync()
                try state?.commit(snapshot)
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                durableSeconds.withLock { $0 = seconds }
                logger.debug(
                    "checkpoint",
                    metadata: ["next_day": "\(snapshot.progress.nextDay)", "output_bytes": "\(snapshot.progress.outputBytes)"])
            } catch {
                failure.record(error)
            }
        }
        committed += 1
    }

    /// How long the last checkpoint that became durable took to, in seconds, once handed to the queue (0 before the
    /// first): the output's sync and the state's commit, which use the disk the output's writes need.
    var lastDurabilitySeconds: Double { durableSeconds.withLock { $0 } }

    /// Blocks until every queued checkpoint is durable; throws the first failure.
    func waitForPending() throws {
        pending.wait()
        try failure.check()
    }
}
