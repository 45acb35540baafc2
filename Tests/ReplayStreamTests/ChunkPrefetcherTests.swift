import Foundation
import Testing
@testable import ReplayStream
import ReplayTestSupport

/// ``ChunkPrefetcher``: chunks that put together are the input, each ending where a record does (no quote
/// open), each with the digest of the input through it, taken by two consumers in turn and given back in any
/// order.
@Suite struct ChunkPrefetcherTests {
    @Test func aRecordEndsAtTheLastLineEndOutsideQuotes() {
        func end(_ text: String) -> Int? { Array(text.utf8).withUnsafeBytes { CSVRecordAssembler.lastRecordEnd($0) } }
        #expect(end("") == nil)
        #expect(end("abc") == nil)
        #expect(end("a\nb\nc") == 4)
        #expect(end("a\nb\n") == 4)
        #expect(end("a,\"x\ny\"\nb") == 8)
        #expect(end("a,\"x\ny") == nil)
        #expect(end("a\nb,\"x\ny") == 2)
        #expect(end("\"x\ny") == nil)
        #expect(end("a\n\"\"\"\n") == 2)  // three quotes: one still open
        #expect(end("a\n\"\"\"\"\n") == 7)
    }

    /// Random records (quoted fields with line ends and doubled quotes, CRLF, long records) in blocks of a few
    /// bytes: the chunks, taken by two threads in turn, each holding two and giving them back newest first,
    /// put together are the input. Each chunk but the last ends where a record does, unless it is longer than
    /// `maxRecordBytes` (a record longer than any may be, handed over for the parser to refuse: the few records of
    /// up to ~600 bytes here).
    @Test func chunksPutTogetherAreTheInputAndEndWhereRecordsEnd() throws {
        let seed = testSeed(default: 41)
        var random = SeededGenerator(seed: seed)
        let maxRecordBytes = 400
        var text: [UInt8] = []
        for _ in 0..<3_000 {
            let fields = (0..<Int.random(in: 1...4, using: &random)).map { _ -> String in
                switch Int.random(in: 0..<6, using: &random) {
                case 0: return "\"a\nb\"\"c\""
                case 1: return "\"\""
                case 2: return String(repeating: "z", count: Int.random(in: 0...150, using: &random))
                default: return String(Int.random(in: 0...99_999, using: &random))
                }
            }
            text += Array((fields.joined(separator: ",") + (Bool.random(using: &random) ? "\r\n" : "\n")).utf8)
        }
        text += Array("last,\"record\"".utf8)
        let input = text
        try IngestBadInputTests.withInput(input) { source, _, _ in
            let prefetcher = ChunkPrefetcher(
                source: source, hashes: true, blockSize: 37, maxRecordBytes: maxRecordBytes, consumers: 2, depth: 6)
            defer { prefetcher.stop() }
            let taken = TakenChunks()
            let done = DispatchGroup()
            for first in 0..<2 {
                done.enter()
                Thread {
                    defer { done.leave() }
                    var k = first
                    var held: [Int] = []
                    // The second consumer lags (as a loaded machine makes one): the other may take the last chunk
                    // while chunks before it still wait for this one.
                    while true {
                        if first == 1 { usleep(200) }
                        guard let chunk = try? prefetcher.chunk(k) else { break }
                        taken.chunks.withLock { $0[k] = (Array(chunk.bytes), chunk.isLast, chunk.digestThrough) }
                        held.append(k)
                        if held.count == 2 {
                            for h in held.reversed() { prefetcher.release(h) }
                            held.removeAll()
                        }
                        if chunk.isLast { break }
                        k += 2
                    }
                    for h in held { prefetcher.release(h) }
                }.start()
            }
            // The consumer of the chunk after the last waits for it until the stop. The stop comes once every chunk
            // up to the last is taken: a consumer still behind would see the stop before its chunk.
            let deadline = Date().addingTimeInterval(60)
            while !taken.chunks.withLock({ Self.holdsEveryChunkThroughTheLast($0) }), Date() < deadline { usleep(1_000) }
            prefetcher.requestStop()
            done.wait()
            let chunks = taken.chunks.withLock { $0 }
            let count = chunks.values.filter(\.1).count == 1 ? chunks.keys.max()! + 1 : 0
            #expect(count > 100)
            var joined: [UInt8] = []
            let hash = XXH64()
            var quotes = 0
            for k in 0..<count {
                let (bytes, isLast, digest) = try #require(chunks[k])
                joined += bytes
                #expect(isLast == (k == count - 1), "seed \(seed)")
                hash.update(bytes)
                #expect(digest == hash.value, "seed \(seed): chunk \(k)'s digest is of the input through it")
                quotes += bytes.filter { $0 == 0x22 }.count
                if !isLast && bytes.count <= maxRecordBytes {
                    #expect(bytes.last == 0x0A, "seed \(seed): chunk \(k)")
                    #expect(quotes % 2 == 0, "seed \(seed): chunk \(k) ends inside quotes")
                }
            }
            #expect(joined == input, "seed \(seed)")
        }
    }

    /// The chunks two consumer threads took: bytes, last, digest.
    final class TakenChunks: Sendable {
        let chunks = TracedMutex<[Int: ([UInt8], Bool, UInt64?)]>([:])
    }

    /// True when `chunks` holds the last chunk and every chunk before it.
    static func holdsEveryChunkThroughTheLast(_ chunks: [Int: ([UInt8], Bool, UInt64?)]) -> Bool {
        guard let last = chunks.first(where: { $0.value.1 })?.key else { return false }
        return chunks.count == last + 1
    }

    /// A record longer than `maxRecordBytes` is one chunk longer than that, for the parser to refuse; the chunk
    /// before it ends where the record starts.
    @Test func aRecordLongerThanAnyIsAChunkOfItsOwn() throws {
        let input = Array(("a,b\n" + String(repeating: "x", count: 1_000) + "\nc\n").utf8)
        try IngestBadInputTests.withInput(input) { source, _, _ in
            let prefetcher = ChunkPrefetcher(source: source, hashes: false, blockSize: 64, maxRecordBytes: 300, consumers: 1, depth: 2)
            defer { prefetcher.stop() }
            let first = try #require(try prefetcher.chunk(0))
            #expect(Array(first.bytes) == Array("a,b\n".utf8))
            prefetcher.release(0)
            let long = try #require(try prefetcher.chunk(1))
            #expect(long.bytes.count > 300 && !long.bytes.contains(0x0A))
            #expect(long.digestThrough == nil)
            prefetcher.release(1)
        }
    }
}
