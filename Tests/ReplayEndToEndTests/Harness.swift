import Foundation
import KuaiRecFixtures
import ReplayStream

/// Runs the built `replay` binary and captures what it prints.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

enum Harness {
    /// The package root, found from this file's path.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The `replay` executable SwiftPM built for these tests (or `REPLAY_BIN`).
    static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["REPLAY_BIN"] { return URL(fileURLWithPath: path) }
        let bundle = Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("replay")
        if FileManager.default.isExecutableFile(atPath: bundle.path) { return bundle }
        return packageRoot.appendingPathComponent(".build/debug/replay")
    }

    /// Runs the binary with `arguments` in `directory`; `prefix` is a command to run it through
    /// (`setpriv --reuid=...`), whose first element is an absolute path.
    @discardableResult
    static func run(
        _ arguments: [String], in directory: URL, prefix: [String] = [], stdin: URL? = nil
    ) throws -> CommandResult {
        let process = Process()
        if let first = prefix.first {
            process.executableURL = URL(fileURLWithPath: first)
            process.arguments = Array(prefix.dropFirst()) + [binary.path] + arguments
        } else {
            process.executableURL = binary
            process.arguments = arguments
        }
        process.currentDirectoryURL = directory
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        if let stdin { process.standardInput = try FileHandle(forReadingFrom: stdin) }
        try process.run()
        // Read both pipes fully before waiting, so a chatty child never blocks on a full pipe.
        let outBox = TracedMutex(Data())
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            let data = out.fileHandleForReading.readDataToEndOfFile()
            outBox.withLock { $0 = data }
            group.leave()
        }
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let outData = outBox.withLock { $0 }
        process.waitUntilExit()
        return CommandResult(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }

    /// True when the binary is a ThreadSanitizer build (`REPLAY_BIN_SANITIZER=thread`, set by tools/test), whose
    /// runtime cannot start under a file-size limit below ~256 KiB (`ulimit -f`): the tests that simulate a full
    /// disk with one leave that part out there (the AddressSanitizer build runs them; tools/fault-test covers
    /// full disks on a tmpfs).
    static var binaryStopsUnderAFileSizeLimit: Bool { ProcessInfo.processInfo.environment["REPLAY_BIN_SANITIZER"] == "thread" }

    /// True when the binary is a sanitizer build (ThreadSanitizer or AddressSanitizer, `REPLAY_BIN_SANITIZER`):
    /// several times slower, so the longest kill loop is left to the normal build and tools/fault-test.
    static var binaryIsSanitized: Bool { ProcessInfo.processInfo.environment["REPLAY_BIN_SANITIZER"] != nil }
    /// True when the binary is built with ThreadSanitizer (`REPLAY_BIN_SANITIZER=thread`).
    static var binaryIsThreadSanitized: Bool { ProcessInfo.processInfo.environment["REPLAY_BIN_SANITIZER"] == "thread" }


    /// A fresh temporary folder.
    static func temporaryDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("replay-e2e-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    private static let generationLock = TracedMutex(())

    /// Generates a small archive once per test process (generation is deterministic). Suites run in
    /// parallel, so generation is serialized.
    static func archive(users: Int = 25, videos: Int = 160, days: Int = 15, seed: UInt64 = 3) throws -> URL {
        try generationLock.withLock { _ in try generate(users: users, videos: videos, days: days, seed: seed) }
    }

    private static func generate(users: Int, videos: Int, days: Int, seed: UInt64) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("replay-e2e-archives")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent("kuairec-\(users)-\(videos)-\(days)-\(seed)-\(getpid()).zip")
        if !FileManager.default.fileExists(atPath: url.path) {
            _ = try KuaiRecGenerator.write(GeneratorConfig(users: users, videos: videos, days: days, seed: seed), to: url.path)
        }
        return url
    }

    /// Copies the current member of `reader` into a file.
    static func extractCurrentMember(_ reader: ArchiveReader, to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        while let block = try reader.readBlock() { handle.write(Data(block)) }
    }

    /// Extracts `KuaiRec.zip` from the outer archive, and every member of it under `folder`.
    static func unpack(_ outer: URL, innerZip: URL, folder: URL) throws {
        let reader = try ArchiveReader(path: outer.path)
        while let entry = try reader.nextEntry() {
            if entry.path == "KuaiRec.zip" {
                try extractCurrentMember(reader, to: innerZip)
                break
            }
        }
        let inner = try ArchiveReader(path: innerZip.path)
        while let entry = try inner.nextEntry() {
            if entry.isDirectory { continue }
            try extractCurrentMember(inner, to: folder.appendingPathComponent(entry.path))
        }
    }

    /// Parses every line of a JSON lines file with Foundation's JSON parser (the oracle for our writer).
    static func jsonLines(_ url: URL) throws -> [[String: Any]] {
        let text = try String(contentsOf: url, encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw CocoaError(.coderReadCorrupt)
            }
            return object
        }
    }

    /// Parses every line of a JSON lines file strictly: each line valid UTF-8 and one JSON object
    /// (Foundation's parser, which refuses `NaN`, `Infinity`, trailing text and bad escapes).
    static func strictJSONLines(_ url: URL) throws -> [[String: Any]] {
        let data = try Data(contentsOf: url)
        guard data.isEmpty || data.last == 0x0A else { throw CocoaError(.coderReadCorrupt) }
        return try data.split(separator: 0x0A, omittingEmptySubsequences: false).dropLast().map { line in
            guard String(validating: line, as: UTF8.self) != nil,
                let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
            else { throw CocoaError(.coderReadCorrupt) }
            return object
        }
    }
}

extension Harness {
    /// What ``killRepeatedly(_:in:rounds:kills:wait:)`` did: the kills, and the run that ended by itself (its round and
    /// status), if one did before `kills` kills were made.
    struct KillRounds {
        var kills = 0
        var ended: (round: Int, status: Int32)?
    }

    /// Starts `arguments` in `dir` again and again (up to `rounds` times), each run killed with SIGKILL after `wait()`
    /// seconds if it is still running, until `kills` kills were made or a run ends by itself.
    static func killRepeatedly(
        _ arguments: [String], in dir: URL, rounds: Int, kills: Int, wait: () -> Double
    ) throws -> KillRounds {
        var result = KillRounds()
        for round in 0..<rounds where result.kills < kills {
            let process = Process()
            process.executableURL = binary
            process.arguments = arguments
            process.currentDirectoryURL = dir
            process.standardError = FileHandle.nullDevice
            try process.run()
            Thread.sleep(forTimeInterval: wait())
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                result.kills += 1
            }
            process.waitUntilExit()
            if process.terminationReason == .exit {
                result.ended = (round, process.terminationStatus)
                break
            }
        }
        return result
    }
}
