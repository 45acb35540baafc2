/// A fixed number of `Double`s stored inline (no heap allocation, no reference counting): a record's
/// `lag_1_*` or `prior_3day_*` values (``LagValues``) or its leads (``LeadValues``).
///
/// Records and closed days are built on the event loop for every user every day; as `[Double]` each one costs
/// a malloc, retains and releases, and 80 bytes of heap per array a user's eight closed days keep.
/// `==` compares values as `Double`s do (NaN differs from NaN), like an array's. Every member is `@inlinable`:
/// the sink reads records from another module, where an unspecialized value-generic call costs a metadata
/// lookup per value.
public struct FixedDoubles<let size: Int>: Sendable, Equatable, RandomAccessCollection, MutableCollection,
    ExpressibleByArrayLiteral
{
    @usableFromInline var storage: InlineArray<size, Double>

    /// `size` copies of `value`.
    @inlinable public init(repeating value: Double) { storage = InlineArray(repeating: value) }

    /// The values listed; there must be exactly `size` of them.
    @inlinable public init(arrayLiteral values: Double...) {
        self.init(values)
    }

    /// The values of `values`, which must hold exactly `size`.
    @inlinable public init(_ values: [Double]) {
        precondition(values.count == size, "\(values.count) values for \(size) places")
        storage = InlineArray { values[$0] }
    }

    /// The number of values (`size`).
    @inlinable public static var fixedCount: Int { size }

    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { size }

    /// The value at `position`, read through the storage's span (the sink reads every lead of every revision).
    @inlinable public subscript(position: Int) -> Double {
        @inline(__always) get { storage.span[position] }
        @inline(__always) set { storage[position] = newValue }
    }

    @inlinable public static func == (a: Self, b: Self) -> Bool {
        for i in 0..<size where a[i] != b[i] { return false }
        return true
    }
}

/// `lag_1_*` or `prior_3day_*`: one value per column of ``UserDayRecord/lagColumns``.
public typealias LagValues = FixedDoubles<5>
/// `lead_{h}_{active_day, interactions, total_play_duration_sec}` at index `column * 7 + (h - 1)`.
public typealias LeadValues = FixedDoubles<21>
