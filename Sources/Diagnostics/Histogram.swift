import Foundation

/// Exact counts in equal-width bins, as the notebook's `sns.histplot(..., bins=N)` draws them: numpy's
/// `histogram_bin_edges(values, bins=N)` (N + 1 edges from `np.linspace(min, max)`; half a unit each side when every
/// value is the same) and `np.histogram(values, edges)` (each bin closed on the left, the last one on both sides).
///
/// Every value is counted (no sampling), so a report's histogram is reproducible and stored with the checkpoint as
/// a table: `bin_start`, `bin_end`, `count`.
public struct NumpyHistogram: Sendable, Equatable {
    /// The N + 1 bin edges, ascending.
    public private(set) var edges: [Double]
    /// The count of each of the N bins.
    public private(set) var counts: [Int]

    /// Bins per unit of value (`bins / (last - first)`), for the first guess of a value's bin.
    private let binsPerUnit: Double

    /// Empty bins for values spanning `min...max`; bounds that are not finite (no value yet) span 0...1, as
    /// numpy's edges of an empty array do.
    public init(bins: Int, min lower: Double, max upper: Double) {
        precondition(bins > 0, "a histogram needs at least one bin")
        var (first, last) = lower.isFinite && upper.isFinite ? (lower, upper) : (0, 1)
        if first == last {
            first -= 0.5
            last += 0.5
        }
        // np.linspace(first, last, bins + 1): start + i * step, the last edge exactly `last`.
        let step = (last - first) / Double(bins)
        edges = (0...bins).map { first + Double($0) * step }
        edges[bins] = last
        counts = [Int](repeating: 0, count: bins)
        binsPerUnit = Double(bins) / (last - first)
    }

    /// Counts `value` in its bin (``bin(of:)``); a value outside the edges (or NaN) is not counted, as numpy leaves
    /// it out.
    @inline(__always)
    public mutating func add(_ value: Double) {
        if let bin = bin(of: value) { counts[bin] += 1 }
    }

    /// Counts `count` values in bin `bin` at once (values whose bin is known to be `bin`).
    public mutating func add(count: Int, toBin bin: Int) { counts[bin] += count }

    /// The bin `value` is counted in; nil outside the edges or for NaN.
    ///
    /// The bin is the last one whose left edge is at most `value` (`np.searchsorted(edges, value, side="right")
    /// - 1`), the last edge counted in the last bin, found as numpy's `histogram` finds it for equal-width bins: a
    /// first guess computed from the value, then moved down while its left edge is above the value and up while
    /// the next edge is not: the same bin as a binary search over the edges (``binBySearch(_:)``, the tests'
    /// oracle) in one or two comparisons. Hand-written for speed: the interaction diagnostics' second pass bins the
    /// values of many rows. Never decreasing as `value` grows.
    @inline(__always)
    public func bin(of value: Double) -> Int? {
        let first = edges[0], last = edges[edges.count - 1]
        guard value >= first, value <= last else { return nil }
        let bins = counts.count
        if value == last { return bins - 1 }
        let guess = ((value - first) * binsPerUnit).rounded(.down)
        var bin = guess.isFinite ? Int(Swift.min(Swift.max(guess, 0), Double(bins - 1))) : 0
        edges.withUnsafeBufferPointer { edges in
            while bin > 0, edges[bin] > value { bin -= 1 }
            while bin < bins - 1, edges[bin + 1] <= value { bin += 1 }
        }
        return bin
    }

    /// The bin of `value` by a binary search over the edges (`value` within them, below the last edge): what
    /// ``add(_:)`` computes, kept as the tests' oracle.
    func binBySearch(_ value: Double) -> Int {
        var low = 0, high = edges.count - 1
        while high - low > 1 {
            let mid = (low + high) / 2
            if edges[mid] <= value { low = mid } else { high = mid }
        }
        return low
    }

    /// The histogram as a table named `name`: one row a bin.
    public func table(name: String, note: String? = nil) -> DiagnosticTable {
        DiagnosticTable(
            name: name, columns: ["bin_start", "bin_end", "count"],
            rows: counts.indices.map { [.number(edges[$0]), .number(edges[$0 + 1]), .count(counts[$0])] }, note: note)
    }

    /// The histogram of the finite `values` in `bins` bins over their own range (seaborn leaves out missing and
    /// infinite values).
    public static func of(_ values: some Sequence<Double>, bins: Int) -> NumpyHistogram {
        let finite = values.filter(\.isFinite)
        var histogram = NumpyHistogram(bins: bins, min: finite.min() ?? .nan, max: finite.max() ?? .nan)
        for v in finite { histogram.add(v) }
        return histogram
    }
}
