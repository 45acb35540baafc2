/// How the two treatment thresholds are chosen.
public enum ThresholdsMode: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The notebook's whole-panel thresholds, counted during ingest (look-ahead, as the notebook does).
    case batch
    /// The same quantiles over all active user-days closed so far, the closing day included (no look-ahead).
    case expanding
    /// Given thresholds.
    case fixed(interactions: Double, highWatchShare: Double)

    /// Parses `batch`, `expanding` or `fixed:INTERACTIONS,SHARE`.
    public init?(argument: String) {
        switch argument {
        case "batch": self = .batch
        case "expanding": self = .expanding
        default:
            guard argument.hasPrefix("fixed:") else { return nil }
            let parts = argument.dropFirst(6).split(separator: ",")
            guard parts.count == 2, let a = Double(parts[0]), let b = Double(parts[1]), a.isFinite, b.isFinite
            else { return nil }
            self = .fixed(interactions: a, highWatchShare: b)
        }
    }

    public var description: String {
        switch self {
        case .batch: return "batch"
        case .expanding: return "expanding"
        case .fixed(let a, let b): return "fixed:\(a),\(b)"
        }
    }
}

/// The pair of thresholds that decide the two treatment flags.
public struct TreatmentThresholds: Sendable, Equatable, Codable {
    /// `treatment_high_intensity` = active and `interactions >= highIntensity` (75th percentile).
    public var highIntensity: Double
    /// `treatment_high_watch_exposure` = active and `high_watch_share >= highWatchShare` (median).
    public var highWatchShare: Double

    public init(highIntensity: Double, highWatchShare: Double) {
        self.highIntensity = highIntensity
        self.highWatchShare = highWatchShare
    }

    /// Thresholds no day meets (for days whose flags are 0 anyway: inactive back-filled days).
    public static let never = TreatmentThresholds(highIntensity: .infinity, highWatchShare: .infinity)
}

/// A multiset of doubles kept as value → count, with numpy's order statistics over it.
///
/// Memory is bounded by the number of distinct values (interactions per day are small integers;
/// high-watch shares are fractions k/n with small n), not by the number of user-days.
public struct ValueHistogram: Sendable, Equatable, Codable {
    private(set) var counts: [Double: Int] = [:]
    /// Number of values.
    public private(set) var total = 0
    private var sortedKeys: [Double] = []
    private var sortedKeysValid = true

    public init() {}

    /// Adds one value.
    public mutating func add(_ value: Double, count: Int = 1) {
        if counts[value] == nil { sortedKeysValid = false }
        counts[value, default: 0] += count
        total += count
    }

    enum CodingKeys: String, CodingKey { case values, counts }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let values = try c.decode([Double].self, forKey: .values)
        let n = try c.decode([Int].self, forKey: .counts)
        for (v, k) in zip(values, n) { add(v, count: k) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        let keys = counts.keys.sorted()
        try c.encode(keys, forKey: .values)
        try c.encode(keys.map { counts[$0]! }, forKey: .counts)
    }

    public static func == (a: ValueHistogram, b: ValueHistogram) -> Bool { a.counts == b.counts }

    /// Removes one occurrence of `value` (which must be present).
    public mutating func remove(_ value: Double) {
        guard let n = counts[value] else { return }
        if n <= 1 {
            counts.removeValue(forKey: value)
            sortedKeysValid = false
        } else {
            counts[value] = n - 1
        }
        total -= 1
    }

    /// The k-th smallest value (0-based). The distinct values must be sorted (``sortKeys()``).
    private func element(at k: Int) -> Double {
        var seen = 0
        for key in sortedKeys {
            seen += counts[key]!
            if k < seen { return key }
        }
        return sortedKeys.last!
    }

    private mutating func sortKeys() {
        guard !sortedKeysValid else { return }
        sortedKeys = counts.keys.sorted()
        sortedKeysValid = true
    }

    /// numpy's `quantile(q, method="linear")` (pandas' default) over the values (``NumpyQuantile/linear(_:count:element:)``).
    /// NaN when empty.
    public mutating func quantileLinear(_ q: Double) -> Double {
        sortKeys()
        return NumpyQuantile.linear(q, count: total) { element(at: $0) }
    }

    /// numpy's median over the values (``NumpyQuantile/median(count:element:)``). NaN when empty.
    public mutating func median() -> Double {
        sortKeys()
        return NumpyQuantile.median(count: total) { element(at: $0) }
    }
}

/// The distribution of active user-days that the notebook's thresholds are taken over.
public struct ThresholdDistribution: Sendable, Equatable, Codable {
    /// `interactions` of each active user-day.
    public var interactions = ValueHistogram()
    /// `high_watch_share` of each active user-day.
    public var highWatchShare = ValueHistogram()

    public init() {}

    /// Adds one active user-day.
    public mutating func add(interactions count: Int, highWatchCount: Int) {
        interactions.add(Double(count))
        highWatchShare.add(Double(highWatchCount) / Double(count))
    }

    /// Removes one active user-day added earlier (a late row revised it).
    public mutating func remove(interactions count: Int, highWatchCount: Int) {
        interactions.remove(Double(count))
        highWatchShare.remove(Double(highWatchCount) / Double(count))
    }

    /// Number of active user-days.
    public var activeUserDays: Int { interactions.total }

    /// The notebook's thresholds: 75th percentile of interactions, median of high_watch_share.
    public mutating func thresholds() -> TreatmentThresholds {
        TreatmentThresholds(highIntensity: interactions.quantileLinear(0.75), highWatchShare: highWatchShare.median())
    }
}
