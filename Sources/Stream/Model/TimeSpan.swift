import Foundation

/// A non-negative span of time in replay's one duration syntax: `500ms`, `5s`, `10m`, `1h`, `2d`, or a bare
/// number of seconds (`0`, `0.5`).
///
/// Every option that takes a duration (checkpoint and report intervals, lateness, idle close, polling) is
/// parsed here, so `10m` means the same everywhere.
public struct TimeSpan: Hashable, Sendable, CustomStringConvertible {
    /// The span in seconds (finite, at least 0).
    public let seconds: Double

    /// The units of the syntax, longest suffix first where one ends another (`ms` before `s`).
    private static let units: [(suffix: String, seconds: Double)] = [
        ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400),
    ]

    /// A span of `seconds`; nil when it is negative, NaN or infinite.
    public init?(seconds: Double) {
        guard seconds >= 0, seconds.isFinite else { return nil }
        self.seconds = seconds
    }

    /// Parses `500ms`, `5s`, `10m`, `1h`, `2d` or a bare number of seconds; nil for anything else (a
    /// negative or non-finite number, an unknown unit, spaces).
    public init?(_ text: String) {
        var scale = 1.0
        var number = Substring(text)
        for unit in TimeSpan.units where text.hasSuffix(unit.suffix) {
            scale = unit.seconds
            number = number.dropLast(unit.suffix.count)
            break
        }
        guard let value = Double(number) else { return nil }
        // Milliseconds are divided, not multiplied by 0.001, so that `500ms` is exactly 0.5 s.
        self.init(seconds: scale < 1 ? value / 1000 : value * scale)
    }

    /// The span in whole milliseconds (rounded to the nearest).
    public var milliseconds: Int64 { Int64((seconds * 1000).rounded()) }

    /// The span in the syntax, in the largest unit that divides it (`10m`, `500ms`, `0`).
    public var description: String {
        if seconds == 0 { return "0" }
        let millis = seconds * 1000
        if millis == millis.rounded(), millis < 1e15 {
            for unit in TimeSpan.units.reversed() {
                let perUnit = unit.seconds * 1000
                let count = millis / perUnit
                if count == count.rounded() { return "\(Int64(count))\(unit.suffix)" }
            }
        }
        return "\(seconds)s"
    }
}
