import Foundation
import SystemPackage
import Testing

@testable import ReplayStream

/// The file layer: durable replace and write-all.
struct FileIOTests {
    func temporaryFolder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fileio-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func atomicWriteReplacesTheFileWholeAndLeavesNoPartialFile() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/report.json"
        try AtomicFile.write(Array("one".utf8), to: path)
        try AtomicFile.write(Array("two".utf8), to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "two")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["report.json"])
        #expect(throws: POSIXFileError.self) { try AtomicFile.write([1], to: folder + "/missing/x") }
    }

    @Test func aFailedReplaceLeavesTheOldFileAndRemovesThePartialOne() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/panel.csv"
        try AtomicFile.write(Array("old".utf8), to: path)
        // A stale partial file from a crash is replaced, not appended to.
        #expect(FileManager.default.createFile(atPath: path + ".partial", contents: Data("stale".utf8)))
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try AtomicFile.replace(path) { partial in
                #expect(!FileManager.default.fileExists(atPath: partial))
                try AtomicFile.write(Array("half".utf8), to: partial + ".x")
                throw Stop()
            }
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "old")
        #expect(!FileManager.default.fileExists(atPath: path + ".partial"))
        let rows = try AtomicFile.replace(path) { partial in
            FileManager.default.createFile(atPath: partial, contents: Data("new".utf8)) ? 1 : 0
        }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(rows == 1 && text == "new")
    }

    /// A replace in two halves (the rejects file's: written by the pass, committed on another thread): until the
    /// commit the old file stands (a crash in between leaves it), a failed body or commit removes the partial file,
    /// and the commit makes the new bytes the file's.
    @Test func aReplaceWrittenNowAndCommittedLaterLeavesTheOldFileUntilItsCommit() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/rejects.jsonl"
        try AtomicFile.write(Array("old".utf8), to: path)
        let target = try #require(AtomicFile.replaceableFile(path))
        let rows = try AtomicFile.writePartial(of: target) { partial in
            FileManager.default.createFile(atPath: partial, contents: Data("new".utf8)) ? 7 : 0
        }
        #expect(rows == 7)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "old", "not committed yet")
        #expect(try String(contentsOfFile: path + ".partial", encoding: .utf8) == "new")
        try AtomicFile.commitOrDiscard(target)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "new")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["rejects.jsonl"])
        // A body that throws leaves no partial file; a commit with no partial file throws and leaves the file.
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try AtomicFile.writePartial(of: target) { partial in
                #expect(FileManager.default.createFile(atPath: partial, contents: Data("half".utf8)))
                throw Stop()
            }
        }
        #expect(!FileManager.default.fileExists(atPath: path + ".partial"))
        #expect(throws: POSIXFileError.self) { try AtomicFile.commitOrDiscard(target) }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "new")
        // A commit that fails after the partial file was written (its folder cannot take the name: a folder
        // stands there) removes the partial file.
        let blocked = folder + "/blocked"
        try FileManager.default.createDirectory(atPath: blocked + "/x", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: blocked + ".partial", contents: Data("new".utf8)))
        #expect(throws: POSIXFileError.self) { try AtomicFile.commitOrDiscard(blocked) }
        #expect(!FileManager.default.fileExists(atPath: blocked + ".partial"))
    }

    @Test func aFIFOIsWrittenInPlaceNotReplaced() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/fifo"
        #expect(mkfifo(path, 0o600) == 0)
        // A reader first, so that opening the FIFO for writing does not wait.
        let reader = open(path, O_RDONLY | O_NONBLOCK)
        #expect(reader >= 0)
        defer { close(reader) }
        try AtomicFile.write(Array("through".utf8), to: path)
        var buffer = [UInt8](repeating: 0, count: 16)
        let n = read(reader, &buffer, 16)
        #expect(n == 7 && Array(buffer.prefix(7)) == Array("through".utf8))
        var status = stat()
        #expect(stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFIFO, "still a FIFO")
        #expect(!FileManager.default.fileExists(atPath: path + ".partial"))
    }

    @Test func aSymlinkKeepsPointingAtTheFileItNamesWhichIsReplaced() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try AtomicFile.write(Array("old".utf8), to: folder + "/target.json")
        try FileManager.default.createSymbolicLink(atPath: folder + "/link.json", withDestinationPath: "target.json")
        try AtomicFile.write(Array("new".utf8), to: folder + "/link.json")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: folder + "/link.json") == "target.json")
        #expect(try String(contentsOfFile: folder + "/target.json", encoding: .utf8) == "new")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["link.json", "target.json"])
    }

    @Test func aPathThroughProcOrDevIsWrittenInPlaceNotRenamedOver() throws {
        // `/dev/stdout` is a symlink to /proc/self/fd/1: with stdout redirected to a regular file, renaming a
        // new file over the path replaced the link (as root, the node under /dev). Here a link of the test's
        // own to a descriptor stands for it.
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = folder + "/redirected.txt"
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        #expect(fd >= 0)
        defer { close(fd) }
        try FileManager.default.createSymbolicLink(atPath: folder + "/stdout", withDestinationPath: "/proc/self/fd/\(fd)")
        try AtomicFile.write(Array("summary".utf8), to: folder + "/stdout")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: folder + "/stdout") == "/proc/self/fd/\(fd)")
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "summary")
        #expect(!FileManager.default.fileExists(atPath: folder + "/stdout.partial"))
        #expect(AtomicFile.replaceableFile("/dev/stdout") == nil && AtomicFile.replaceableFile("/proc/self/fd/1") == nil)
    }

    @Test func theFolderOfAOneCharacterNameIsTheCurrentFolder() {
        // NSString.deletingLastPathComponent traps on "j" (Foundation 6.3): `--summary-json j` crashed
        // (end to end: PathCollisionTests.dashIsStandardOutputForEveryOutputOption).
        #expect(AtomicFile.folder(containing: "j") == "." && AtomicFile.folder(containing: "/j") == "/")
        #expect(AtomicFile.folder(containing: "a/b/c") == "a/b" && AtomicFile.folder(containing: "./x") == ".")
    }

    @Test func writeAllWritesEverythingAndNamesTheFileOnFailure() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/big"
        let fd = try FileDescriptor.open(
            FilePath(path), .writeOnly, options: [.create], permissions: [.ownerReadWrite])
        let bytes = [UInt8](repeating: 7, count: 3 << 20)
        try bytes.withUnsafeBytes { try fd.writeAll($0, path: path) }
        try fd.sync(path: path)
        try fd.close()
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)).count == 3 << 20)
        let readOnly = try FileDescriptor.open(FilePath(path), .readOnly)
        defer { try? readOnly.close() }
        do {
            try bytes.withUnsafeBytes { try readOnly.writeAll($0, path: path) }
            Issue.record("a write to a read-only descriptor succeeded")
        } catch let error as POSIXFileError {
            #expect(error.path == path && error.operation == "write" && error.code == EBADF)
        }
    }
}
