import Foundation
import SystemPackage
import KuaiRecFixtures
import ReplayTestSupport
import Testing
@testable import ReplayStream

/// The ISA-L fast path: the same bytes as libarchive on every zip it can address, a clear error on every damage,
/// and libarchive (or a refusal under `.isal`) for the inputs it cannot address.
@Suite struct DeflateMemberReaderTests {
    static let member = "KuaiRec 2.0/data/small_matrix.csv"

    /// CSV-like text of `lines` lines drawn from `seed` (compressible, like the real matrix).
    static func csvText(lines: Int, seed: UInt64) -> [UInt8] {
        var random = SeededGenerator(seed: seed)
        var text = "user_id,video_id,play_duration,video_duration,time,date,timestamp,watch_ratio\n"
        for i in 0..<lines {
            let user = i / 50, video = Int.random(in: 0..<4000, using: &random)
            let play = Int.random(in: 0..<30_000, using: &random), ratio = Double.random(in: 0..<3, using: &random)
            text += "\(user),\(video),\(play),6067,2020-07-05 05:27:48.378,20200705.0,1593898068.378,\(ratio)\n"
        }
        return Array(text.utf8)
    }

    /// Writes a zip holding `members` (path, bytes, how stored) at `url`.
    static func writeZip(_ url: URL, _ members: [(String, [UInt8], ArchiveWriter.Compression)], level: Int = 6) throws {
        let writer = try ArchiveWriter(path: url.path, compressionLevel: level)
        for (path, bytes, compression) in members {
            try writer.addFile(path: path, contents: bytes, compression: compression)
        }
        try writer.close()
    }

    /// Every byte `source` gives, through `read(into:)` in `chunk`-byte buffers.
    static func readAll(_ source: MatrixSource, chunk: Int = 1 << 16) throws -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: chunk)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
            if n == 0 { return out }
            out += buffer[0..<n]
        }
    }

    /// Every byte `source` gives through `nextBlock()`.
    static func blocks(_ source: MatrixSource) throws -> [UInt8] {
        var out: [UInt8] = []
        while let block = try source.nextBlock() { out += block }
        return out
    }

    @Test func bareAndNestedZipsReadTheSameBytesWithEitherInflater() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = Self.csvText(lines: 40_000, seed: testSeed(default: 5))
        let inner = dir.appendingPathComponent("KuaiRec.zip")
        try Self.writeZip(inner, [("KuaiRec 2.0/data/user_features.csv", Array("user_id\n1\n".utf8), .deflate), (Self.member, csv, .deflate)])
        let outer = dir.appendingPathComponent("18164998.zip")
        try Self.writeZip(outer, [("KuaiRec.zip", Array(try Data(contentsOf: inner)), .store)])
        for input in [inner.path, outer.path] {
            let fast = try MatrixSource.open(input: input, matrix: .small, inflate: .isal)
            #expect(fast.decompressor == "ISA-L")
            #expect(try Self.readAll(fast, chunk: 777) == csv, "\(input): ISA-L in 777-byte reads")
            let blocks = try MatrixSource.open(input: input, matrix: .small, inflate: .auto)
            #expect(blocks.decompressor == "ISA-L")
            #expect(try Self.blocks(blocks) == csv, "\(input): ISA-L blocks")
            let slow = try MatrixSource.open(input: input, matrix: .small, inflate: .libarchive)
            #expect(slow.decompressor == "libarchive")
            #expect(try Self.readAll(slow, chunk: 1000) == csv, "\(input): libarchive")
            let side = try MatrixSource.open(input: input, fileName: "user_features.csv", inflate: .isal)
            #expect(try Self.blocks(side) == Array("user_id\n1\n".utf8))
        }
        // Consumed bytes reach the member's data end (progress), within the outer file.
        let fast = try MatrixSource.open(input: outer.path, matrix: .small, inflate: .isal)
        _ = try Self.readAll(fast)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: outer.path)[.size] as? NSNumber).int64Value
        #expect(fast.bytesConsumed > 0 && fast.bytesConsumed < size)
        #expect(fast.bytesDelivered == Int64(csv.count))
    }

    /// ISA-L inflates into a buffer of its own and streams it out (`replay_copy_streaming`: plain stores up to a
    /// line boundary, whole lines streamed, the rest plain): reads into destinations at every offset within a
    /// line and of sizes around whole lines and around the stage, one after another, give the member's bytes.
    @Test func readsIntoDestinationsAtEveryAlignmentGiveTheSameBytes() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = Self.csvText(lines: 30_000, seed: testSeed(default: 9))
        let zip = dir.appendingPathComponent("KuaiRec.zip")
        try Self.writeZip(zip, [(Self.member, csv, .deflate)])
        let source = try MatrixSource.open(input: zip.path, matrix: .small, inflate: .isal)
        #expect(source.decompressor == "ISA-L")
        let sizes = [1, 63, 64, 65, 127, 4_095, DeflateMemberReader.stageBytes - 1, DeflateMemberReader.stageBytes + 65, 300_001]
        var buffer = [UInt8](repeating: 0, count: 64 + 300_001)
        var out: [UInt8] = []
        var step = 0
        while true {
            let offset = step % 64, size = sizes[step % sizes.count]
            step += 1
            let n = try buffer.withUnsafeMutableBytes { raw in
                try source.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[offset..<(offset + size)]))
            }
            if n == 0 { break }
            out += buffer[offset..<(offset + n)]
        }
        #expect(out.count == csv.count)
        #expect(out == csv)
        #expect(step > 2 * sizes.count)
    }

    @Test func directoryListsWhatLibarchiveSees() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let zip = dir.appendingPathComponent("m.zip")
        let members: [(String, [UInt8], ArchiveWriter.Compression)] = [
            ("a/stored.csv", Array("x,y\n1,2\n".utf8), .store), ("a/deflated.csv", Self.csvText(lines: 100, seed: 1), .deflate),
            ("empty.csv", [], .deflate),
        ]
        try Self.writeZip(zip, members)
        let fd = try FileDescriptor.open(zip.path, .readOnly)
        defer { try? fd.close() }
        let size = try #require(try FileManager.default.attributesOfItem(atPath: zip.path)[.size] as? NSNumber).int64Value
        let listed = try #require(ZipDirectory.members(fd: fd, start: 0, length: size))
        #expect(listed.map(\.path) == members.map(\.0))
        #expect(listed.map(\.uncompressedSize) == members.map { Int64($0.1.count) })
        #expect(listed.map(\.method) == [0, 8, 8])
        // A cut zip has no directory.
        #expect(ZipDirectory.members(fd: fd, start: 0, length: size - 1) == nil)
    }

    @Test func inputsISALCannotAddressFallBackOrAreRefused() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = Self.csvText(lines: 200, seed: 2)
        let plain = dir.appendingPathComponent("small_matrix.csv")
        try Data(csv).write(to: plain)
        let stored = dir.appendingPathComponent("stored.zip")
        try Self.writeZip(stored, [(Self.member, csv, .store)])
        // A zip inside a deflated member is read as a stream: libarchive only.
        let inner = dir.appendingPathComponent("KuaiRec.zip")
        try Self.writeZip(inner, [(Self.member, csv, .deflate)])
        let nested = dir.appendingPathComponent("nested.zip")
        try Self.writeZip(nested, [("KuaiRec.zip", Array(try Data(contentsOf: inner)), .deflate)])
        let cases: [(URL, String)] = [
            (plain, "it is not a zip"), (stored, "the member is stored uncompressed, not deflated"),
            (nested, "the zip holding it is itself compressed, so it is read as a stream"),
        ]
        for (input, reason) in cases {
            let auto = try MatrixSource.open(input: input.path, matrix: .small)
            #expect(auto.decompressor == "libarchive", "\(input.lastPathComponent)")
            #expect(try Self.blocks(auto) == csv, "\(input.lastPathComponent)")
            do {
                _ = try MatrixSource.open(input: input.path, matrix: .small, inflate: .isal)
                Issue.record("\(input.lastPathComponent): .isal opened it")
            } catch let error as InflateUnavailable {
                #expect(error.reason.hasPrefix(reason), "\(input.lastPathComponent): \(error)")
            }
        }
    }

    /// A bare zip of a 20,000-line CSV with one field of the member's central directory entry (`offset` bytes
    /// into it: 16 CRC-32, 20 compressed size, 24 uncompressed size) changed by `change`, or its data's byte
    /// at `flip` (from the data's start) inverted; the error ISA-L's read of it throws.
    static func damagedReadError(field offset: Int? = nil, change: (UInt32) -> UInt32 = { $0 }, flip: Int? = nil) throws -> ArchiveReadError? {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let zip = dir.appendingPathComponent("m.zip")
        try writeZip(zip, [(member, csvText(lines: 20_000, seed: 9), .deflate)])
        var bytes = Array(try Data(contentsOf: zip))
        func le(_ at: Int, _ width: Int) -> Int { (0..<width).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
        let name = Array(member.utf8)
        var entry = bytes.count - 46
        while entry >= 0 && !(le(entry, 4) == 0x0201_4b50 && Array(bytes[(entry + 46)..<(entry + 46 + name.count)]) == name) {
            entry -= 1
        }
        try #require(entry >= 0, "no directory entry for the member")
        if let offset {
            let changed = change(UInt32(le(entry + offset, 4)))
            for k in 0..<4 { bytes[entry + offset + k] = UInt8((changed >> (8 * UInt32(k))) & 0xFF) }
        }
        if let flip {
            let header = le(entry + 42, 4)
            bytes[header + 30 + le(header + 26, 2) + le(header + 28, 2) + flip] ^= 0xFF
        }
        try Data(bytes).write(to: zip)
        let source = try MatrixSource.open(input: zip.path, matrix: .small, inflate: .isal)
        do {
            _ = try readAll(source)
            return nil
        } catch let error as ArchiveReadError {
            return error
        }
    }

    @Test func damageIsAClearErrorNamingISAL() throws {
        let crc = try #require(try Self.damagedReadError(field: 16, change: { $0 ^ 1 }))
        #expect(crc.message == ArchiveReadError.failsIntegrityCheck)
        #expect(crc.library == "ISA-L" && crc.member == Self.member)
        #expect(crc.libraryMessage?.hasPrefix("CRC-32 0x") == true, "\(crc)")
        #expect(crc.description.contains("(ISA-L: CRC-32 0x"), "\(crc)")
        let short = try #require(try Self.damagedReadError(field: 20, change: { $0 - 100 }))
        #expect(short.message == ArchiveReadError.corruptData, "\(short)")
        #expect(short.libraryMessage?.contains("does not end within") == true, "\(short)")
        let long = try #require(try Self.damagedReadError(field: 20, change: { $0 + 10 }))
        #expect(long.message == ArchiveReadError.failsIntegrityCheck, "\(long)")
        #expect(long.libraryMessage?.contains("the deflate stream ends after") == true, "\(long)")
        let smaller = try #require(try Self.damagedReadError(field: 24, change: { $0 - 1 }))
        #expect(smaller.libraryMessage?.hasPrefix("more than the") == true, "\(smaller)")
        let larger = try #require(try Self.damagedReadError(field: 24, change: { $0 + 1 }))
        #expect(larger.libraryMessage?.contains("bytes inflated, the zip directory states") == true, "\(larger)")
        for at in [0, 1, 100, 5000] {
            let flipped = try #require(try Self.damagedReadError(flip: at), "flip at \(at) was not noticed")
            #expect(
                [ArchiveReadError.corruptData, ArchiveReadError.failsIntegrityCheck].contains(flipped.message), "\(flipped)")
        }
    }
}
