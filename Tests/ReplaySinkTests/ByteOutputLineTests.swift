import Foundation
import ReplayStream
import Testing

@testable import ReplaySink

/// Where an output's writes end: a reader of a panel file while it is written sees whole lines, a partial
/// last line only where the operating system split one write.
@Suite struct ByteOutputLineTests {
    /// The chunks an output hands to its writer, in order (the hook runs on the appending thread).
    final class Chunks {
        var all: [[UInt8]] = []
    }

    @Test func everyChunkHandedToTheWriterEndsWithANewline() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lines-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for format in [PanelFormat.jsonl, .csv] {
            let path = dir.appendingPathComponent("panel.\(format)").path
            // A limit that no line length divides: lines straddle it.
            let output = try ByteOutput(path: path, resumeAt: nil, bufferLimit: 3_000)
            defer { try? output.close() }
            let chunks = Chunks()
            output.chunkHandedOver = { chunks.all.append($0) }
            let sink = try PanelLinesSink(output: output, format: format)
            var expected = format == .csv ? PanelLinesSink.csvHeader : []
            for i in 0..<300 {
                var d = DailyValues()
                d.interactions = i
                d.totalPlayDurationSec = Double(i) / 7
                d.avgWatchRatio = Double(i) / 3
                let r = UserDayRecord(
                    userID: Int32(i % 17), day: CalendarDay(rawValue: 18_448 + Int32(i / 17)), daily: d,
                    lag1: LagValues(repeating: Double(i) / 11), prior3: LagValues(repeating: 0),
                    leads: LeadValues(repeating: .nan), treatmentHighIntensity: i % 2,
                    treatmentHighWatchExposure: 0, revision: 0, isFinal: true)
                try sink.write(r)
                expected += PanelLinesSink.render(r, format: format)
            }
            _ = try sink.flush()
            #expect(chunks.all.count > 10, "\(format): the limit was crossed many times")
            for (k, chunk) in chunks.all.enumerated() {
                #expect(chunk.last == 0x0A, "\(format): chunk \(k) of \(chunk.count) bytes ends inside a line")
            }
            #expect(chunks.all.flatMap { $0 } == expected)
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == expected)
        }
    }

    @Test func aLineNotYetEndedWaitsForItsNewlineOrTheDrain() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lines-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("out.txt").path
        let output = try ByteOutput(path: path, resumeAt: nil, bufferLimit: 8)
        defer { try? output.close() }
        let chunks = Chunks()
        output.chunkHandedOver = { chunks.all.append($0) }
        try output.append(Array("one\ntwo and more".utf8))
        #expect(chunks.all == [Array("one\n".utf8)])
        try output.append(Array(" still".utf8))
        #expect(chunks.all.count == 1, "no newline since: nothing handed over")
        try output.append(Array("\nthree".utf8))
        #expect(chunks.all.last == Array("two and more still\n".utf8))
        try output.drain()
        #expect(chunks.all.last == Array("three".utf8), "a drain hands over everything")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "one\ntwo and more still\nthree")
    }

    /// With the default gathering and with the smallest (two blocks: a write every few hundred lines).
    @Test(arguments: [DirectAppender.defaultCoalescedBytes, 8192])
    func aFileWrittenAroundThePageCacheHoldsEveryLineAtEachDrainAndResumesInsideABlock(gathering: Int) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lines-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("panel.csv").path
        func contents() throws -> [UInt8] { try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) }
        let output = try ByteOutput(
            path: path, resumeAt: nil, bufferLimit: 3_000, directWriteBytes: gathering)
        var expected: [UInt8] = []
        var committed = 0
        for i in 0..<40_000 {
            let line = Array("\(i),\(Double(i) / 7),\(i % 13)\n".utf8)
            try output.append(line)
            expected += line
            if i % 5_000 == 4_999 {
                try output.drain()
                #expect(try contents() == expected, "after line \(i)")
                committed = expected.count
            }
        }
        try output.close()
        #expect(try contents() == expected)
        // A resumed run cuts the file back to a committed length (not a multiple of a block) and goes on from there.
        let cut = committed - 1_000
        let lineEnd = expected[..<cut].lastIndex(of: 0x0A)! + 1
        #expect(lineEnd % 4096 != 0)
        let resumed = try ByteOutput(path: path, resumeAt: Int64(lineEnd), directWriteBytes: gathering)
        var after = Array(expected[..<lineEnd])
        for i in 0..<9_000 {
            let line = Array("resumed \(i)\n".utf8)
            try resumed.append(line)
            after += line
        }
        try resumed.close()
        #expect(try contents() == after)
    }

    /// A checkpoint's fingerprint hashes the last bytes handed over, kept in memory (``RecentBytes``): at every
    /// drain it is the fingerprint read back from the file, written around the page cache or through it, fresh
    /// and resumed (where the bytes before the resume are read back until a block more is written).
    @Test(arguments: [nil, 8192] as [Int?])
    func theFingerprintFromMemoryIsTheOneReadBack(gathering: Int?) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lines-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("panel.csv").path
        /// Drains `output` after each of `lines` lines whose number is in `drainAt`, and checks the fingerprint.
        func write(_ output: ByteOutput, lines: Range<Int>, drainAt: Set<Int>) throws {
            for i in lines {
                try output.append(Array("\(i),\(Double(i) / 7)\n".utf8))
                if drainAt.contains(i) {
                    try output.drain()
                    let fromMemory = try #require(try output.durability.fingerprint(ofFirst: output.length))
                    let readBack = try OutputFingerprint.of(fd: output.durability.fd, length: output.length, path: path)
                    #expect(fromMemory == readBack, "line \(i), \(output.length) bytes")
                    #expect(fromMemory.tailLength == min(OutputFingerprint.tailBytes, Int(output.length)))
                }
            }
        }
        let output = try ByteOutput(path: path, resumeAt: nil, bufferLimit: 3_000, directWriteBytes: gathering)
        // Drains after 1 line (a file shorter than the tail), a few lines (chunks shorter than it) and thousands.
        try write(output, lines: 0..<20_000, drainAt: [0, 1, 5, 6, 300, 301, 9_999, 19_999])
        try output.close()
        let resumed = try ByteOutput(path: path, resumeAt: output.length, directWriteBytes: gathering)
        try write(resumed, lines: 20_000..<30_000, drainAt: [20_000, 20_001, 29_999])
        try resumed.close()
    }

    @Test func recentBytesHoldTheTailOfTheFileWhateverTheChunks() {
        let limit = OutputFingerprint.tailBytes
        var file: [UInt8] = []
        let recent = RecentBytes(start: 0)
        var random = SystemRandomNumberGenerator()
        for size in [0, 1, 7, limit - 1, limit, limit + 1, 3, 2 * limit + 5, 100, 100, 100] {
            let chunk = (0..<size).map { _ in UInt8.random(in: 0...255, using: &random) }
            chunk.withUnsafeBytes { recent.append($0) }
            file += chunk
            #expect(recent.tail(ofFileOf: Int64(file.count)) == Array(file.suffix(limit)), "after a chunk of \(size) bytes")
            #expect(recent.tail(ofFileOf: Int64(file.count) + 1) == nil, "another length")
        }
        // A file resumed at 10,000 bytes holds nothing of what came before: only a tail written since is given.
        let resumed = RecentBytes(start: 10_000)
        Array(repeating: UInt8(1), count: 100).withUnsafeBytes { resumed.append($0) }
        #expect(resumed.tail(ofFileOf: 10_100) == nil)
        Array(repeating: UInt8(2), count: limit).withUnsafeBytes { resumed.append($0) }
        #expect(resumed.tail(ofFileOf: Int64(10_100 + limit)) == Array(repeating: 2, count: limit))
    }
}
