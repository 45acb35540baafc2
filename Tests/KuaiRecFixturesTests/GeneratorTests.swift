import Foundation
import Testing

@testable import KuaiRecFixtures

/// Tests of the synthetic KuaiRec generator and the zip writer. Each test works in its
/// own temporary directory. Format oracles that need Python's `repr` run python3.
@Suite struct GeneratorTests {
    static let small = GeneratorConfig(users: 30, videos: 200, days: 14, seed: 7)

    // MARK: Helpers

    /// Runs `body` with a fresh temporary directory, removed afterwards.
    func withTempDir<R>(_ body: (URL) throws -> R) throws -> R {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("GeneratorTests-\(ProcessInfo.processInfo.globallyUniqueString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        return try body(dir)
    }

    /// Runs python3 with `script` and arguments; returns stdout. Fails the test on a
    /// non-zero exit.
    func python(_ script: String, _ args: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + args
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let stderr = String(decoding: errData, as: UTF8.self)
        #expect(process.terminationStatus == 0, "python3 failed: \(stderr)")
        return String(decoding: data, as: UTF8.self)
    }

    struct Row {
        var fields: [Substring]
        var user: Int { Int(fields[0])! }
        var video: Int { Int(fields[1])! }
        var isTimeless: Bool { fields[4].isEmpty }
        /// Timestamp in ms, parsed from the text (`1593898068.378`).
        var timestampMs: Int64 {
            let parts = fields[6].split(separator: ".")
            let frac = String(parts[1]).padding(toLength: 3, withPad: "0", startingAt: 0)
            return Int64(parts[0])! * 1000 + Int64(frac)!
        }
    }

    func readMatrix(_ config: GeneratorConfig, _ matrix: KuaiRecGenerator.Matrix, in dir: URL)
        throws -> (header: String, rows: [Row], summary: MatrixCSVSummary, path: String)
    {
        let path = dir.appendingPathComponent(matrix == .small ? "small.csv" : "big.csv").path
        let summary = try KuaiRecGenerator.writeMatrixCSV(config, matrix: matrix, to: path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.last == "", "file must end with a newline")
        lines.removeLast()
        let header = String(lines.removeFirst())
        let rows = lines.map { Row(fields: $0.split(separator: ",", omittingEmptySubsequences: false)) }
        return (header, rows, summary, path)
    }

    // MARK: Tests

    @Test func sameSeedGivesIdenticalBytes() throws {
        try withTempDir { dir in
            let a = dir.appendingPathComponent("a/out.zip").path
            let b = dir.appendingPathComponent("b/out.zip").path
            let s1 = try KuaiRecGenerator.write(Self.small, to: a)
            let s2 = try KuaiRecGenerator.write(Self.small, to: b)
            #expect(s1 == s2)
            #expect(try Data(contentsOf: URL(fileURLWithPath: a)) == Data(contentsOf: URL(fileURLWithPath: b)))
            // No temporary files are left next to the output.
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("a").path) == ["out.zip"])
        }
    }

    @Test func differentSeedGivesDifferentBytes() throws {
        try withTempDir { dir in
            var other = Self.small
            other.seed = 8
            let a = dir.appendingPathComponent("a.csv").path
            let b = dir.appendingPathComponent("b.csv").path
            _ = try KuaiRecGenerator.writeMatrixCSV(Self.small, matrix: .small, to: a)
            _ = try KuaiRecGenerator.writeMatrixCSV(other, matrix: .small, to: b)
            #expect(try Data(contentsOf: URL(fileURLWithPath: a)) != Data(contentsOf: URL(fileURLWithPath: b)))
        }
    }

    @Test func archiveLayoutAndMembersMatchBareCSVs() throws {
        try withTempDir { dir in
            let path = dir.appendingPathComponent("nested/dir/kuairec.zip").path
            let summary = try KuaiRecGenerator.write(Self.small, to: path)
            let smallCSV = dir.appendingPathComponent("small.csv").path
            _ = try KuaiRecGenerator.writeMatrixCSV(Self.small, matrix: .small, to: smallCSV)
            let out = try python(
                """
                import sys, zipfile, io, hashlib
                z = zipfile.ZipFile(sys.argv[1])
                print('|'.join(i.filename for i in z.infolist()))
                inner = zipfile.ZipFile(io.BytesIO(z.read('KuaiRec.zip')))
                print('|'.join(i.filename for i in inner.infolist()))
                assert z.testzip() is None and inner.testzip() is None
                print(inner.read('KuaiRec 2.0/data/small_matrix.csv') == open(sys.argv[2], 'rb').read())
                print(inner.read('KuaiRec 2.0/data/kuairec_caption_category.csv') == z.read('kuairec_caption_category.csv'))
                print(set(i.date_time for i in list(z.infolist()) + list(inner.infolist())))
                """, [path, smallCSV])
            let lines = out.split(separator: "\n").map(String.init)
            #expect(lines.count == 5)
            #expect(lines[0] == KuaiRecGenerator.outerMembers.joined(separator: "|"))
            #expect(lines[1] == KuaiRecGenerator.innerMembers.joined(separator: "|"))
            #expect(lines[2] == "True")
            #expect(lines[3] == "True")
            #expect(lines[4] == "{(2022, 1, 10, 0, 0, 0)}")
            #expect(summary.smallRows > 5_000 && summary.bigRows > summary.smallRows)
            #expect(summary.outputBytes == (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int))
        }
    }

    @Test func matrixHeaderAndRowFormats() throws {
        try withTempDir { dir in
            let header = "user_id,video_id,play_duration,video_duration,time,date,timestamp,watch_ratio"
            let time = #"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.(0|\d?\d?[1-9])"#
            let ts = #"\d{10}\.(0|\d?\d?[1-9])"#
            let ratio = #"\d+\.\d+(e-\d\d)?|\d(\.\d+)?e-\d\d"#
            let timed = try Regex(#"^\d+,\d+,\d+,[1-9]\d*,"# + time + #",20200\d\d\d\.0,"# + ts + ",(" + ratio + ")$")
            let timeless = try Regex(#"^\d+,\d+,\d+,[1-9]\d*,,,,("# + ratio + ")$")
            let bigRow = try Regex(#"^\d+,\d+,\d+,[1-9]\d*,"# + time + #",20200\d\d\d,"# + ts + ",(" + ratio + ")$")

            let small = try readMatrix(Self.small, .small, in: dir)
            #expect(small.header == header)
            var timelessCount = 0
            for row in small.rows {
                let line = row.fields.joined(separator: ",")
                if row.isTimeless {
                    timelessCount += 1
                    #expect(line.wholeMatch(of: timeless) != nil, "\(line)")
                } else {
                    #expect(line.wholeMatch(of: timed) != nil, "\(line)")
                }
            }
            #expect(timelessCount == small.summary.timelessRows && timelessCount > 0)
            let big = try readMatrix(Self.small, .big, in: dir)
            #expect(big.header == header)
            for row in big.rows {
                let line = row.fields.joined(separator: ",")
                #expect(line.wholeMatch(of: bigRow) != nil, "\(line)")
            }
            let bytes = try Data(contentsOf: URL(fileURLWithPath: big.path))
            #expect(!bytes.contains(13), "no CR")
            #expect(bytes.prefix(3) != Data([0xEF, 0xBB, 0xBF]), "no BOM")
        }
    }

    @Test func smallIdsAreSubsetsOfBigAndNoPairIsShared() throws {
        try withTempDir { dir in
            let small = try readMatrix(Self.small, .small, in: dir)
            let big = try readMatrix(Self.small, .big, in: dir)
            let smallUsers = Set(small.rows.map(\.user))
            let smallVideos = Set(small.rows.map(\.video))
            let bigUsers = Set(big.rows.map(\.user))
            let bigVideos = Set(big.rows.map(\.video))
            #expect(smallUsers.count == Self.small.users)
            #expect(smallVideos.count == Self.small.videos)
            #expect(smallUsers.isSubset(of: bigUsers))
            #expect(bigUsers.count == Self.small.effectiveBigUsers)
            #expect(bigVideos.allSatisfy { $0 < Self.small.effectiveBigVideos })
            let smallPairs = Set(small.rows.map { [$0.user, $0.video] })
            #expect(smallPairs.count == small.rows.count, "one small row per (user, video)")
            #expect(!big.rows.contains { smallPairs.contains([$0.user, $0.video]) })
            // Exact duplicates are repeated adjacent lines.
            var repeats = 0
            for i in 1..<big.rows.count where big.rows[i].fields == big.rows[i - 1].fields { repeats += 1 }
            #expect(repeats == big.summary.duplicateRows && repeats > 0)
        }
    }

    @Test func rowsAreGroupedByUserAndTimeOrderedWithTimelessLast() throws {
        try withTempDir { dir in
            for matrix in [KuaiRecGenerator.Matrix.small, .big] {
                let m = try readMatrix(Self.small, matrix, in: dir)
                var finishedUsers = Set<Int>()
                var currentUser = -1
                var lastTs: Int64 = .min
                var seenTimeless = false
                for row in m.rows {
                    if row.user != currentUser {
                        #expect(row.user > currentUser, "users ascending")
                        #expect(!finishedUsers.contains(row.user))
                        finishedUsers.insert(currentUser)
                        currentUser = row.user
                        lastTs = .min
                        seenTimeless = false
                    }
                    if row.isTimeless {
                        seenTimeless = true
                    } else {
                        #expect(!seenTimeless, "timed row after a timeless row for user \(row.user)")
                        #expect(row.timestampMs >= lastTs, "time order for user \(row.user)")
                        lastTs = row.timestampMs
                    }
                }
            }
        }
    }

    /// watch_ratio is Python's repr(play/video) on every row; timestamp is repr(ms/1000)
    /// and `time` is its Beijing wall clock; dates stay within the label range and the
    /// first and last labels have several users.
    @Test func numbersMatchPythonRepr() throws {
        try withTempDir { dir in
            let small = try readMatrix(Self.small, .small, in: dir)
            let big = try readMatrix(Self.small, .big, in: dir)
            let out = try python(
                """
                import sys, csv, datetime
                tz = datetime.timezone(datetime.timedelta(hours=8))
                for path in sys.argv[1:]:
                    n = mislabeled = 0
                    users_by_date = {}
                    with open(path, newline='') as f:
                        for r in csv.DictReader(f):
                            n += 1
                            p, v = int(r['play_duration']), int(r['video_duration'])
                            assert r['watch_ratio'] == repr(p / v), r
                            if r['timestamp'] == '':
                                assert r['time'] == '' and r['date'] == '', r
                                continue
                            ts = float(r['timestamp'])
                            assert repr(ts) == r['timestamp'], r
                            ms = round(ts * 1000)
                            dt = datetime.datetime.fromtimestamp(ms // 1000, tz) + datetime.timedelta(milliseconds=ms % 1000)
                            text = dt.strftime('%Y-%m-%d %H:%M:%S') + '.' + (('%03d' % (ms % 1000)).rstrip('0') or '0')
                            assert r['time'] == text, (r, text)
                            label = int(float(r['date']))
                            users_by_date.setdefault(label, set()).add(r['user_id'])
                            if dt.strftime('%Y%m%d') != str(label):
                                mislabeled += 1
                    dates = sorted(users_by_date)
                    assert dates[0] == 20200705 and dates[-1] == 20200718, dates
                    print(n, mislabeled, len(users_by_date[dates[0]]), len(users_by_date[dates[-1]]))
                """, [small.path, big.path])
            let lines = out.split(separator: "\n").map { $0.split(separator: " ").map { Int($0)! } }
            #expect(lines.count == 2)
            #expect(lines[0][0] == small.rows.count && lines[1][0] == big.rows.count)
            #expect(lines[0][1] + lines[1][1] == small.summary.mislabeledRows + big.summary.mislabeledRows)
            #expect(lines.allSatisfy { $0[2] >= 3 && $0[3] >= 3 }, "several users on the first and last date")
        }
    }

    @Test func swiftDescriptionMatchesPythonReprForRatios() throws {
        // Random and edge-case ratios, including tiny ones written with an exponent.
        var rng = SeededRandom(seed: 99)
        var pairs: [(Int, Int)] = [(1, 315_072), (0, 5), (7, 7), (3, 300_000), (2_000_000, 3), (4381, 6067)]
        for _ in 0..<5000 { pairs.append((rng.int(below: 2_000_000), 1 + rng.int(below: 315_072))) }
        let swiftText = pairs.map { (Double($0.0) / Double($0.1)).description }.joined(separator: "\n")
        try withTempDir { dir in
            let input = dir.appendingPathComponent("pairs.txt")
            try pairs.map { "\($0.0),\($0.1)" }.joined(separator: "\n").write(to: input, atomically: true, encoding: .utf8)
            let out = try python(
                "import sys\nfor l in open(sys.argv[1]).read().split():\n p,v=l.split(',')\n print(repr(int(p)/int(v)))",
                [input.path])
            #expect(out == swiftText + "\n")
        }
    }

    @Test func timestampAndTimeFormatting() {
        var buf = CSVBuffer(sink: nil)
        buf.epochSeconds(milliseconds: 1_593_898_068_378); buf.comma()
        buf.epochSeconds(milliseconds: 1_593_882_025_500); buf.comma()
        buf.epochSeconds(milliseconds: 1_593_890_882_320); buf.comma()
        buf.epochSeconds(milliseconds: 1_593_898_068_000); buf.comma()
        buf.beijingTime(milliseconds: 1_593_878_903_438); buf.comma()
        buf.beijingTime(milliseconds: 1_593_882_025_500); buf.comma()
        buf.beijingTime(milliseconds: 1_593_965_688_000); buf.comma()
        buf.int(-124); buf.comma(); buf.int(0)
        #expect(String(decoding: buf.bytes, as: UTF8.self) == "1593898068.378,1593882025.5,1593890882.32,1593898068.0,"
            + "2020-07-05 00:08:23.438,2020-07-05 01:00:25.5,2020-07-06 00:14:48.0,-124,0")
    }

    @Test func sideTablesHaveExpectedShapes() throws {
        try withTempDir { dir in
            var paths: [String] = []
            for table in [KuaiRecGenerator.Table.userFeatures, .itemCategories, .itemDailyFeatures, .socialNetwork,
                          .captionCategory]
            {
                let p = dir.appendingPathComponent(table.rawValue).path
                try KuaiRecGenerator.writeTableCSV(Self.small, table: table, to: p)
                paths.append(p)
            }
            let out = try python(
                """
                import sys, csv
                for p in sys.argv[1:]:
                    rows = list(csv.reader(open(p, newline='', encoding='utf-8')))
                    widths = {len(r) for r in rows}
                    assert len(widths) == 1, (p, widths)
                    print(len(rows) - 1, widths.pop())
                """, paths)
            let shape = out.split(separator: "\n").map { $0.split(separator: " ").map { Int($0)! } }
            let bigUsers = Self.small.effectiveBigUsers
            let bigVideos = Self.small.effectiveBigVideos
            #expect(shape[0] == [bigUsers, 31])
            #expect(shape[1] == [bigVideos, 2])
            #expect(shape[2][1] == 58 && shape[2][0] > bigVideos && shape[2][0] <= bigVideos * Self.small.days)
            #expect(shape[3][1] == 2 && shape[3][0] >= 1)
            #expect(shape[4] == [bigVideos, 10])
        }
    }

    @Test func invalidConfigIsRejected() throws {
        try withTempDir { dir in
            var bad = Self.small
            bad.days = 0
            #expect(throws: GeneratorError.self) {
                try KuaiRecGenerator.write(bad, to: dir.appendingPathComponent("x.zip").path)
            }
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.zip").path))
        }
    }

    @Test func archiveWriterReportsErrors() throws {
        #expect(throws: ArchiveWriteError.self) {
            _ = try ArchiveWriter(path: "/nonexistent-dir/x.zip")
        }
        try withTempDir { dir in
            let writer = try ArchiveWriter(path: dir.appendingPathComponent("w.zip").path)
            try writer.addFile(path: "a.txt", size: 3)
            try writer.write(Array("ab".utf8))
            #expect(throws: ArchiveWriteError.self) { try writer.finishEntry() }
            try writer.close()
        }
    }
}
