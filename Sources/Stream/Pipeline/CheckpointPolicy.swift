import Foundation

/// How often the replay commits a checkpoint. Checkpoints are taken at day boundaries, the first
/// boundary after the interval has passed.
public enum CheckpointPolicy: Equatable, Sendable, CustomStringConvertible {
    /// At least this many seconds of wall time apart.
    case seconds(Double)
    /// At least this many replayed events apart.
    case events(Int)

    /// Parses a positive ``TimeSpan`` (`1`, `500ms`, `5s`, `10m`) or a count of events (`100000ev`,
    /// `100000events`); nil for anything else, zero included.
    public init?(argument text: String) {
        for suffix in ["events", "ev"] where text.hasSuffix(suffix) {
            guard let n = Int(text.dropLast(suffix.count)), n > 0 else { return nil }
            self = .events(n)
            return
        }
        guard let span = TimeSpan(text), span.seconds > 0 else { return nil }
        self = .seconds(span.seconds)
    }

    /// The policy in the syntax ``init(argument:)`` reads (`1s`, `100000ev`).
    public var description: String {
        switch self {
        case .seconds(let s): return TimeSpan(seconds: s).map { "\($0)" } ?? "\(s)s"
        case .events(let n): return "\(n)ev"
        }
    }
}
