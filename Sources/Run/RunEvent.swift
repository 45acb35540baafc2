import ReplayStream

/// What a run tells its caller while it goes: where it starts from, and its progress. The caller decides
/// what to show (the command line prints the first kind and draws a progress line from the second).
public enum RunEvent: Sendable {
    /// The ordered event log of an earlier ingest of the same input is reused: `rows` data rows were read
    /// then. `afterReset` when the run started the folder anew (``RunConfiguration/fresh``) and kept it.
    case ingestReused(rows: Int, afterReset: Bool)
    /// The ingest pass: `bytesRead` of the input's `total` bytes, `rows` data rows parsed.
    case ingesting(bytesRead: Int64, total: Int64?, rows: Int)
    /// The replay resumes from a checkpoint that has not finished.
    case resuming(ReplayProgress)
    /// The state folder's run already finished (every day closed, every record final): nothing is done.
    case alreadyFinished(ReplayProgress)
    /// Every day through `until` is already closed (`progress.nextDay` is past it), or `until` is before the
    /// panel's first day `firstDay`: nothing is closed or written.
    case untilAlreadyReached(until: CalendarDay, firstDay: CalendarDay, progress: ReplayProgress)
    /// The replay is about to play the panel's days `firstDay` ... `lastDay`, `events` events in all, ending at
    /// `endMs` (Unix ms: the last day's midnight), paced at `speed` simulated seconds per second when paced.
    case replayPlan(firstDay: CalendarDay, lastDay: CalendarDay, events: Int, endMs: Int64, speed: Double?)
    /// The replay: its progress, the simulated clock (Unix ms of the last event), rows rejected at ingest.
    case replaying(ReplayProgress, simulatedMs: Int64, rowsRejected: Int)
    /// The live feed in the state folder already ended (its input was read to the end): nothing more is read.
    case liveFeedAlreadyEnded
    /// A live feed resumes after `rowsRead` input rows, with `daysClosed` days closed.
    case liveFeedResuming(rowsRead: Int, daysClosed: Int)
    /// A live feed's progress.
    case live(ReplayProgress, LiveFeedState)
}

/// Why a run returned.
public enum RunOutcome: Equatable, Sendable {
    /// Every day closed and every record written final.
    case finished
    /// Stopped after closing the ``ArchiveRunConfiguration/until`` day.
    case reachedUntil(CalendarDay)
    /// Nothing to do: the ``ArchiveRunConfiguration/until`` day was already closed, or is before the panel's
    /// first day (``RunEvent/untilAlreadyReached(until:firstDay:progress:)`` said so).
    case untilAlreadyReached(CalendarDay)
    /// Stopped at a safe point because a stop was requested, with a checkpoint committed.
    case interrupted
}

/// What a run returns: why it stopped, and its summary.
public struct RunResult: Sendable {
    /// Why it stopped.
    public var outcome: RunOutcome
    /// The summary.
    public var summary: RunSummary
}
