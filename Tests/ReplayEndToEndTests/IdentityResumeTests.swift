import Foundation
import KuaiRecFixtures
import ReplayStream
import Testing

/// Issue 12, "Identity and resume": reruns do what the state folder says, and the input is the one the
/// state was made from by its content.
@Suite struct IdentityResumeTests {
    /// The last closed day `replay status` prints.
    private static func lastClosed(_ dir: URL) throws -> String {
        let status = try Harness.run(["status", "--state", "s"], in: dir)
        let line = status.stdout.split(separator: "\n").first { $0.hasPrefix("last closed day:") } ?? ""
        return String(line.dropFirst("last closed day:".count)).trimmingCharacters(in: .whitespaces)
    }

    @Test func aRerunWithTheSameUntilClosesNothingMore() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive().path
        let command = ["run", outer, "--state", "s", "--out", "p.jsonl", "--until", "2020-07-07"]
        #expect(try Harness.run(command, in: dir).status == 0)
        let first = try Data(contentsOf: dir.appendingPathComponent("p.jsonl"))
        #expect(try Self.lastClosed(dir) == "2020-07-07")
        for _ in 0..<2 {
            let again = try Harness.run(command, in: dir)
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stderr.contains("already stopped at --until 2020-07-07: nothing to do"), "\(again.stderr)")
            #expect(!again.stderr.contains("resuming"))
            #expect(try Self.lastClosed(dir) == "2020-07-07")
            #expect(try Data(contentsOf: dir.appendingPathComponent("p.jsonl")) == first)
        }
        // An earlier --until than the days already closed does nothing either.
        let earlier = try Harness.run(["run", outer, "--state", "s", "--out", "p.jsonl", "--until", "2020-07-06"], in: dir)
        #expect(earlier.status == 0 && earlier.stderr.contains("already stopped at --until 2020-07-06"))
        #expect(try Data(contentsOf: dir.appendingPathComponent("p.jsonl")) == first)
    }

    @Test func untilBeforeTheFirstDayClosesNothing() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive().path
        let r = try Harness.run(["run", outer, "--state", "s", "--out", "p.jsonl", "--until", "2020-06-01"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("--until 2020-06-01 is before the panel's first day"), "\(r.stderr)")
        #expect(try Self.lastClosed(dir) == "" || (try Self.lastClosed(dir)) == "none")
        let records = (try? Data(contentsOf: dir.appendingPathComponent("p.jsonl")))?.count ?? 0
        #expect(records == 0)
        // The same state then runs to the end like a new one.
        #expect(try Harness.run(["run", outer, "--state", "s", "--out", "p.jsonl", "--quiet"], in: dir).status == 0)
        #expect(try Harness.run(["run", outer, "--state", "t", "--out", "q.jsonl", "--quiet"], in: dir).status == 0)
        #expect(try Data(contentsOf: dir.appendingPathComponent("p.jsonl")) == Data(contentsOf: dir.appendingPathComponent("q.jsonl")))
    }

    @Test func aRerunOfAFinishedRunSaysItIsFinished() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive().path
        let command = ["run", outer, "--state", "s", "--out", "p.jsonl"]
        #expect(try Harness.run(command, in: dir).status == 0)
        let done = try Data(contentsOf: dir.appendingPathComponent("p.jsonl"))
        for extra in [[], ["--until", "2020-07-08"]] {
            let again = try Harness.run(command + extra, in: dir)
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stderr.contains("this run already finished"), "\(again.stderr)")
            #expect(!again.stderr.contains("resuming"), "\(again.stderr)")
            #expect(try Data(contentsOf: dir.appendingPathComponent("p.jsonl")) == done)
        }
    }
}
