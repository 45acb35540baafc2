import Testing

@testable import ReplaySink

/// The text of a float in the panel: `JSONBytes.appendDouble` writes Swift's shortest round-trip digits
/// (what `description` gives, and Python's `repr`) straight into the output bytes.
@Suite struct DoubleTextTests {
    /// The appended text is `description`'s for every finite value: random bit patterns (every exponent),
    /// the panel's kinds of values (durations, shares, sums), the edges where the notation switches
    /// between plain and exponent form, and signed zeros and subnormals; NaN and infinities are the null
    /// the caller passes.
    @Test func appendedTextIsTheDescription() {
        var random = SystemRandomNumberGenerator()
        var values: [Double] = [
            0, -0.0, 1, -1, 0.1, 91.0, 1e-5, 1e-4, 0.0001, 1e15, 1e16, 2e16, 1e22, 1e23, .leastNonzeroMagnitude,
            .leastNormalMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 2.5e-7, 123_456.789,
        ]
        for _ in 0..<200_000 { values.append(Double(bitPattern: random.next())) }
        for _ in 0..<100_000 { values.append(Double.random(in: 0..<100_000, using: &random)) }
        for _ in 0..<100_000 { values.append(Double(Int.random(in: -1_000_000..<1_000_000, using: &random)) / 1_000) }
        // The short-decimal path's edges: every count of decimals up to seven, magnitudes from 1e-5 to past 2^31,
        // the neighbours of its bounds, sums of short decimals (whose text is long), and a thousandth's multiples.
        for decimals in 0...7 {
            let scale = [1.0, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7][decimals]
            for _ in 0..<20_000 {
                let magnitude = [1e-1, 1e1, 1e3, 1e6, 1e9, 3e9][Int.random(in: 0..<6, using: &random)]
                let k = Double(Int.random(in: 0..<Int(magnitude * scale) + 1, using: &random))
                values.append((Int.random(in: 0..<2, using: &random) == 0 ? 1 : -1) * k / scale)
            }
        }
        for _ in 0..<50_000 {
            let terms = Int.random(in: 2..<9, using: &random)
            values.append((0..<terms).reduce(0.0) { sum, _ in sum + Double(Int.random(in: 0..<100_000, using: &random)) / 1_000 })
        }
        for bound in [1e-4, 2_147_483_648, 1e-6, 0.5e-6, 1.5e-6, 2_147_483_647.999999, 2_147_483_647.9999995] {
            var below = bound, above = bound
            values.append(bound)
            for _ in 0..<20 {
                below = below.nextDown
                above = above.nextUp
                values += [below, above, -below, -above]
            }
        }
        var out: [UInt8] = [0x2C]
        for value in values {
            out.removeSubrange(1...)
            JSONBytes.appendDouble(value, to: &out, null: [0x3F])
            let expected = [0x2C] + (value.isFinite ? Array(value.description.utf8) : [0x3F])
            #expect(out == expected, "\(value)")
            if out != expected { return }
        }
        for value in [Double.nan, .infinity, -.infinity] {
            out.removeSubrange(1...)
            JSONBytes.appendDouble(value, to: &out)
            #expect(out == [0x2C] + Array("null".utf8))
        }
    }

    /// A line cursor copies every length of bytes whole (its short copies are overlapping words) after what it
    /// holds, and writes integers as `description` does, counts as integers and other floats in full.
    @Test func theLineCursorAppendsBytesAndNumbersExactly() {
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
        defer { memory.deallocate() }
        let source = (0..<200).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        for offset in 0..<9 {
            for length in 0..<100 {
                var cursor = LineCursor(memory)
                var expected: [UInt8] = []
                for _ in 0..<offset { cursor.append(0x41); expected.append(0x41) }
                source.withUnsafeBytes { cursor.append(UnsafeRawBufferPointer(rebasing: $0[3..<(3 + length)])) }
                expected += source[3..<(3 + length)]
                cursor.append(0x0A)
                expected.append(0x0A)
                #expect(Array(cursor.written) == expected, "offset \(offset), length \(length)")
            }
        }
        var cursor = LineCursor(memory)
        var expected = ""
        let integers: [Int64] = [0, 1, 9, 10, 99, 100, -1, -10, 1_234_567, .max, .min, 999_999_999_999_999_999]
        for value in integers {
            cursor.appendInt(value)
            expected += "\(value);"
            cursor.append(0x3B)
        }
        let null = Array("null".utf8)
        null.withUnsafeBytes { null in
            for value in [3.0, -0.0, 2.5, 1e15, 9e15, 1e300, .nan, .infinity] {
                cursor.appendCount(value, null: null)
                expected += value.isFinite ? (value == value.rounded() && abs(value) < 9e15 ? "\(Int64(value))" : "\(value)") : "null"
                expected += ";"
                cursor.append(0x3B)
            }
        }
        #expect(String(decoding: cursor.written, as: UTF8.self) == expected)
    }
}
