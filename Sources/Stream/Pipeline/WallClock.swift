import Foundation

/// The passing of real time, as the drivers read it: the ``Pacer`` waits on it, the ``LiveFeed`` measures
/// its idle close and its checkpoint interval with it. A run uses ``SystemClock``; a test passes a clock it
/// moves itself, so that waits take no real time and their lengths can be checked exactly.
public protocol WallClock: Sendable {
    /// Seconds since an arbitrary origin fixed for the clock's lifetime: only differences between two
    /// readings mean anything.
    func now() -> Double
    /// Returns once `seconds` have passed on this clock (at once when `seconds` is not positive).
    func sleep(seconds: Double)
    /// The calendar time in Unix milliseconds, for a time kept in the state across runs (and reboots), which
    /// ``now()`` does not span: the live feed's idle closes.
    func calendarMs() -> Int64
}

/// The system's monotonic clock (`CLOCK_MONOTONIC`: a change of the system's date does not move it), and
/// `Thread.sleep`.
public struct SystemClock: WallClock {
    public init() {}

    public func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    public func sleep(seconds: Double) {
        if seconds > 0 { Thread.sleep(forTimeInterval: seconds) }
    }

    public func calendarMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}
