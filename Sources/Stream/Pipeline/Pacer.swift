import Foundation

/// Plays event time at a fixed ratio to wall time (`--speed X`: X simulated seconds per wall second).
///
/// The first instant it sees is the origin; each later instant is awaited until the wall clock
/// reaches `origin + (t - t0) / X`. Instants earlier than the clock (a late-labelled event) do not
/// wait. Waiting is sliced so that a stop request is noticed within 50 ms.
public final class Pacer {
    /// Simulated seconds per wall second.
    public let speed: Double
    private var originSimulatedMs: Int64?
    private var originWall = Date()

    /// Creates a pacer; `speed` must be positive.
    public init(speed: Double) {
        precondition(speed > 0)
        self.speed = speed
    }

    /// Waits until the replay may pass `t` (Unix ms). Returns false when `shouldStop` asked to stop.
    public func wait(untilSimulatedMs t: Int64, shouldStop: () -> Bool) -> Bool {
        guard t != Interaction.missingTimestamp else { return true }
        guard let origin = originSimulatedMs else {
            originSimulatedMs = t
            originWall = Date()
            return true
        }
        let target = originWall.addingTimeInterval(Double(t - origin) / 1000 / speed)
        while true {
            let remaining = target.timeIntervalSinceNow
            if remaining <= 0 { return true }
            if shouldStop() { return false }
            Thread.sleep(forTimeInterval: min(remaining, 0.05))
        }
    }
}
