/// numpy's order statistics, as pandas calls them (`quantile`, `describe`, `median`), bit for bit with
/// numpy 2.4, over `count` sorted values read through `element(rank)` (a sorted array, or a histogram).
public enum NumpyQuantile {
    /// `numpy.quantile(values, q, method="linear")` (pandas' default): virtual index `(n-1)*q` (numpy's
    /// `get_virtual_index` for "linear"), clamped to the first and last value; then numpy's `_lerp`:
    /// `a + (b-a)*g`, or `b - (b-a)*(1-g)` when `g >= 0.5`. NaN when empty.
    public static func linear(_ q: Double, count n: Int, element: (Int) -> Double) -> Double {
        guard n > 0 else { return .nan }
        let virtualIndex = Double(n - 1) * q
        if virtualIndex >= Double(n - 1) { return element(n - 1) }
        if virtualIndex < 0 { return element(0) }
        let previous = virtualIndex.rounded(.down)
        let gamma = virtualIndex - previous
        let a = element(Int(previous))
        let b = element(Int(previous) + 1)
        let diff = b - a
        return gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma
    }

    /// The ranks (0-based) that ``linear(_:count:element:)`` reads for `q` over `n` values.
    public static func ranks(_ q: Double, count n: Int) -> [Int] {
        guard n > 0 else { return [] }
        let virtualIndex = Double(n - 1) * q
        if virtualIndex >= Double(n - 1) { return [n - 1] }
        if virtualIndex < 0 { return [0] }
        let previous = Int(virtualIndex.rounded(.down))
        return [previous, previous + 1]
    }

    /// numpy's median: the middle value, or `(a + b) / 2` of the two middle values. NaN when empty.
    public static func median(count n: Int, element: (Int) -> Double) -> Double {
        guard n > 0 else { return .nan }
        if n % 2 == 1 { return element(n / 2) }
        return (element(n / 2 - 1) + element(n / 2)) / 2
    }

    /// ``median(count:element:)`` of sorted `values`.
    public static func median(sorted values: [Double]) -> Double {
        median(count: values.count) { values[$0] }
    }
}
