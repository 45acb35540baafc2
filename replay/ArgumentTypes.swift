import ArgumentParser
import Logging
import ReplayRun
import ReplaySink
import ReplayStream

// The typed option values. ArgumentParser refuses a value these do not parse with exit 64, naming the option
// and printing its help, which lists the accepted forms. The library types get their conformance here: the
// executable is the only module that links the argument parser (`Logger.Level` is swift-log's, hence
// `@retroactive`).

extension MatrixChoice: ExpressibleByArgument {}
extension InflateChoice: ExpressibleByArgument {}
extension LatePolicy: ExpressibleByArgument {}
extension LiveInputFormat: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}
extension ThresholdsMode: ExpressibleByArgument {}
extension CheckpointPolicy: ExpressibleByArgument {}
extension PanelFormat: ExpressibleByArgument {}
extension EmitPolicy: ExpressibleByArgument {}
extension PanelFieldSelection.Format: ExpressibleByArgument {}

extension TimeSpan: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}

extension ByteCount: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}

extension NamedTimeZone: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}

extension CalendarDay: ExpressibleByArgument {
    public init?(argument: String) { self.init(iso: argument) }
}

/// A duration longer than zero (`--idle-close`, `--report-every`, `--poll-interval`).
struct PositiveTimeSpan: ExpressibleByArgument, CustomStringConvertible {
    /// The span.
    let span: TimeSpan

    init?(argument: String) {
        guard let span = TimeSpan(argument), span.seconds > 0 else { return nil }
        self.span = span
    }

    init?(seconds: Double) {
        guard let span = TimeSpan(seconds: seconds), span.seconds > 0 else { return nil }
        self.span = span
    }

    var description: String { span.description }
}

/// A whole number, 0 or more (`--rows`, `--skip-rows`).
struct Count: ExpressibleByArgument, CustomStringConvertible {
    /// The number.
    let value: Int

    init?(argument: String) {
        guard let n = Int(argument), n >= 0 else { return nil }
        value = n
    }

    /// A default value; it must not be negative.
    init(_ value: Int) {
        precondition(value >= 0, "a count is not negative")
        self.value = value
    }

    var description: String { "\(value)" }
}

/// A whole number, 1 or more (`--memory-budget`, `generate --users`).
struct PositiveCount: ExpressibleByArgument, CustomStringConvertible {
    /// The number.
    let value: Int

    init?(argument: String) {
        guard let n = Int(argument), n >= 1 else { return nil }
        value = n
    }

    /// A default value; it must be positive.
    init(_ value: Int) {
        precondition(value >= 1, "a positive count is at least 1")
        self.value = value
    }

    var description: String { "\(value)" }
}

/// How many of the last closed days a late row may still revise: 1 to ``LiveOptions/maxReviseWindowDays``.
struct ReviseWindow: ExpressibleByArgument, CustomStringConvertible {
    /// The number of days.
    let days: Int

    init?(argument: String) {
        guard let n = Int(argument), (1...LiveOptions.maxReviseWindowDays).contains(n) else { return nil }
        days = n
    }

    init(days: Int) { self.days = days }

    var description: String { "\(days)" }
}

/// Simulated seconds per wall second: a positive, finite number (`--speed`).
struct PlaybackSpeed: ExpressibleByArgument, CustomStringConvertible {
    /// The factor.
    let factor: Double

    init?(argument: String) {
        guard let x = Double(argument), x > 0, x.isFinite else { return nil }
        factor = x
    }

    var description: String { "\(factor)" }
}

/// Refuses a path option given an empty value (`--state ""`), which names no file: bad usage, exit 64.
/// - Throws: `ValidationError` naming the first such option.
func refuseEmptyPaths(_ paths: KeyValuePairs<String, String?>) throws {
    for (option, value) in paths where value?.isEmpty == true {
        throw ValidationError("\(option) needs a path, not an empty value")
    }
}
