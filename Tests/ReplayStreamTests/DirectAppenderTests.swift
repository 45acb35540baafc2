import Foundation
import Testing

@testable import ReplayStream

/// Writes around the page cache: the file holds exactly the bytes appended, in order, from any starting offset,
/// with every block boundary and buffer size crossed; a filesystem without `O_DIRECT` is told apart.
struct DirectAppenderTests {
    /// A folder on a filesystem that takes `O_DIRECT` (the temporary folder, or the working folder when the
    /// temporary one is a tmpfs), so that the direct path is what is tested.
    func directFolder() throws -> String {
        for base in [FileManager.default.temporaryDirectory.path, FileManager.default.currentDirectoryPath] {
            let folder = base + "/direct-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let probe = open(folder + "/probe", O_RDWR | O_CREAT, 0o644)
            defer { close(probe) }
            if let appender = try DirectAppender.open(fd: probe, start: 0, path: "probe") {
                appender.close()
                return folder
            }
            try FileManager.default.removeItem(atPath: folder)
        }
        Issue.record("neither the temporary folder nor the working folder takes O_DIRECT")
        throw CancellationError()
    }

    /// The file's bytes.
    func contents(_ path: String) throws -> [UInt8] { try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) }

    /// Bytes that differ at every offset (no run of them repeats at a block's distance).
    func pattern(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed | 1
        return (0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }

    /// Every start offset class with each gathering size: the default, `--emit final`'s and the smallest (two blocks).
    @Test(arguments: [0, 1, 4095, 4096, 4097, 12_345], [DirectAppender.defaultCoalescedBytes, 512 << 10, 8192])
    func theFileHoldsTheBytesAppendedFromAnyStart(start: Int, gathering: Int) throws {
        let folder = try directFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/out"
        let existing = pattern(start, seed: 7)
        #expect(FileManager.default.createFile(atPath: path, contents: Data(existing)))
        let fd = open(path, O_RDWR)
        defer { close(fd) }
        let appender = try #require(try DirectAppender.open(fd: fd, start: Int64(start), path: path, coalescedBytes: gathering))
        #expect(appender.coalescedBytes == gathering)
        // Pieces of every size class: under a block, across blocks, past the gathering, one larger than two of it.
        let sizes = [1, 7, 4096, 4095, 4097, 100_000, gathering - 3, 3, gathering * 2 + 5, 11]
        var expected = existing
        for (k, size) in sizes.enumerated() {
            let piece = pattern(size, seed: UInt64(k + 100))
            try piece.withUnsafeBytes { try appender.append($0) }
            expected += piece
            if k == 3 {
                // A flush in the middle puts everything so far in the file, its tail included.
                try appender.flush()
                #expect(try contents(path) == expected)
            }
        }
        try appender.flush()
        #expect(appender.isDirect)
        appender.close()
        let written = try contents(path)
        #expect(written.count == expected.count)
        #expect(written == expected)
    }

    @Test func aFlushWithNothingNewWritesNothingAndAppendsContinueAfterIt() throws {
        let folder = try directFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/out"
        let fd = open(path, O_RDWR | O_CREAT, 0o644)
        defer { close(fd) }
        let appender = try #require(try DirectAppender.open(fd: fd, start: 0, path: path))
        try appender.flush()
        var expected: [UInt8] = []
        for line in 0..<2_000 {
            let text = Array("line \(line) of the panel\n".utf8)
            try text.withUnsafeBytes { try appender.append($0) }
            expected += text
            if line % 97 == 0 {
                try appender.flush()
                try appender.flush()
                #expect(try contents(path) == expected)
            }
        }
        try appender.flush()
        appender.close()
        appender.close()
        #expect(try contents(path) == expected)
    }

    @Test func directWritesRefusedGoThroughTheFilesDescriptorInOrder() throws {
        let folder = try directFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/out"
        let existing = pattern(5_000, seed: 3)
        #expect(FileManager.default.createFile(atPath: path, contents: Data(existing)))
        let fd = open(path, O_RDWR)
        defer { close(fd) }
        // Buffers one byte past their alignment: the kernel refuses every direct write with EINVAL.
        let appender = try #require(try DirectAppender.open(fd: fd, start: 5_000, path: path, memoryOffset: 1))
        var expected = existing
        for (k, size) in [10, 9_000, appender.coalescedBytes + 77, 5].enumerated() {
            let piece = pattern(size, seed: UInt64(k + 40))
            try piece.withUnsafeBytes { try appender.append($0) }
            expected += piece
        }
        try appender.flush()
        #expect(!appender.isDirect)
        appender.close()
        #expect(try contents(path) == expected)
    }

    @Test func aWriteThatFailsIsThrownByTheNextCall() throws {
        let folder = try directFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/out"
        let fd = open(path, O_RDWR | O_CREAT, 0o644)
        let appender = try #require(try DirectAppender.open(fd: fd, start: 0, path: path))
        // The ordinary descriptor closed under it: the tail's write fails with EBADF.
        close(fd)
        try Array("a line\n".utf8).withUnsafeBytes { try appender.append($0) }
        #expect(throws: POSIXFileError.self) { try appender.flush() }
        #expect(throws: POSIXFileError.self) { try Array("more\n".utf8).withUnsafeBytes { try appender.append($0) } }
        appender.close()
    }
}
