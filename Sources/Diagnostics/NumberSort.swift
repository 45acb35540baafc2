/// Sorts floats by their bits. Hand-written for speed: `describe()` of the item-daily sample sorts 11
/// columns of 150,000 values on the metadata thread, which a `--rows` run waits for, and the standard library's
/// comparison sort took a quarter of that thread's time.
enum NumberSort {
    /// The values of `values` that are not NaN, in ascending order: exactly what
    /// `values.filter { !$0.isNaN }.sorted()` gives, a stable sort, so that `-0.0` and `0.0` (equal under `<`)
    /// keep their order in `values`.
    ///
    /// A least-significant-digit radix sort (stable) over each value's sort key, one byte a pass; a pass in
    /// which every key has the same byte is skipped.
    static func ascending(_ values: some Sequence<Double>) -> [Double] {
        var source = nonNaN(values)
        let n = source.count
        guard n > 1 else { return source }
        var target = [Double](repeating: 0, count: n)
        // The counts of every pass's digits, taken in one read of the values; buffers rather than arrays in the
        // loops: an array's bounds and uniqueness checks on each count cost a quarter of the sort's samples. In bounds:
        // a pass is below 8 and a digit below 256 (`counts` holds 8 × 256, `offsets` 256 after it), and a pass's
        // offsets are the prefix sums of its counts, which add up to `n`, so every write into `out` is below `n`.
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 9 * 256) { scratch in
            scratch.initialize(repeating: 0)
            let counts = scratch.baseAddress!, offsets = counts + 8 * 256
            source.withUnsafeBufferPointer { from in
                for v in from {
                    let key = sortKey(v)
                    for pass in 0..<8 {
                        counts[pass &* 256 &+ Int(truncatingIfNeeded: key &>> UInt64(8 &* pass)) & 0xFF] &+= 1
                    }
                }
            }
            for pass in 0..<8 {
                let base = counts + pass * 256
                let shift = UInt64(8 * pass)
                // A byte that every key shares leaves the order as it is.
                if base[Int(truncatingIfNeeded: sortKey(source[0]) &>> shift) & 0xFF] == n { continue }
                var total = 0
                for digit in 0..<256 {
                    offsets[digit] = total
                    total &+= base[digit]
                }
                source.withUnsafeBufferPointer { from in
                    target.withUnsafeMutableBufferPointer { to in
                        let out = to.baseAddress!
                        for v in from {
                            let digit = Int(truncatingIfNeeded: sortKey(v) &>> shift) & 0xFF
                            out[offsets[digit]] = v
                            offsets[digit] &+= 1
                        }
                    }
                }
                swap(&source, &target)
            }
        }
        return source
    }

    /// The values of `values` that are not NaN, in their order, written into one allocation sized for them
    /// (`filter` would grow its array by doubling: a tenth of the sort's samples on the side tables' thread, in
    /// copies and the page faults of each new buffer).
    private static func nonNaN(_ values: some Sequence<Double>) -> [Double] {
        let bound = values.underestimatedCount
        var it = values.makeIterator()
        var kept = [Double](unsafeUninitializedCapacity: bound) { buffer, count in
            // In bounds: `count` (values kept) never passes `read` (values read), which stops at `bound`.
            var read = 0
            while read < bound, let v = it.next() {
                read += 1
                if !v.isNaN {
                    buffer[count] = v
                    count += 1
                }
            }
        }
        // The values past the underestimate, if any (none for the buffers and arrays the callers pass).
        while let v = it.next() {
            if !v.isNaN { kept.append(v) }
        }
        return kept
    }

    /// An unsigned key in the order of the values: the sign bit flipped for positive values, every bit for
    /// negative ones; `-0.0` has `0.0`'s key (they are equal).
    @inline(__always)
    static func sortKey(_ value: Double) -> UInt64 {
        let bits = value == 0 ? 0 : value.bitPattern
        return bits >> 63 == 0 ? bits | (1 << 63) : ~bits
    }
}
