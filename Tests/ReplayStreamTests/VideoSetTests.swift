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

    /// Room reserved for n more members is the size n inserts grow the set to, made at once, and holds them
    /// without growing; the members stay.
    @Test func reservedRoomIsWhatTheInsertsWouldGrowTo() {
        for (held, more) in [(0, 0), (0, 1), (0, 12), (0, 13), (0, 500), (5, 40), (100, 1), (100, 3_000)] {
            var grown = VideoSet(), reserved = VideoSet()
            for v in Int32(0)..<Int32(held) {
                grown.insert(v)
                reserved.insert(v)
            }
            reserved.reserve(more)
            let capacity = reserved.capacity
            for v in Int32(held)..<Int32(held + more) {
                grown.insert(v)
                reserved.insert(v)
            }
            #expect(reserved.capacity == capacity, "held \(held), \(more) more: no growth after the reserve")
            #expect(reserved.capacity == grown.capacity, "held \(held), \(more) more")
            #expect(reserved.sorted() == grown.sorted() && reserved.count == held + more)
        }
    }
}
