import Testing

@testable import ReplayDiagnostics

/// The radix sort of `describe()`'s columns gives the standard library's stable sort, bit for bit.
@Suite struct NumberSortTests {
    /// Random columns of every kind (counts, rates, random bit patterns, few distinct values, signed zeros,
    /// infinities, subnormals, NaN) sort to exactly `filter { !$0.isNaN }.sorted()`, zeros' signs in place.
    @Test func ascendingIsTheStableSortBitForBit() {
        var random = SystemRandomNumberGenerator()
        let specials: [Double] = [
            0, -0.0, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, -.leastNonzeroMagnitude,
            .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 1, -1,
        ]
        let kinds: [(inout SystemRandomNumberGenerator) -> Double] = [
            { Double(Int.random(in: 0..<5_000, using: &$0)) },
            { Double.random(in: 0..<1, using: &$0) },
            { Double(bitPattern: $0.next()) },
            { specials.randomElement(using: &$0)! },
            { Double(Int.random(in: -3...3, using: &$0)) * (Bool.random(using: &$0) ? 1 : -0.0) },
        ]
        for round in 0..<60 {
            let count = [0, 1, 2, 3, 17, 256, 1_000, 20_000][round % 8]
            let values = (0..<count).map { _ in kinds[(round / 8) % kinds.count](&random) }
            let expected = values.filter { !$0.isNaN }.sorted()
            let sorted = NumberSort.ascending(values)
            #expect(sorted.map(\.bitPattern) == expected.map(\.bitPattern), "round \(round), \(count) values")
        }
        // A sequence that underestimates its length (half of it, or nothing) is read whole, NaNs left out wherever they are.
        let mixed: [Double] = (0..<1_000).map { (i: Int) -> Double in
            i % 7 == 0 ? .nan : Double((i * 7_919) % 1_009 - 500)
        }
        let expectedMixed = mixed.filter { !$0.isNaN }.sorted().map(\.bitPattern)
        #expect(NumberSort.ascending(Underestimated(values: mixed, estimate: 500)).map(\.bitPattern) == expectedMixed)
        #expect(NumberSort.ascending(Underestimated(values: mixed, estimate: 0)).map(\.bitPattern) == expectedMixed)
        // Zeros of both signs keep their order, between the negatives and the positives.
        let zeros: [Double] = [0, -0.0, 2, -0.0, -1, 0, -0.0]
        #expect(NumberSort.ascending(zeros).map(\.bitPattern) == [-1, 0, -0.0, -0.0, 0, -0.0, 2].map(\.bitPattern))
    }
}

/// `values`, saying it holds at least `estimate` of them.
private struct Underestimated: Sequence {
    let values: [Double]
    let estimate: Int
    var underestimatedCount: Int { estimate }
    func makeIterator() -> IndexingIterator<[Double]> { values.makeIterator() }
}
