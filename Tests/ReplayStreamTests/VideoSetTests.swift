import ReplayTestSupport
import Testing

@testable import ReplayStream

/// The open day's video set holds what `Set<Int32>` holds, through growth, `Int32.min` (its empty marker) and
/// emptying with and without its storage.
struct VideoSetTests {
    @Test(arguments: [(draws: 5_000, range: UInt64(1 << 32)), (draws: 5_000, range: UInt64(40)), (draws: 300, range: UInt64(300))])
    func holdsWhatASetHolds(draws: Int, range: UInt64) {
        let seed = testSeed(default: 5)
        var random = SeededGenerator(seed: seed)
        var videos = VideoSet()
        var reference = Set<Int32>()
        for round in 0..<3 {
            for _ in 0..<draws {
                // Int32.min, Int32.max and 0 now and then, else a value of the range (negative ones included).
                let pick = random.next() % 50
                let v: Int32 = pick == 0 ? .min : pick == 1 ? .max : pick == 2 ? 0
                    : Int32(truncatingIfNeeded: Int64(random.next() % range) - Int64(range / 2))
                videos.insert(v)
                reference.insert(v)
                #expect(videos.count == reference.count, "seed \(seed)")
            }
            #expect(videos.sorted() == reference.sorted(), "seed \(seed), round \(round)")
            #expect(videos.capacity >= videos.count)
            videos.removeAll(keepingCapacity: round == 0)
            reference.removeAll()
            #expect(videos.count == 0 && videos.sorted().isEmpty)
            if round == 0 { #expect(videos.capacity > 0, "storage kept") } else { #expect(videos.capacity == 0) }
        }
        let listed: VideoSet = [3, 1, 3, .min, 2, .min]
        #expect(listed.sorted() == [.min, 1, 2, 3] && listed.count == 4)
    }

    /// A set emptied without its storage allocates, at its next first insert, the size it had: a busy day's
    /// set does not grow through every size again. A set only ever small starts at 16 slots.
    @Test func aFreedSetAllocatesItsFormerSizeAtOnce() {
        var videos = VideoSet()
        for v in Int32(0)..<500 { videos.insert(v) }
        let busy = videos.capacity
        #expect(busy >= 500)
        videos.removeAll(keepingCapacity: false)
        #expect(videos.capacity == 0 && videos.count == 0)
        videos.insert(.min)
        #expect(videos.capacity == 0, "Int32.min takes no slot")
        videos.insert(7)
        #expect(videos.capacity == busy && videos.count == 2 && videos.sorted() == [.min, 7])
        for v in Int32(0)..<2_000 { videos.insert(v) }
        #expect(videos.capacity > busy && videos.count == 2_001)
        var small = VideoSet()
        small.insert(1)
        #expect(small.capacity == 12)
    }
}
