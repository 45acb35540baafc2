import Foundation
import KuaiRecFixtures
import ReplayState
import ReplayTestSupport

/// How each row of docs/ERRORS.md is brought about, for ``ErrorsDocTests``: a trigger per row (keyed by the
/// start of the row's first cell) that runs the command in a fresh folder and returns what it printed, and the
/// rows this suite cannot bring about, each with the test that does (or why none can).
///
/// The triggers create the file names the document's examples use (`nope.zip`, `state s`, `p.jsonl`). For a
/// row of rejected rows the trigger returns the rejects file as its standard output.
enum DocumentedFailures {
    typealias Trigger = @Sendable (URL) throws -> CommandResult

    static let header = "user_id,video_id,play_duration,video_duration,time,date,timestamp,watch_ratio"

    /// A row of the interaction CSV on `day` (2020-07-05 + day) at `second` past midnight UTC.
    static func row(user: Int = 1, video: Int = 2, day: Int = 0, second: Int = 3600, ratio: String = "0.5") -> String {
        let timestamp = 1_593_907_200 + day * 86_400 + second
        let date = Calendar(identifier: .gregorian).date(byAdding: .day, value: day, to: Date(timeIntervalSince1970: 1_593_907_200))!
        let formatter = DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd"
        return "\(user),\(video),100,200,x,\(formatter.string(from: date)),\(timestamp).5,\(ratio)"
    }

    /// An interaction CSV of `days` days, two users a day.
    static func log(days: Int = 4) -> String {
        ([header] + (0..<days).flatMap { [row(user: 1, day: $0), row(user: 2, day: $0, second: 7200)] }).joined(separator: "\n") + "\n"
    }

    /// The same rows as JSON lines, for a live feed.
    static func feed(days: Int = 3) -> String {
        (0..<days).flatMap { day in
            [1, 2].map { user in
                let fields = row(user: user, day: day).split(separator: ",")
                return "{\"user_id\":\(fields[0]),\"video_id\":2,\"play_duration\":100,\"video_duration\":200,\"time\":\"x\","
                    + "\"date\":\(fields[5]),\"timestamp\":\(fields[6]),\"watch_ratio\":0.5}"
            }
        }.joined(separator: "\n") + "\n"
    }

    static func write(_ text: String, _ name: String, in dir: URL) throws {
        try write(Array(text.utf8), name, in: dir)
    }

    static func write(_ bytes: [UInt8], _ name: String, in dir: URL) throws {
        let url = dir.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    static func zip(_ name: String, in dir: URL, _ members: [(String, [UInt8])], stored: Bool = false) throws {
        let writer = try ArchiveWriter(path: dir.appendingPathComponent(name).path)
        for (path, bytes) in members { try writer.addFile(path: path, contents: bytes, compression: stored ? .store : .deflate) }
        try writer.close()
    }

    static func run(_ arguments: [String], in dir: URL, stdin: String? = nil) throws -> CommandResult {
        guard let stdin else { return try Harness.run(arguments, in: dir) }
        try write(stdin, "stdin.txt", in: dir)
        return try Harness.run(arguments, in: dir, stdin: dir.appendingPathComponent("stdin.txt"))
    }

    /// `replay run in.csv --state s --out p.jsonl --quiet` plus `extra`.
    static func runLog(_ extra: [String] = [], in dir: URL, input: String = "in.csv") throws -> CommandResult {
        try run(["run", input, "--state", "s", "--out", "p.jsonl", "--quiet"] + extra, in: dir)
    }

    /// A run of four days stopped after the second (a state folder and an output to resume).
    static func partialRun(in dir: URL, _ extra: [String] = []) throws {
        try write(log(), "in.csv", in: dir)
        let r = try runLog(["--until", "2020-07-06"] + extra, in: dir)
        precondition(r.status == 0, r.stderr)
    }

    /// The rejects of a run over a log holding `bad` after a good row, as standard output.
    static func rejects(of bad: String, extra: [String] = []) -> Trigger {
        { dir in
            try write([header, row(), bad].joined(separator: "\n") + "\n", "in.csv", in: dir)
            let r = try runLog(extra, in: dir)
            let rejects = (try? String(contentsOf: dir.appendingPathComponent("s/rejects.jsonl"), encoding: .utf8)) ?? ""
            return CommandResult(status: r.status, stdout: rejects, stderr: r.stderr)
        }
    }

    /// The rejects of a live feed, as standard output.
    static func liveRejects(_ input: String, _ extra: [String] = []) -> Trigger {
        { dir in
            let r = try run(["run", "-", "--state", "s", "--out", "p.jsonl", "--quiet"] + extra, in: dir, stdin: input)
            let rejects = (try? String(contentsOf: dir.appendingPathComponent("s/rejects.jsonl"), encoding: .utf8)) ?? ""
            return CommandResult(status: r.status, stdout: rejects, stderr: r.stderr)
        }
    }

    /// Runs `replay` as user nobody when this is root (root reads any file).
    static func asAnotherUser(_ arguments: [String], in dir: URL) throws -> CommandResult {
        let prefix = getuid() == 0 ? ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : []
        return try Harness.run(arguments, in: dir, prefix: prefix)
    }

    /// Replaces the state's stored `key` record with what `edit` makes of it.
    static func editStateRecord(_ key: String, in dir: URL, _ edit: (String) -> String) throws {
        let environment = try LMDBEnvironment(directory: dir.appendingPathComponent("s/lmdb").path)
        let meta = try environment.database(named: "meta")
        try environment.withWriteTransaction { txn in
            let stored = String(decoding: try txn.get(Array(key.utf8), in: meta) ?? [], as: UTF8.self)
            try txn.put(Array(edit(stored).utf8), forKey: Array(key.utf8), in: meta)
        }
    }

    /// A panel file of `records` record lines, made by a real run.
    static func panel(in dir: URL) throws -> [String] {
        try write(log(), "in.csv", in: dir)
        _ = try run(["run", "in.csv", "--state", "made", "--out", "made.jsonl", "--quiet"], in: dir)
        return try String(contentsOf: dir.appendingPathComponent("made.jsonl"), encoding: .utf8).split(separator: "\n").map(String.init)
    }

    /// The triggers, by the start of the row's first cell.
    static let triggers: [String: Trigger] = pathTriggers.merging(inputTriggers) { a, _ in a }
        .merging(stateTriggers) { a, _ in a }.merging(panelTriggers) { a, _ in a }.merging(rowTriggers) { a, _ in a }
        .merging(liveTriggers) { a, _ in a }

    static let pathTriggers: [String: Trigger] = [
        "an output is the input": { dir in
            try write(log(), "in.csv", in: dir)
            return try run(["run", "in.csv", "--out", "in.csv"], in: dir)
        },
        "two outputs are one file": { dir in
            try write(log(), "in.csv", in: dir)
            return try run(["run", "in.csv", "--out", "p.jsonl", "--summary-json", "p.jsonl"], in: dir)
        },
        "an output inside the state folder": { dir in
            try write(log(), "in.csv", in: dir)
            return try run(["run", "in.csv", "--state", "s", "--out", "s/lock"], in: dir)
        },
        "two outputs are both `-`": { dir in
            try write(log(), "in.csv", in: dir)
            return try run(["run", "in.csv", "--out", "-", "--summary-json", "-"], in: dir)
        },
        "`run --report -`": { dir in
            try write(log(), "in.csv", in: dir)
            return try run(["run", "in.csv", "--report", "-"], in: dir)
        },
        "an output that is a folder": { dir in
            try write(log(), "in.csv", in: dir)
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("rj"), withIntermediateDirectories: true)
            return try runLog(["--rejects", "rj"], in: dir)
        },
        "a path option given an empty value": { dir in
            try write(log(), "in.csv", in: dir)
            return try run(["run", "in.csv", "--state", ""], in: dir)
        },
        "`generate` beyond its limits": { dir in try run(["generate", "--days", "100000", "--out", "x.zip"], in: dir) },
        "`--inflate isal` on an input ISA-L does not read": { dir in
            try write(log(), "in.csv", in: dir)
            return try runLog(["--inflate", "isal"], in: dir)
        },
    ]

    static let inputTriggers: [String: Trigger] = [
        "file not found": { dir in try runLog(in: dir, input: "nope.zip") },
        "no permission": { dir in
            try Data(log().utf8).write(to: dir.appendingPathComponent("locked.zip"))
            try FileManager.default.setAttributes([.posixPermissions: 0o000], ofItemAtPath: dir.appendingPathComponent("locked.zip").path)
            try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: dir.path)
            return try asAnotherUser(["run", "locked.zip", "--state", "/tmp/replay-locked-\(UUID().uuidString)", "--out", "/dev/null"], in: dir)
        },
        "empty file": { dir in
            try write("", "empty.zip", in: dir)
            return try runLog(in: dir, input: "empty.zip")
        },
        "not an archive, not text": { dir in
            var generator = SeededGenerator(seed: 41)
            try write([0x00, 0xFF] + (0..<5000).map { _ in UInt8(truncatingIfNeeded: generator.next()) }, "noise.zip", in: dir)
            return try runLog(in: dir, input: "noise.zip")
        },
        "a named pipe, a socket or a device": { dir in
            guard mkfifo(dir.appendingPathComponent("in.fifo").path, 0o600) == 0 else { throw POSIXError(.EIO) }
            return try runLog(in: dir, input: "in.fifo")
        },
        "a text file that is not an interaction log": { dir in
            try write("user_id,video_id,time,date,timestamp,watch_ratio\n1,2,x,20200705,,0.5\n", "user_features.csv", in: dir)
            return try runLog(in: dir, input: "user_features.csv")
        },
        "lines that end with CR alone": { dir in
            try write(log().replacingOccurrences(of: "\n", with: "\r"), "cr.csv", in: dir)
            return try runLog(in: dir, input: "cr.csv")
        },
        "`inspect` on a folder": { dir in
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("dir"), withIntermediateDirectories: true)
            return try run(["inspect", "dir"], in: dir)
        },
        "a header that is not UTF-8": { dir in
            try write(Array((header + ",caf").utf8) + [0xE9] + Array(("\n" + row() + ",x\n").utf8), "latin1.csv", in: dir)
            return try runLog(in: dir, input: "latin1.csv")
        },
        "UTF-16 text": { dir in
            try write([0xFF, 0xFE] + header.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }, "utf16.csv", in: dir)
            return try runLog(in: dir, input: "utf16.csv")
        },
        "the download cut short after `KuaiRec.zip`": { dir in
            let bytes = [UInt8](try Data(contentsOf: try Harness.archive()))
            try write(Array(bytes.prefix(bytes.count - 900)), "cut.zip", in: dir)
            return try runLog(in: dir, input: "cut.zip")
        },
        "damaged archive structure between members": { dir in
            let bytes = [UInt8](try Data(contentsOf: try Harness.archive()))
            try write(Array(bytes.prefix(bytes.count / 2)), "cut.zip", in: dir)
            return try runLog(in: dir, input: "cut.zip")
        },
        "corrupt compressed data inside": { dir in
            var bytes = [UInt8](try Data(contentsOf: try Harness.archive()))
            let start = BadInputTests.dataOffset(of: "KuaiRec 2.0/data/small_matrix.csv", in: bytes)!
            for i in (start + 40_000)..<(start + 40_100) { bytes[i] ^= 0x5A }
            try write(bytes, "flipped.zip", in: dir)
            return try runLog(in: dir, input: "flipped.zip")
        },
        "a column `--with-user-features=COLUMNS` names": { dir in
            try write(Array(try Data(contentsOf: try Harness.archive())), "s.zip", in: dir)
            return try run(["run", "s.zip", "--state", "s", "--out", "p.jsonl", "--with-user-features=nope"], in: dir)
        },
        "`KuaiRec.zip` missing from the outer archive": { dir in
            try zip("no-inner.zip", in: dir, [("kuairec_caption_category.csv", Array("a,b\n1,2\n".utf8))])
            return try runLog(in: dir, input: "no-inner.zip")
        },
        "two members named like the matrix": { dir in
            let csv = Array(log().utf8)
            try zip("x.zip", in: dir, [("KuaiRec 2.0/data/small_matrix.csv", csv), ("other/small_matrix.csv", csv)])
            return try runLog(in: dir, input: "x.zip")
        },
        "no matrix and two zips to look into": { dir in
            try zip("inner.zip", in: dir, [("a.txt", Array("a".utf8))])
            let inner = [UInt8](try Data(contentsOf: dir.appendingPathComponent("inner.zip")))
            try zip("x.zip", in: dir, [("KuaiRec.zip", inner), ("backup/KuaiRec.zip", inner)], stored: true)
            return try runLog(in: dir, input: "x.zip")
        },
        "the chosen matrix missing from `KuaiRec.zip`": { dir in
            try zip("inner.zip", in: dir, [("KuaiRec 2.0/LICENSE", Array("licence".utf8)), ("KuaiRec 2.0/data/small_matrix.csv", Array(log().utf8))])
            let inner = [UInt8](try Data(contentsOf: dir.appendingPathComponent("inner.zip")))
            try zip("x.zip", in: dir, [("KuaiRec.zip", inner)], stored: true)
            return try runLog(["--matrix", "big"], in: dir, input: "x.zip")
        },
        "a folder without the matrix": { dir in
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("dir"), withIntermediateDirectories: true)
            return try runLog(["--matrix", "big"], in: dir, input: "dir")
        },
        "zip bomb: the member's header states more than": { dir in
            try zip("bomb.zip", in: dir, [("small_matrix.csv", Array(log(days: 2).utf8) + Array(repeating: 0x0A, count: 337_000))])
            return try runLog(["--max-bytes", "100K"], in: dir, input: "bomb.zip")
        },
        "zip bomb: more than `--max-bytes` decompressed": { dir in
            // A member whose size no header states (written streaming), inside a compressed KuaiRec.zip.
            let writer = try ArchiveWriter(path: dir.appendingPathComponent("inner.zip").path)
            try writer.addFile(path: "small_matrix.csv", size: nil)
            try writer.write(Array(log(days: 100).utf8))
            try writer.finishEntry()
            try writer.close()
            let inner = [UInt8](try Data(contentsOf: dir.appendingPathComponent("inner.zip")))
            try zip("x.zip", in: dir, [("KuaiRec.zip", inner)])
            return try runLog(["--max-bytes", "4096"], in: dir, input: "x.zip")
        },
        "a line longer than 1 MiB (also": { dir in
            try write(header + "\n" + row() + "\n" + String(repeating: "7", count: 2 << 20) + "\n", "long.csv", in: dir)
            return try runLog(in: dir, input: "long.csv")
        },
        "a quote never closed before the end": { dir in
            try write(header + "\n1,2,3,4,\"x,20200705,1593898068.378,0.5\n", "quote.csv", in: dir)
            return try runLog(in: dir, input: "quote.csv")
        },
        "the accepted rows span more than 3660 days": { dir in
            try write([header, row(), "1,2,100,200,x,20990101,4070912400.5,0.5"].joined(separator: "\n") + "\n", "in.csv", in: dir)
            return try runLog(in: dir)
        },
        "the input changed since the state was made": { dir in
            try partialRun(in: dir)
            try write(log() + row(day: 4) + "\n", "in.csv", in: dir)
            return try runLog(in: dir)
        },
        "a resume (no `--fresh`) naming another `--rejects`": { dir in
            try partialRun(in: dir, ["--rejects", "new.jsonl"])
            return try runLog(["--rejects", "other.jsonl"], in: dir)
        },
    ]

    static let stateTriggers: [String: Trigger] = [
        "in use by another process": { dir in
            try write(log(), "in.csv", in: dir)
            let holder = Process()
            holder.executableURL = Harness.binary
            holder.arguments = ["run", "-", "--state", "s", "--out", "live.jsonl", "--quiet"]
            holder.currentDirectoryURL = dir
            let input = Pipe()
            holder.standardInput = input
            try holder.run()
            defer {
                try? input.fileHandleForWriting.close()
                holder.waitUntilExit()
            }
            let marker = dir.appendingPathComponent("s/lmdb/data.mdb").path
            for _ in 0..<3000 where !FileManager.default.fileExists(atPath: marker) { usleep(10_000) }
            usleep(200_000)
            return try runLog(in: dir)
        },
        "made by another run": { dir in
            try partialRun(in: dir, ["--thresholds", "batch"])
            return try runLog(["--thresholds", "expanding"], in: dir)
        },
        "another state format version": { dir in
            try partialRun(in: dir)
            try editStateRecord("identity", in: dir) {
                $0.replacingOccurrences(of: "\"formatVersion\":[0-9]+", with: "\"formatVersion\":999", options: .regularExpression)
            }
            return try runLog(in: dir)
        },
        "database corrupt": { dir in
            try partialRun(in: dir)
            try Data(repeating: 0x41, count: 64 << 10).write(to: dir.appendingPathComponent("s/lmdb/data.mdb"))
            return try runLog(in: dir)
        },
        "database truncated": { dir in
            let bytes = [UInt8](try Data(contentsOf: try Harness.archive()))
            try write(bytes, "in.zip", in: dir)
            _ = try run(["run", "in.zip", "--state", "s", "--out", "p.jsonl", "--until", "2020-07-08", "--quiet"], in: dir)
            let data = dir.appendingPathComponent("s/lmdb/data.mdb")
            let size = try FileManager.default.attributesOfItem(atPath: data.path)[.size] as! Int
            let handle = try FileHandle(forWritingTo: data)
            try handle.truncate(atOffset: UInt64(size / 2))
            try handle.close()
            return try run(["run", "in.zip", "--state", "s", "--out", "p.jsonl", "--quiet"], in: dir)
        },
        "a state record that does not decode": { dir in
            try partialRun(in: dir)
            try editStateRecord("progress", in: dir) { _ in "{\"eventsReplayed\":\"many\"}" }
            return try runLog(in: dir)
        },
        "ordered events (`events/`) truncated": { dir in
            try partialRun(in: dir)
            let events = dir.appendingPathComponent("s/events")
            let day = try FileManager.default.contentsOfDirectory(atPath: events.path).filter { $0.hasSuffix(".events") }.sorted().last!
            let handle = try FileHandle(forWritingTo: events.appendingPathComponent(day))
            try handle.truncate(atOffset: 17)
            try handle.close()
            return try runLog(in: dir)
        },
        "a folder replay did not make": { dir in
            try write(log(), "in.csv", in: dir)
            try write("mine", "mine/notes.txt", in: dir)
            try write("x", "mine/events/day-1.events", in: dir)
            return try run(["run", "in.csv", "--state", "mine", "--out", "p.jsonl"], in: dir)
        },
        "a folder replay made holding other files": { dir in
            try partialRun(in: dir)
            try write("mine", "s/notes.txt", in: dir)
            return try runLog(in: dir)
        },
        "`--state` names a file": { dir in
            try write(log(), "in.csv", in: dir)
            try write("", "f", in: dir)
            return try run(["run", "in.csv", "--state", "f", "--out", "p.jsonl"], in: dir)
        },
        "`--state` inside a file": { dir in
            try write(log(), "in.csv", in: dir)
            try write("", "f", in: dir)
            return try run(["run", "in.csv", "--state", "f/s", "--out", "p.jsonl"], in: dir)
        },
        "a resume whose output was rewritten": { dir in
            try partialRun(in: dir)
            var bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent("p.jsonl")))
            let last = bytes.count - 100  // inside the committed bytes' last 4 KiB, which a resume checks
            bytes[last] = bytes[last] == 0x31 ? 0x32 : 0x31
            try Data(bytes).write(to: dir.appendingPathComponent("p.jsonl"))
            return try runLog(in: dir)
        },
        "a resume whose output path names another file": { dir in
            try partialRun(in: dir)
            try FileManager.default.copyItem(at: dir.appendingPathComponent("p.jsonl"), to: dir.appendingPathComponent("copy.jsonl"))
            try FileManager.default.removeItem(at: dir.appendingPathComponent("p.jsonl"))
            try FileManager.default.moveItem(at: dir.appendingPathComponent("copy.jsonl"), to: dir.appendingPathComponent("p.jsonl"))
            return try runLog(in: dir)
        },
        "a first run over a non-empty file": { dir in
            try write(log(), "in.csv", in: dir)
            try write("my notes\n", "panel.jsonl", in: dir)
            return try run(["run", "in.csv", "--state", "s", "--out", "panel.jsonl"], in: dir)
        },
    ]

    static let panelTriggers: [String: Trigger] = [
        "export: file not found": { dir in try run(["export", "nope.jsonl", "--csv", "o.csv"], in: dir) },
        "export: no permission": { dir in
            let lines = try panel(in: dir)
            try write(lines.joined(separator: "\n") + "\n", "p.jsonl", in: dir)
            try FileManager.default.setAttributes([.posixPermissions: 0o000], ofItemAtPath: dir.appendingPathComponent("p.jsonl").path)
            try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: dir.path)
            return try asAnotherUser(["export", "p.jsonl", "--csv", "/dev/null"], in: dir)
        },
        "export: `FILE` is a folder": { dir in
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("dir"), withIntermediateDirectories: true)
            return try run(["export", "dir", "--csv", "o.csv"], in: dir)
        },
        "export: a line that is not a record": { dir in
            var lines = Array(try panel(in: dir).prefix(5))
            lines[4] = lines[4].replacingOccurrences(of: "\"interactions\":[0-9.]+", with: "\"interactions\":\"x\"", options: .regularExpression)
            try write(lines.joined(separator: "\n") + "\n", "bad.jsonl", in: dir)
            return try run(["export", "bad.jsonl", "--csv", "o.csv"], in: dir)
        },
        "export: a partly written last line": { dir in
            let lines = try panel(in: dir)
            try write(lines.dropLast().joined(separator: "\n") + "\n" + lines.last!.prefix(300), "p.jsonl", in: dir)
            return try run(["export", "p.jsonl", "--csv", "o.csv"], in: dir)
        },
        "export: `OUT` is a folder": { dir in
            try write(try panel(in: dir).joined(separator: "\n") + "\n", "p.jsonl", in: dir)
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("out"), withIntermediateDirectories: true)
            return try run(["export", "p.jsonl", "--csv", "out"], in: dir)
        },
        "export: `--csv` names `FILE` itself": { dir in
            try write(try panel(in: dir).joined(separator: "\n") + "\n", "p.jsonl", in: dir)
            return try run(["export", "p.jsonl", "--csv", "./p.jsonl"], in: dir)
        },
        "a line longer than 1 MiB (not a panel file": { dir in try run(["tail", "/dev/zero"], in: dir) },
        "a file that is not a panel": { dir in
            try write(log(), "in.csv", in: dir)
            return try run(["tail", "in.csv"], in: dir)
        },
        "a last line without its newline": { dir in
            let lines = try panel(in: dir)
            try write(lines.dropLast().joined(separator: "\n") + "\n" + lines.last!.prefix(300), "p.jsonl", in: dir)
            return try run(["tail", "p.jsonl"], in: dir)
        },
        "a folder given as the panel": { dir in
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("dir"), withIntermediateDirectories: true)
            return try run(["tail", "dir"], in: dir)
        },
        "`tail --fields` naming a column": { dir in try run(["tail", "p.jsonl", "--fields", "user_id,nope"], in: dir) },
        "a line that is not a record after records": { dir in
            var lines = try panel(in: dir)
            lines.insert("{\"bad\":1}", at: 1)
            try write(lines.joined(separator: "\n") + "\n", "p.jsonl", in: dir)
            return try run(["tail", "p.jsonl"], in: dir)
        },
    ]

    static let rowTriggers: [String: Trigger] = [
        "`missing_time`": rejects(of: "1,2,100,200,x,,,0.5"),
        "`invalid_date`": rejects(of: "1,2,100,200,x,20200231,,0.5"),
        "`date_out_of_range`": rejects(of: "1,2,100,200,x,19990101,,0.5"),
        "`invalid_timestamp`": rejects(of: "1,2,100,200,x,20200705,abc,0.5"),
        "`timestamp_out_of_range`": rejects(of: "1,2,100,200,x,20200705,1.5,0.5"),
        "`invalid_id`": rejects(of: "1.5,2,100,200,x,20200705,1593907200.5,0.5"),
        "`invalid_duration`": rejects(of: "1,2,1e5,200,x,20200705,1593907200.5,0.5"),
        "`zero_video_duration`": rejects(of: "1,2,100,0,x,20200705,1593907200.5,0.5"),
        "`invalid_watch_ratio`": rejects(of: "1,2,100,200,x,20200705,1593907200.5,nan"),
        "`wrong_field_count`": rejects(of: "1,2,100,200,x,20200705"),
        "`malformed_quotes`": rejects(of: "1,2,100,200,\"x\"y,20200705,1593907200.5,0.5"),
        "`late`": liveRejects(feed(days: 3) + feed(days: 1)),
        "`idle_closed`": { dir in
            // The first day is closed for silence while the feed waits; then a row of it arrives.
            let fifo = dir.appendingPathComponent("feed.fifo").path
            guard mkfifo(fifo, 0o600) == 0 else { throw POSIXError(.EIO) }
            let output = dir.appendingPathComponent("p.jsonl").path
            let writer = Thread {
                guard let handle = FileHandle(forWritingAtPath: fifo) else { return }
                handle.write(Data(feed(days: 1).utf8))
                // The day's records reach the output once it closed for silence and a checkpoint followed.
                for _ in 0..<6000 {
                    if let size = try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int, size > 0 { break }
                    usleep(10_000)
                }
                usleep(300_000)
                handle.write(Data(feed(days: 1).utf8))
                try? handle.close()
            }
            writer.start()
            let r = try Harness.run(
                ["run", "-", "--state", "s", "--out", "p.jsonl", "--idle-close", "0.2s", "--quiet"], in: dir,
                stdin: URL(fileURLWithPath: fifo))
            let rejects = (try? String(contentsOf: dir.appendingPathComponent("s/rejects.jsonl"), encoding: .utf8)) ?? ""
            return CommandResult(status: r.status, stdout: rejects, stderr: r.stderr)
        },
        "`malformed_json`": liveRejects("{\"user_id\":[1]}\n"),
        "`duplicate_key`": liveRejects(
            "{\"user_id\":5,\"user_id\":7,\"video_id\":2,\"play_duration\":100,\"video_duration\":200,\"time\":\"x\",\"date\":20200705,\"timestamp\":1593907200.5,\"watch_ratio\":0.5}\n"),
        "`outside_panel_span`": liveRejects(
            feed(days: 1)
                + "{\"user_id\":1,\"video_id\":2,\"play_duration\":100,\"video_duration\":200,\"time\":\"x\",\"date\":20320705,\"timestamp\":1972589268.5,\"watch_ratio\":0.5}\n"),
    ]

    static let liveTriggers: [String: Trigger] = [
        "`--thresholds batch` with `-`": { dir in try run(["run", "-", "--thresholds", "batch"], in: dir, stdin: "") },
        "`--with-user-features` or `--with-item-context` with `-`": { dir in
            try run(["run", "-", "--with-item-context"], in: dir, stdin: "")
        },
        "`--side-tables` with an archive": { dir in
            try write(log(), "log.csv", in: dir)
            return try run(["run", "log.csv", "--side-tables", "log.csv"], in: dir)
        },
        "an archive-only option with `-`": { dir in try run(["run", "-", "--rows", "5"], in: dir, stdin: "") },
        "a CSV feed whose first line is not a KuaiRec header": { dir in
            try run(["run", "-", "--state", "s", "--out", "p.jsonl"], in: dir, stdin: "a,b\n1,2\n")
        },
        "a line over 1 MiB": { dir in
            try run(["run", "-", "--state", "s", "--out", "p.jsonl"], in: dir, stdin: "{" + String(repeating: " ", count: 2 << 20) + "\n")
        },
        "a rerun on a folder whose feed already ended": { dir in
            _ = try run(["run", "-", "--state", "s", "--out", "p.jsonl", "--quiet"], in: dir, stdin: feed())
            return try run(["run", "-", "--state", "s", "--out", "p.jsonl"], in: dir, stdin: "")
        },
        "rows sent to a feed that already ended": { dir in
            _ = try run(["run", "-", "--state", "s", "--out", "p.jsonl", "--quiet"], in: dir, stdin: feed())
            // The feed re-sent, and a day more: its consumed rows are recognised, the rows after them refused.
            return try run(["run", "-", "--state", "s", "--out", "p.jsonl"], in: dir, stdin: feed(days: 4))
        },
        "`--skip-rows N` that is not the count": { dir in
            _ = try run(["run", "-", "--state", "s", "--out", "p.jsonl", "--quiet"], in: dir, stdin: feed())
            return try run(["run", "-", "--state", "s", "--out", "p.jsonl", "--skip-rows", "2"], in: dir, stdin: "")
        },
        "a Kafka input that is not": { dir in try run(["run", "kafka://nope", "--state", "s"], in: dir) },
        "`--job` with `fixed:` thresholds": { dir in
            try run(["run", "kafka://127.0.0.1:1/rows", "--job", "j", "--thresholds", "fixed:1,0.5", "--state", "s"], in: dir)
        },
        "a Kafka output that is not": { dir in try run(["run", "-", "--out", "kafka://x", "--state", "s"], in: dir, stdin: "") },
        "`--skip-rows` or `--input-format csv` with a Kafka input": { dir in
            try run(["run", "kafka://127.0.0.1:1/rows", "--skip-rows", "5", "--state", "s"], in: dir)
        },
        "`--partitions`, `--exit-at-end` or `--group` without": { dir in try run(["run", "-", "--exit-at-end"], in: dir, stdin: "") },
        "a rerun with other live options": { dir in
            _ = try run(["run", "-", "--state", "s", "--out", "p.jsonl", "--quiet"], in: dir, stdin: feed())
            return try run(["run", "-", "--state", "s", "--out", "p.jsonl", "--late-policy", "revise"], in: dir, stdin: "")
        },
    ]

    /// Rows this suite does not bring about, with the test that does or why none can.
    static let testedElsewhere: [String: String] = [
        "`run kafka://…/TOPIC` naming a topic": "KafkaRunTests.refusalsSayWhatToDo (needs a cluster: no trigger here)",
        "`--out kafka://…/TOPIC` naming a topic": "KafkaRunTests.refusalsSayWhatToDo (needs a cluster: no trigger here)",
        "`run kafka://… --job NAME` when": "KafkaRunTests.refusalsSayWhatToDo (needs a cluster: no trigger here)",
        "SIGINT/SIGTERM while a day waits": "KafkaRunTests.refusalsSayWhatToDo (an instance alone in a job of two, stopped; needs a cluster)",
        "`run kafka://…` with `--partitions` naming": "KafkaRunTests.refusalsSayWhatToDo (needs a cluster: no trigger here)",
        "`run kafka://…` with another `--partitions`": "KafkaRunTests.aTopicReadToItsEndGivesTheArchivesPanel (needs a cluster: no trigger here)",
        "`publish --state` naming a file": "PublishTests.refusalsSayWhatToDo (needs a cluster: no trigger here)",
        "a `--state` folder that is not empty and holds no `publish.json`": "PublishTests.refusalsSayWhatToDo (needs a cluster: no trigger here)",
        "the brokers cannot be reached": "PublishTests.refusalsSayWhatToDo (brokers on a closed port; needs a cluster: no trigger here)",
        "the topic exists with another partition count": "PublishTests.refusalsSayWhatToDo (needs a cluster: no trigger here)",
        "a `--state` folder of another publish": "PublishTests.refusalsSayWhatToDo (needs a cluster: no trigger here)",
        "a zip cut short that is read streaming": "tools/fault-test (group corrupt: a cut end record and a cut central directory of the nested KuaiRec.zip)",
        "the input changes while it is read": "IngestBadInputTests.aFileThatChangesWhileReadIsRefused (a race with a writer)",
        "the input disappears while it is read": "IngestBadInputTests (the file removed between two checks; a race with the reader)",
        "the input's content changed since the state was made": "IdentityResumeTests (same size and time, other bytes)",
        "another run writes the same `--out` now": "OwnershipTests (two runs at once)",
        "`tail --follow --no-restart`": "TailCommandTests.followStartsAgainWhenAnotherRunRewritesTheFile",
        "`tail --follow` on a file that does not exist yet": "TailCommandTests.followWaitsForTheFileAndEndsWhenItsRunFinishes (tail waits: no trigger here)",
        "`tail --follow --state DIR` naming the state folder": "TailCommandTests.keepFollowingAndStateFoldersOfAnotherOutputFollowOn (tail follows on: no trigger here)",
        "output, rejects or day buckets cannot be written": "tools/fault-test (group diskfull, a tmpfs) and CrashResumeTests.fullDiskEndsWithAClearErrorAndTheRerunResumes",
        "the state database cannot be created or opened": "tools/fault-test (group diskfull)",
        "a checkpoint cannot be committed": "tools/fault-test (group diskfull)",
        "the state database cannot grow": "tools/fault-test (group diskfull)",
        "export: … the reasons a line is refused": "PanelCSVWriterTests.linesThatAreNotRecordsSayWhy (each reason)",
        "export: `OUT` cannot be created": "ExportCommandTests.badInputGetsAClearErrorAndLeavesTheOutputAlone (a read-only folder)",
        "export: disk full": "ExportCommandTests (a file-size limit) and tools/fault-test",
        "export: `--csv -` and the reader goes away": "ExportCommandTests.readsStandardInputFromAPipe and tools/test's pipe checks",
        "`duplicate`": "counted, not written to the rejects file: InteractionDecoderTests and ArchiveRunTests (--dedupe)",
        "SIGINT/SIGTERM": "LiveFeedTests (a feed stopped by SIGTERM, then resumed)",
        "a feed re-sent from its start whose first rows differ": "LiveFeedTests (a stopped feed resumed with another feed's rows)",
    ]
}
