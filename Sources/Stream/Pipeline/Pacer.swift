import Foundation

/// Plays event time at a fixed ratio to wall time (`--speed X`: X simulated seconds per wall second).
///
/// The first instant it sees is the origin; each later instant is awaited until the clock reaches
/// `origin + (t - t0) / X`. Instants earlier than the clock (a late-labelled event) do not wait. Waiting
/// is sliced so that a stop request is noticed within 50 ms of the clock.
public final class Pacer {
    /// Simulated seconds per wall second.
    public let speed: Double
    private let clock: any WallClock
    private var originSimulatedMs: Int64?
    private var originWall = 0.0

    /// The longest single sleep: a stop request is noticed within this many seconds.
    static let waitSlice = 0.05

    /// Creates a pacer waiting on `clock`; `speed` must be positive.
    public init(speed: Double, clock: any WallClock = SystemClock()) {
        precondition(speed > 0)
        self.speed = speed
        self.clock = clock
    }

    /// Waits until the replay may pass `t` (Unix ms). Returns false when `shouldStop` asked to stop.
    /// `whileWaiting` is called before each slice of a wait with the simulated time the clock has reached
    /// (Unix ms), so a progress line can show the simulated clock moving between events.
    public func wait(
        untilSimulatedMs t: Int64, shouldStop: () -> Bool, whileWaiting: (Int64) -> Void = { _ in }
    ) -> Bool {
        guard t != Interaction.missingTimestamp else { return true }
        guard let origin = originSimulatedMs else {
            originSimulatedMs = t
            originWall = clock.now()
            return true
        }
        let target = originWall + Double(t - origin) / 1000 / speed
        while true {
            let remaining = target - clock.now()
            if remaining <= 0 { return true }
            if shouldStop() { return false }
            whileWaiting(origin + Int64(((clock.now() - originWall) * speed * 1000).rounded(.down)))
            clock.sleep(seconds: min(remaining, Pacer.waitSlice))
        }
    }
}
