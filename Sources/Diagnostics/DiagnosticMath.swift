import ReplayStream

/// A Neumaier-compensated running sum: the error of the result is about one rounding of the
/// total, independent of the number of terms (pandas' own sums are pairwise or Kahan, so the two
/// agree to about 1e-15 relative). Integer-valued terms are summed exactly while the total stays
/// below 2^53.
public struct CompensatedSum: Codable, Equatable, Sendable {
    /// The running sum without its compensation.
    public private(set) var sum = 0.0
    /// The accumulated rounding errors.
    public private(set) var compensation = 0.0

    public init() {}

    /// Adds one term.
    @inline(__always)
    public mutating func add(_ x: Double) {
        let t = sum + x
        if abs(sum) >= abs(x) {
            compensation += (sum - t) + x
        } else {
            compensation += (x - t) + sum
        }
        sum = t
    }

    /// Adds another sum's terms.
    public mutating func add(_ other: CompensatedSum) {
        add(other.sum)
        add(other.compensation)
    }

    /// The compensated total.
    public var value: Double { sum + compensation }
}

/// Four ``CompensatedSum``s side by side, one per lane: each lane takes exactly the operations its scalar sum
/// would (the branch between the two compensations is a per-lane select), so every lane's sum and value are the
/// scalar's, bit for bit. For the engagement columns, which add four values a row for every row of the log.
public struct CompensatedSums4: Equatable, Sendable {
    /// The running sums without their compensation.
    public private(set) var sum = SIMD4<Double>(repeating: 0)
    /// The accumulated rounding errors.
    public private(set) var compensation = SIMD4<Double>(repeating: 0)

    public init() {}

    /// Adds one term to each lane.
    @inline(__always)
    public mutating func add(_ x: SIMD4<Double>) {
        let t = sum + x
        let whenSumIsLarger = (sum - t) + x
        let whenTermIsLarger = (x - t) + sum
        // Lane by lane `abs(sum) >= abs(x)` (false where either is NaN, as the scalar comparison is).
        let sumIsLarger = Self.magnitude(sum) .>= Self.magnitude(x)
        compensation += whenTermIsLarger.replacing(with: whenSumIsLarger, where: sumIsLarger)
        sum = t
    }

    /// The compensated totals (each lane's ``CompensatedSum/value``).
    public var value: SIMD4<Double> { sum + compensation }

    /// Each lane's absolute value: its sign bit cleared (the standard library's generic `pointwiseMax` is a call
    /// per use, not one instruction).
    @inline(__always)
    static func magnitude(_ x: SIMD4<Double>) -> SIMD4<Double> {
        unsafeBitCast(unsafeBitCast(x, to: SIMD4<UInt64>.self) & 0x7FFF_FFFF_FFFF_FFFF, to: SIMD4<Double>.self)
    }
}

/// Count, sum and sum of squares of a group of values (compensated): enough for pandas' `mean()`
/// and `var(ddof=1)` of the group. The variance is `(Σx² − (Σx)²/n) / (n − 1)`; with compensated
/// sums its relative error is about `1e-16 × (1 + mean²/variance)`, far inside the 1e-9 the
/// differential test asks for on the notebook's covariates (the worst, `lag_1_active_day`, has
/// `mean²/variance` ≈ 40).
public struct RunningMoments: Codable, Equatable, Sendable {
    /// Number of values.
    public private(set) var count = 0
    /// Σx.
    public private(set) var sum = CompensatedSum()
    /// Σx².
    public private(set) var sumOfSquares = CompensatedSum()

    public init() {}

    /// Adds one value.
    @inline(__always)
    public mutating func add(_ x: Double) {
        count += 1
        sum.add(x)
        sumOfSquares.add(x * x)
    }

    /// Adds one value (`sign` 1), or takes back one added before (-1: a revised record's old value).
    @inline(__always)
    public mutating func add(_ x: Double, sign: Int) {
        if sign > 0 {
            add(x)
        } else {
            count -= 1
            sum.add(-x)
            sumOfSquares.add(-(x * x))
        }
    }

    /// pandas' `mean()`: NaN when empty.
    public var mean: Double { count == 0 ? .nan : sum.value / Double(count) }

    /// pandas' `var(ddof=1)`: NaN with fewer than two values; never negative.
    public var sampleVariance: Double {
        guard count >= 2 else { return .nan }
        let n = Double(count)
        let s = sum.value
        return max(0, (sumOfSquares.value - s * s / n) / (n - 1))
    }
}

/// One row of pandas' `describe()` for a numeric column: count, mean, std, min, percentiles, max.
public struct DescribedColumn: Codable, Equatable, Sendable {
    /// The column's name (the row label of `describe().T`).
    public var column: String
    /// Non-missing values.
    public var count: Int
    public var mean: Double
    /// Standard deviation with `ddof=1`.
    public var std: Double
    public var min: Double
    /// The requested percentiles' values, in the order of ``DescribedColumn/labels(for:)``.
    public var percentiles: [Double]
    public var max: Double

    /// Describes `values` exactly (sorts a copy): pandas' `describe(percentiles=...)` of one column.
    /// NaN values are left out, as pandas does.
    public static func exact(column: String, values: some Sequence<Double>, percentiles: [Double]) -> DescribedColumn {
        let sorted = NumberSort.ascending(values)
        let n = sorted.count
        var sum = CompensatedSum()
        for v in sorted { sum.add(v) }
        let mean = n == 0 ? Double.nan : sum.value / Double(n)
        var squares = CompensatedSum()
        for v in sorted { squares.add((v - mean) * (v - mean)) }
        let std = n < 2 ? Double.nan : (squares.value / Double(n - 1)).squareRoot()
        return DescribedColumn(
            column: column, count: n, mean: mean, std: std, min: sorted.first ?? .nan,
            percentiles: percentiles.map { q in NumpyQuantile.linear(q, count: n) { sorted[$0] } },
            max: sorted.last ?? .nan)
    }

    /// pandas' percentile labels: `1%`, `5%`, `25%`, `50%`, ...
    public static func labels(for percentiles: [Double]) -> [String] {
        percentiles.map { q in
            let p = q * 100
            return p == p.rounded() ? "\(Int(p))%" : "\(p)%"
        }
    }

    /// A `describe().T` table of several columns: `column`, `count`, `mean`, `std`, `min`, percentiles, `max`.
    public static func table(name: String, rows: [DescribedColumn], percentiles: [Double], note: String? = nil)
        -> DiagnosticTable
    {
        let columns = ["column", "count", "mean", "std", "min"] + labels(for: percentiles) + ["max"]
        let cells: [[DiagnosticValue]] = rows.map { r in
            [.string(r.column), .number(Double(r.count)), .number(r.mean), .number(r.std), .number(r.min)]
                + r.percentiles.map { .number($0) } + [.number(r.max)]
        }
        return DiagnosticTable(name: name, columns: columns, rows: cells, note: note)
    }
}
