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
    }

    /// Counts `value` in its bin; a value outside the edges (or NaN) is not counted, as numpy leaves it out.
    public mutating func add(_ value: Double) {
        let first = edges[0], last = edges[edges.count - 1]
        guard value >= first, value <= last else { return }
        if value == last {
            counts[counts.count - 1] += 1
            return
        }
        // The last edge <= value: np.searchsorted(edges, value, side="right") - 1.
        var low = 0, high = edges.count - 1
        while high - low > 1 {
            let mid = (low + high) / 2
            if edges[mid] <= value { low = mid } else { high = mid }
        }
        counts[low] += 1
    }

    /// The histogram as a table named `name`: one row a bin.
    public func table(name: String, note: String? = nil) -> DiagnosticTable {
        DiagnosticTable(
            name: name, columns: ["bin_start", "bin_end", "count"],
            rows: counts.indices.map { [.number(edges[$0]), .number(edges[$0 + 1]), .count(counts[$0])] }, note: note)
    }

    /// The histogram of the finite `values` in `bins` bins over their own range (seaborn leaves out missing and
    /// infinite values).
    public static func of(_ values: [Double], bins: Int) -> NumpyHistogram {
        let finite = values.filter(\.isFinite)
        var histogram = NumpyHistogram(bins: bins, min: finite.min() ?? .nan, max: finite.max() ?? .nan)
        for v in finite { histogram.add(v) }
        return histogram
    }
}
