import Foundation
import ReplayTestSupport
import Testing

@testable import ReplayStream

@Suite struct ContentDigestTests {
    private static func xxh64(_ text: String) -> UInt64 {
        let h = XXH64()
        h.update(Array(text.utf8))
        return h.value
    }

    @Test func xxh64MatchesTheReferenceVectors() {
        #expect(Self.xxh64("") == 0xEF46_DB37_51D8_E999)
        #expect(Self.xxh64("a") == 0xD24E_C4F1_A98C_6E5B)
        #expect(Self.xxh64("abc") == 0x44BC_2CF5_AD77_0999)
        #expect(Self.xxh64("Nobody inspects the spammish repetition") == 0xFBCE_A83C_8A37_8BF1)
    }

    @Test func theHashDoesNotDependOnHowTheBytesAreSplit() {
        let seed = testSeed(default: 0x5EED_0003)
        var generator = SeededGenerator(seed: seed)
        let bytes = (0..<5000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let whole = XXH64()
        whole.update(bytes)
        for round in 0..<50 {
            let split = XXH64()
            var i = 0
            while i < bytes.count {
                let n = min(bytes.count - i, Int.random(in: 0...70, using: &generator))
                split.update(Array(bytes[i..<(i + n)]))
                i += n
            }
            #expect(split.value == whole.value && split.count == whole.count, "seed \(seed): round \(round)")
        }
    }
}
