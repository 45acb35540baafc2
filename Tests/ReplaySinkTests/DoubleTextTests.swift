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
            0, -0.0, 1, -1, 0.1, 91.0, 1e-5, 1e-4, 0.0001, 1e15, 1e16, 2e16, 1e22, 1e23, 5e-324,
            .leastNormalMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 2.5e-7, 123_456.789,
        ]
        for _ in 0..<200_000 { values.append(Double(bitPattern: random.next())) }
        for _ in 0..<100_000 { values.append(Double.random(in: 0..<100_000, using: &random)) }
        for _ in 0..<100_000 { values.append(Double(Int.random(in: -1_000_000..<1_000_000, using: &random)) / 1_000) }
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

    /// The stream that receives the digits appends a `String` written to it the same way as ASCII bytes.
    @Test func theAppenderTakesStringsAndASCIIAlike() {
        var viaString = ASCIIAppender(bytes: [0x41])
        viaString.write("1.25e-07")
        var viaBytes = ASCIIAppender(bytes: [0x41])
        Array("1.25e-07".utf8).withUnsafeBufferPointer { viaBytes._writeASCII($0) }
        #expect(viaString.bytes == viaBytes.bytes)
        #expect(viaString.bytes == Array("A1.25e-07".utf8))
    }
}
