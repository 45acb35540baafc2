import Foundation
import Testing
import KuaiRecFixtures
import ReplayStream
import ReplayTestSupport

/// Broken archives and files, broken rows, broken state folders: each ends with a clear message and
/// a documented exit code (docs/ERRORS.md), never a crash, and never a half-written output.
@Suite(.serialized) struct BadInputTests {
    /// The offset of `member`'s compressed data inside `archive` (the first local header naming it).
    static func dataOffset(of member: String, in bytes: [UInt8]) -> Int? {
        let name = Array(member.utf8)
        guard bytes.count > name.count + 30 else { return nil }
        var i = 30
        while i + name.count <= bytes.count {
            if bytes[i] == name[0], Array(bytes[i..<(i + name.count)]) == name {
                let header = i - 30
                if bytes[header] == 0x50, bytes[header + 1] == 0x4B, bytes[header + 2] == 0x03, bytes[header + 3] == 0x04 {
                    let extra = Int(bytes[header + 28]) | Int(bytes[header + 29]) << 8
                    return i + name.count + extra
                }
            }
            i += 1
        }
        return nil
    }

    /// Writes a zip holding `files` (path → contents).
    static func writeZip(_ url: URL, _ files: [(String, URL)]) throws {
        let writer = try ArchiveWriter(path: url.path)
        for (path, source) in files { try writer.addFile(path: path, contentsOf: source) }
        try writer.close()
    }

    /// Runs `replay run INPUT` into a new state folder and checks the failure: exit code, message, and that
    /// neither the output nor the rejects file exists afterwards.
    func expectFailure(
        _ input: String, _ extra: [String] = [], in dir: URL, inflate: String? = nil, code: Int32, mentions: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let state = "s-\(UUID().uuidString.prefix(8))"
        let inflater = inflate.map { ["--inflate", $0] } ?? []
        let r = try Harness.run(["run", input, "--state", state, "--out", "p.jsonl", "--quiet"] + extra + inflater, in: dir)
        #expect(r.status == code, "\(input): \(r.stderr)", sourceLocation: sourceLocation)
        for text in mentions {
            #expect(r.stderr.contains(text), "\(input): expected “\(text)” in: \(r.stderr)", sourceLocation: sourceLocation)
        }
        #expect(r.stderr.hasPrefix("replay: ") && !r.stderr.contains("Fatal error"), sourceLocation: sourceLocation)
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("p.jsonl").path), sourceLocation: sourceLocation)
        let stateDir = dir.appendingPathComponent(state)
        #expect(!FileManager.default.fileExists(atPath: stateDir.appendingPathComponent("rejects.jsonl").path), sourceLocation: sourceLocation)
        #expect(!FileManager.default.fileExists(atPath: stateDir.appendingPathComponent("rejects.jsonl.partial").path), sourceLocation: sourceLocation)
    }

    /// Run with each inflater: `auto` reads the matrix (a deflated member of the stored KuaiRec.zip) with ISA-L.
    @Test(arguments: ["auto", "libarchive"])
    func brokenArchivesAndFilesEndWithAClearErrorAndNoOutput(inflate: String) throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        let bytes = [UInt8](try Data(contentsOf: outer))
        func write(_ name: String, _ data: [UInt8]) throws -> String {
            try Data(data).write(to: dir.appendingPathComponent(name))
            return name
        }
        // Not an archive, empty, not there.
        // The noise's file is named by its seed, which every failure message names.
        let seed = testSeed(default: 0x5EED_0004)
        var noise = SeededGenerator(seed: seed)
        let random = (0..<5000).map { _ in UInt8.random(in: 0...255, using: &noise) }
        let noiseName = try write("noise-seed-\(seed).zip", [0x00, 0xFF] + random)
        try expectFailure(noiseName, in: dir, inflate: inflate, code: 3, mentions: [noiseName, "neither an archive"])
        try expectFailure(try write("empty.zip", []), in: dir, inflate: inflate, code: 3, mentions: ["empty.zip", "empty (0 bytes)"])
        try expectFailure("absent.zip", in: dir, inflate: inflate, code: 3, mentions: ["absent.zip", "no such file"])
        // The outer zip cut short: inside KuaiRec.zip, and after it (the matrix intact, the download not).
        for fraction in [0.3, 0.97, 0.9995] {
            let name = try write("cut-\(fraction).zip", Array(bytes.prefix(Int(Double(bytes.count) * fraction))))
            try expectFailure(name, in: dir, inflate: inflate, code: 3, mentions: [name, "cut short"])
        }
        // The inner zip cut short.
        let inner = dir.appendingPathComponent("KuaiRec.zip")
        let folder = dir.appendingPathComponent("x")
        try Harness.unpack(outer, innerZip: inner, folder: folder)
        let innerBytes = [UInt8](try Data(contentsOf: inner))
        let cutInner = try write("cut-inner.zip", Array(innerBytes.prefix(innerBytes.count * 98 / 100)))
        try expectFailure(cutInner, in: dir, inflate: inflate, code: 3, mentions: [cutInner, "cut short"])
        // Corrupt compressed data in the middle of small_matrix.csv: one flipped bit, then a smashed run.
        let start = try #require(Self.dataOffset(of: "KuaiRec 2.0/data/small_matrix.csv", in: bytes))
        var flipped = bytes
        flipped[start + 50_000] ^= 0x01
        try expectFailure(
            try write("flipped.zip", flipped), in: dir, inflate: inflate, code: 3,
            mentions: [
                "flipped.zip ▸ KuaiRec.zip ▸ KuaiRec 2.0/data/small_matrix.csv", "bytes of the CSV had been decompressed",
                inflate == "auto" ? "(ISA-L: " : "(libarchive: ",
            ])
        var smashed = bytes
        for i in (start + 40_000)..<(start + 40_100) { smashed[i] ^= 0x5A }
        try expectFailure(
            try write("smashed.zip", smashed), in: dir, inflate: inflate, code: 3,
            mentions: ["smashed.zip ▸ KuaiRec.zip ▸ KuaiRec 2.0/data/small_matrix.csv", "download or copy it again"])
        // KuaiRec.zip missing from the outer archive; the chosen matrix missing from the inner one.
        let features = folder.appendingPathComponent("KuaiRec 2.0/data/user_features.csv")
        try Self.writeZip(dir.appendingPathComponent("no-inner.zip"), [("user_features_raw.csv", features)])
        try expectFailure("no-inner.zip", in: dir, inflate: inflate, code: 3, mentions: ["neither KuaiRec.zip nor small_matrix.csv", "user_features_raw.csv"])
        try Self.writeZip(
            dir.appendingPathComponent("no-big.zip"),
            [("KuaiRec 2.0/data/small_matrix.csv", folder.appendingPathComponent("KuaiRec 2.0/data/small_matrix.csv")),
             ("KuaiRec 2.0/data/user_features.csv", features)])
        try expectFailure(
            "no-big.zip", ["--matrix", "big"], in: dir, inflate: inflate, code: 3,
            mentions: ["no-big.zip: the archive holds neither KuaiRec.zip nor big_matrix.csv",
                       "KuaiRec 2.0/data/small_matrix.csv, KuaiRec 2.0/data/user_features.csv"])
        // ... and inside an outer archive.
        try Self.writeZip(dir.appendingPathComponent("outer-no-big.zip"), [("KuaiRec.zip", dir.appendingPathComponent("no-big.zip"))])
        try expectFailure(
            "outer-no-big.zip", ["--matrix", "big"], in: dir, inflate: inflate, code: 3,
            mentions: ["outer-no-big.zip ▸ KuaiRec.zip: the archive holds no big_matrix.csv", "user_features.csv"])
        // A zip bomb: more decompressed bytes than --max-bytes.
        try expectFailure(outer.path, ["--max-bytes", "100K"], in: dir, inflate: inflate, code: 3, mentions: ["small_matrix.csv", "--max-bytes 102400", "raise --max-bytes"])
        // A line longer than the bound (1 MiB).
        let header = "user_id,video_id,play_duration,video_duration,time,date,timestamp,watch_ratio\n"
        let long = header + "1,2,3,4,x,20200705,1593898068.378,0.5\n" + String(repeating: "7", count: 2 << 20) + "\n"
        try expectFailure(try write("long.csv", Array(long.utf8)), in: dir, inflate: inflate, code: 3, mentions: ["long.csv: line 3", "longer than 1048576 bytes"])
        // A header without a required column, before any row is read.
        try expectFailure(
            try write("header.csv", Array("user_id,video_id,time,date,timestamp,watch_ratio\n1,2,x,20200705,,0.5\n".utf8)),
            in: dir, inflate: inflate, code: 3, mentions: ["header.csv: line 1", "play_duration, video_duration"])
        // A quote that never closes.
        try expectFailure(
            try write("quote.csv", Array((header + "1,2,3,4,\"x,20200705,1593898068.378,0.5\n").utf8)), in: dir, inflate: inflate, code: 3,
            mentions: ["quote.csv: line 2", "never closed"])
    }

    @Test func anUnreadableFileSaysPermissionDenied() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("locked.zip")
        try Data(contentsOf: try Harness.archive()).write(to: file)
        try FileManager.default.setAttributes([.posixPermissions: 0o000], ofItemAtPath: file.path)
        // root reads any file: run as nobody then.
        let asOtherUser = getuid() == 0 ? ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : []
        let r = try Harness.run(["run", file.path, "--state", "s", "--out", "p.jsonl"], in: dir, prefix: asOtherUser)
        #expect(r.status == 3, "\(r.stderr)")
        #expect(r.stderr.contains("locked.zip: permission denied"), "\(r.stderr)")
        // The input is checked before the state folder is touched.
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("s").path))
    }

    @Test func anInputChangedSinceTheStateWasMadeIsRefused() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in.zip")
        try Data(contentsOf: try Harness.archive()).write(to: input)
        #expect(try Harness.run(["run", "in.zip", "--state", "s", "--out", "p.jsonl", "--until", "2020-07-07", "--quiet"], in: dir).status == 0)
        let handle = try FileHandle(forWritingTo: input)
        handle.seekToEndOfFile()
        handle.write(Data("more".utf8))
        try handle.close()
        let r = try Harness.run(["run", "in.zip", "--state", "s", "--out", "p.jsonl"], in: dir)
        #expect(r.status == 4 && r.stderr.contains("input size") && r.stderr.contains("--fresh"), "\(r.stderr)")
    }

    @Test func brokenStateFoldersAreRefusedAndFreshRecovers() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive().path
        #expect(try Harness.run(["run", outer, "--state", "ref", "--out", "ref.jsonl", "--quiet"], in: dir).status == 0)
        let expected = try Data(contentsOf: dir.appendingPathComponent("ref.jsonl"))
        func partialRun() throws {
            try? FileManager.default.removeItem(at: dir.appendingPathComponent("s"))
            try? FileManager.default.removeItem(at: dir.appendingPathComponent("p.jsonl"))  // a new state's run does not take it over
            let r = try Harness.run(["run", outer, "--state", "s", "--out", "p.jsonl", "--until", "2020-07-08", "--quiet"], in: dir)
            #expect(r.status == 0, "\(r.stderr)")
        }
        func expectRefusedThenFreshRecovers(_ mentions: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
            let r = try Harness.run(["run", outer, "--state", "s", "--out", "p.jsonl"], in: dir)
            #expect(r.status == 4, "\(r.stderr)", sourceLocation: sourceLocation)
            for text in mentions + ["--fresh"] {
                #expect(r.stderr.contains(text), "expected “\(text)” in: \(r.stderr)", sourceLocation: sourceLocation)
            }
            let fresh = try Harness.run(["run", outer, "--state", "s", "--out", "p.jsonl", "--fresh", "--quiet"], in: dir)
            #expect(fresh.status == 0, "\(fresh.stderr)", sourceLocation: sourceLocation)
            #expect(try Data(contentsOf: dir.appendingPathComponent("p.jsonl")) == expected, sourceLocation: sourceLocation)
        }
        let dataFile = dir.appendingPathComponent("s/lmdb/data.mdb")
        // Corrupt: the database overwritten with other bytes.
        try partialRun()
        try Data(repeating: 0x41, count: 64 << 10).write(to: dataFile)
        try expectRefusedThenFreshRecovers(["state s:", "cannot be opened"])
        // Truncated: the database cut short.
        try partialRun()
        let size = try FileManager.default.attributesOfItem(atPath: dataFile.path)[.size] as! Int
        let handle = try FileHandle(forWritingTo: dataFile)
        try handle.truncate(atOffset: UInt64(size / 2))
        try handle.close()
        try expectRefusedThenFreshRecovers(["state s:", "truncated"])
        // Truncated: one day of the ordered events cut short.
        try partialRun()
        let events = dir.appendingPathComponent("s/events")
        let day = try #require(try FileManager.default.contentsOfDirectory(atPath: events.path).sorted().last)
        let dayHandle = try FileHandle(forWritingTo: events.appendingPathComponent(day))
        try dayHandle.truncate(atOffset: 17)
        try dayHandle.close()
        try expectRefusedThenFreshRecovers(["events", "damaged or truncated"])
        // Another program's database where ours should be (LMDB, but no replay identity in it).
        try partialRun()
        try FileManager.default.removeItem(at: dir.appendingPathComponent("s/lmdb"))
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("s/lmdb"), withIntermediateDirectories: true)
        try Data("not lmdb".utf8).write(to: dataFile)
        try expectRefusedThenFreshRecovers(["state s:"])
        // A replay state folder holding another file: refused; --fresh starts over and deletes none of the others.
        try partialRun()
        try Data("keep me".utf8).write(to: dir.appendingPathComponent("s/notes.txt"))
        try expectRefusedThenFreshRecovers(["not a replay state folder", "notes.txt"])
        #expect(try String(contentsOf: dir.appendingPathComponent("s/notes.txt"), encoding: .utf8) == "keep me")
        // A folder from another program (StateOwnershipTests): refused, --fresh included.
        // A file where the folder should be.
        try Data().write(to: dir.appendingPathComponent("f"))
        let file = try Harness.run(["run", outer, "--state", "f", "--out", "q.jsonl"], in: dir)
        #expect(file.status == 4 && file.stderr.contains("not a folder"), "\(file.stderr)")
    }

    @Test func dedupeDropsDuplicatesSaysHowManyAndRowsStillReconcile() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive().path
        var sums: [String: [String: Any]] = [:]
        for (name, flags) in [("kept", [String]()), ("dropped", ["--dedupe"])] {
            let r = try Harness.run(
                ["run", outer, "--matrix", "big", "--rows", "12000", "--state", name, "--out", "\(name).jsonl", "--rejects", "\(name).rej",
                 "--summary-json", "\(name).json"] + flags, in: dir)
            #expect(r.status == 0, "\(r.stderr)")
            let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("\(name).json"))) as! [String: Any]
            sums[name] = summary
            let read = summary["rows_read"] as! Int, accepted = summary["rows_accepted"] as! Int
            let rejected = summary["rows_rejected"] as! Int
            let byReason = summary["rejected_by_reason"] as! [String: Int]
            #expect(read == accepted + rejected && byReason.values.reduce(0, +) == rejected)
            // Every row in the panel is counted once in the final records' `interactions`.
            let records = try Harness.strictJSONLines(dir.appendingPathComponent("\(name).jsonl"))
            let interactions = records.filter { $0["final"] as? Bool == true }.map { ($0["interactions"] as! NSNumber).intValue }
            #expect(interactions.reduce(0, +) == accepted)
            let rejects = try Harness.strictJSONLines(dir.appendingPathComponent("\(name).rej"))
            #expect(rejects.count == rejected - (byReason["duplicate"] ?? 0))
            if name == "dropped" {
                #expect(r.stderr.contains("rows dropped (--dedupe"))
            }
        }
        let kept = sums["kept"]!, dropped = sums["dropped"]!
        let duplicates = kept["duplicate_rows"] as! Int
        #expect(duplicates > 0)
        #expect(dropped["duplicates_dropped"] as! Int == duplicates)
        #expect((dropped["rejected_by_reason"] as! [String: Int])["duplicate"] == duplicates)
        #expect(dropped["rows_accepted"] as! Int == (kept["rows_accepted"] as! Int) - duplicates)
        // The option is part of the run's identity.
        let switched = try Harness.run(["run", outer, "--matrix", "big", "--rows", "12000", "--state", "kept", "--out", "kept.jsonl", "--dedupe"], in: dir)
        #expect(switched.status == 4 && switched.stderr.contains("--dedupe"))
    }

    @Test func rejectsAreValidJSONWhateverBytesTheRowsHeld() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var csv = Array("user_id,video_id,play_duration,video_duration,time,date,timestamp,watch_ratio\n".utf8)
        let good = Array("14,148,4381,6067,2020-07-05 05:27:48.378,20200705.0,1593898068.378,0.72\n".utf8)
        csv += good
        var raws: [[UInt8]] = []
        // Every byte value but the line end and the quote, in a field; quotes, backslashes; invalid UTF-8; 中文.
        for b in UInt8(0)...255 where b != 0x0A && b != 0x22 {  // a lone quote would open a field to the end
            raws.append(Array("1,2,3,4,x,20200705,1593898068.378,".utf8) + [b, 0x61])
        }
        raws.append(Array("1,2,3,\"4\\\\\",\"x\"\"y\",20200705,1593898068.378,\"\\u0000\"".utf8))
        raws.append([0xC3, 0x28, 0xE2, 0x82, 0xFF, 0xFE] + Array(",2,3,4,x,20200705,1593898068.378,0.5".utf8))
        raws.append(Array("用户,视频,3,4,x,20200705,1593898068.378,0.5".utf8))
        raws.append(Array("1,2,3,4,\"multi\nline\",20200705,1593898068.378,x".utf8))
        for raw in raws { csv += raw + [0x0A] }
        csv += good
        try Data(csv).write(to: dir.appendingPathComponent("weird.csv"))
        let r = try Harness.run(
            ["run", "weird.csv", "--state", "s", "--out", "p.jsonl", "--rejects", "rej.jsonl", "--summary-json", "sum.json", "--quiet"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let rejects = try Harness.strictJSONLines(dir.appendingPathComponent("rej.jsonl"))
        // A 0x0D byte at the end of a field is the CR of a CRLF line end? No: it is followed by `a`; every row is rejected.
        #expect(rejects.count == raws.count)
        for (reject, raw) in zip(rejects, raws) {
            let text = reject["raw"] as! String
            #expect(text == String(decoding: raw, as: UTF8.self))  // invalid UTF-8 becomes U+FFFD
        }
        #expect(rejects.map { $0["line"] as! Int } == Array(3..<(3 + raws.count - 1)) + [3 + raws.count - 1])
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("sum.json"))) as! [String: Any]
        #expect(summary["rows_read"] as! Int == raws.count + 2 && summary["rows_accepted"] as! Int == 2)
        _ = try Harness.strictJSONLines(dir.appendingPathComponent("p.jsonl"))
    }
}
