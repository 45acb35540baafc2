import Foundation

/// An IANA time zone with the name it was given by. The name is part of a run's identity, and Foundation
/// does not keep it (`TimeZone(identifier: "UTC")` reports itself as `GMT`).
public struct NamedTimeZone: Sendable, Equatable, CustomStringConvertible {
    /// The name as given (`Asia/Shanghai`, `UTC`).
    public let name: String
    /// The zone.
    public let zone: TimeZone

    /// The zone named `name`; nil when Foundation knows no such zone.
    public init?(_ name: String) {
        guard let zone = TimeZone(identifier: name) else { return nil }
        self.name = name
        self.zone = zone
    }

    public var description: String { name }
}
