import Testing

@testable import ReplayDiagnostics

/// ``CompensatedSums4`` must give each lane the scalar ``CompensatedSum``'s sum and value, bit for bit, whatever
/// the terms: the engagement table's means and standard deviations are compared with the notebook's exactly. A NaN
/// lane matches a NaN sum whatever its sign and payload (which operand of an operation on two NaNs gives its bits is
/// the compiler's choice; every NaN is written as the same missing value).
@Suite struct CompensatedSumTests {
    static func same(_ a: Double, _ b: Double) -> Bool { a.isNaN ? b.isNaN : a.bitPattern == b.bitPattern }

    /// Terms of every kind the comparison between the running sum and the term can meet: mixed signs and
    /// magnitudes far apart (either compensation branch), zeros of both signs, infinities and NaN.
    static func terms(seed: UInt64, count: Int) -> [SIMD4<Double>] {
        var state = seed
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 11
        }
        let specials: [Double] = [0, -0.0, .infinity, -.infinity, .nan, 1e308, -1e308, .leastNonzeroMagnitude, 1, -1]
        func term() -> Double {
            let r = next()
            switch r % 10 {
            case 0: return specials[Int(next() % UInt64(specials.count))]
            case 1, 2: return Double(Int64(next() % 2_000_001) - 1_000_000) * 1e12
            case 3, 4: return Double(next() % 1_000_000) / 7
            default:
                let magnitude = Double(next() % 1_000_000) * 1e-9 * pow10(Int(next() % 20) - 10)
                return next() % 2 == 0 ? magnitude : -magnitude
            }
        }
        return (0..<count).map { _ in SIMD4(term(), term(), term(), term()) }
    }

    static func pow10(_ e: Int) -> Double {
        var x = 1.0
        for _ in 0..<abs(e) { x *= 10 }
        return e < 0 ? 1 / x : x
    }

    @Test(arguments: [1, 2, 3, 42, 2026] as [UInt64])
    func eachLaneIsTheScalarSumBitForBit(seed: UInt64) {
        // Streams with specials (NaN, infinities) and streams of finite terms only, whose sums stay finite.
        for finiteOnly in [false, true] {
            var vector = CompensatedSums4()
            var scalars = [CompensatedSum](repeating: CompensatedSum(), count: 4)
            for x in Self.terms(seed: seed, count: 20_000) {
                let term = finiteOnly ? x.replacing(with: 0.5, where: .!(x .== x) .| (x .== .infinity) .| (x .== -.infinity) .| (x .> 1e300) .| (x .< -1e300)) : x
                vector.add(term)
                for i in 0..<4 { scalars[i].add(term[i]) }
            }
            for i in 0..<4 {
                #expect(Self.same(vector.sum[i], scalars[i].sum), "lane \(i) sum, finiteOnly \(finiteOnly)")
                #expect(Self.same(vector.compensation[i], scalars[i].compensation), "lane \(i) compensation")
                #expect(Self.same(vector.value[i], scalars[i].value), "lane \(i) value")
                if finiteOnly { #expect(!vector.value[i].isNaN) }
            }
        }
    }

    @Test func bothCompensationBranchesAreTaken() {
        // A small term after a large sum (sum larger) and a large term after a small sum (term larger), in one lane
        // each way and the opposite in the other lanes: the classic case a plain sum gets wrong.
        var vector = CompensatedSums4()
        var scalars = [CompensatedSum](repeating: CompensatedSum(), count: 4)
        for x in [SIMD4<Double>(1, 1e100, -1e100, 1e-300), SIMD4(1e100, 1, 1, -1e-300), SIMD4(1, -1e100, 1e100, 3), SIMD4(-1e100, 1, -3, 1e300)] {
            vector.add(x)
            for i in 0..<4 { scalars[i].add(x[i]) }
        }
        #expect(vector.value[0] == 2)  // 1 + 1e100 + 1 - 1e100, which a plain sum makes 0
        for i in 0..<4 { #expect(Self.same(vector.value[i], scalars[i].value)) }
    }
}
