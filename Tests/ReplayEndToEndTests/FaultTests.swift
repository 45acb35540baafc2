import Foundation
import Testing

/// Faults that must end with a message and a documented exit code, never a signal.
@Suite struct FaultTests {
    /// A file with no newline (a device that never ends one) is refused once a line passes 1 MiB, instead of
    /// growing one line buffer until the allocation fails.
    @Test func readersCapALine() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tail = try Harness.run(["tail", "/dev/zero"], in: dir)
        #expect(tail.status == 3, "\(tail.stderr)")
        #expect(tail.stderr.contains("/dev/zero: line 1 is longer than 1 MiB"), "\(tail.stderr)")
        let export = try Harness.run(["export", "/dev/zero", "--csv", "z.csv"], in: dir)
        #expect(export.status == 3, "\(export.stderr)")
        #expect(export.stderr.contains("line 1 is longer than 1 MiB"), "\(export.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("z.csv").path))
    }

    /// `run --out - | head -c 100`: the process exits by itself with 141 (not killed by SIGPIPE), prints no
    /// message, and the same command resumes.
    @Test func aReaderThatGoesAwayEndsTheRunQuietly() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        let arguments = ["run", outer.path, "--state", "s", "--out", "-", "--quiet", "--checkpoint-every", "1ev"]
        let p = Process()
        p.executableURL = Harness.binary
        p.arguments = arguments
        p.currentDirectoryURL = dir
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let head = try out.fileHandleForReading.read(upToCount: 100) ?? Data()
        try out.fileHandleForReading.close()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(head.count == 100)
        #expect(p.terminationReason == .exit && p.terminationStatus == 141, "\(p.terminationReason) \(p.terminationStatus)")
        #expect(stderr.isEmpty, "\(stderr)")
        let rerun = try Harness.run(arguments, in: dir)
        #expect(rerun.status == 0, "\(rerun.stderr)")
    }

    /// Outputs that are not regular files are written in place: /dev/null is a null sink, a FIFO a stream
    /// (nothing cut back or fsynced); a one-letter file name is an ordinary name.
    @Test func specialOutputsAreWrittenInPlace() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        let null = try Harness.run(
            ["run", outer.path, "--state", "n", "--out", "/dev/null", "--rejects", "/dev/null", "--quiet"], in: dir)
        #expect(null.status == 0, "\(null.stderr)")
        let short = try Harness.run(["run", outer.path, "--state", "o", "--out", "p", "--rejects", "r", "--quiet"], in: dir)
        #expect(short.status == 0, "\(short.stderr)")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [
            "-c",
            """
            mkfifo f
            cat f > from-fifo.jsonl &
            '\(Harness.binary.path)' run '\(outer.path)' --state fi --out f --quiet
            echo "exit=$?"
            wait
            """,
        ]
        p.currentDirectoryURL = dir
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(printed.contains("exit=0"), "\(printed)")
        #expect(
            try Data(contentsOf: dir.appendingPathComponent("from-fifo.jsonl")) == Data(contentsOf: dir.appendingPathComponent("p")))
        #expect(FileManager.default.fileExists(atPath: "/dev/null"))
    }
}
