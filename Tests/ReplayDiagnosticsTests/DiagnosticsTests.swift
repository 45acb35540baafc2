import Foundation
import Logging
import Testing
@testable import ReplayDiagnostics
import ReplayStream
import ReplayTestSupport

struct DiagnosticMathTests {
    /// The histogram's computed bin (a guess from the value, moved to the edges) is the binary search's over the
    /// edges, for random values and ranges, each edge itself, the values either side of each edge, the bounds,
    /// and values outside them or NaN (not counted).
    @Test func histogramBinsAreTheEdgesBinarySearch() {
        let seed = testSeed(default: 13)
        var random = SeededGenerator(seed: seed)
        func unit() -> Double { Double(random.next() % 1_000_001) / 1_000_000 }
        for trial in 0..<300 {
            let bins = [1, 3, 7, 30, 40, 60, 61, 1000][trial % 8]
            let lower = (unit() - 0.5) * pow(10, Double(random.next() % 12) - 4)
            let upper = trial % 17 == 0 ? lower : lower + unit() * pow(10, Double(random.next() % 12) - 4)
            var histogram = NumpyHistogram(bins: bins, min: lower, max: upper)
            let edges = histogram.edges
            var values = edges.flatMap { [$0, $0.nextDown, $0.nextUp] }
            for _ in 0..<200 { values.append(edges[0] + unit() * (edges[bins] - edges[0])) }
            values += [edges[0].nextDown, edges[bins].nextUp, .nan, .infinity, -.infinity]
            var expected = [Int](repeating: 0, count: bins)
            for v in values where v >= edges[0] && v <= edges[bins] {
                expected[v == edges[bins] ? bins - 1 : histogram.binBySearch(v)] += 1
            }
            for v in values { histogram.add(v) }
            #expect(histogram.counts == expected, "seed \(seed), trial \(trial): \(bins) bins over \(lower)...\(upper)")
            if histogram.counts != expected { return }
        }
    }

    /// A bin's values counted by value give every order statistic a sorted array of them gives, bit for bit:
    /// repeats, negative values, both zeros (-0.0 first), infinities; each value's key gives it back.
    @Test func countedValuesGiveTheOrderStatisticsOfTheSortedValues() {
        var random = SeededGenerator(seed: testSeed(default: 17))
        var values: [Double] = [0.0, -0.0, .infinity, -.infinity, -0.0]
        for _ in 0..<5_000 {
            let whole = Double(Int(random.next() % 2_000) - 1_000) / 1_000
            values.append(random.next() % 3 == 0 ? whole : whole + Double(random.next() % 1_000_000) / 1e9)
        }
        var counted = CountedValues()
        for v in values.shuffled(using: &random) { counted.add(v) }
        let sorted = values.sorted { CountedValues.orderKey($0) < CountedValues.orderKey($1) }
        let ordered = counted.ordered()
        #expect(ordered.keys.count < values.count, "repeats are counted, not held")
        #expect(sorted.indices.allSatisfy { ordered.element($0).bitPattern == sorted[$0].bitPattern })
        #expect(ordered.element(0) == -.infinity && ordered.element(sorted.count - 1) == .infinity)
        #expect(values.allSatisfy { CountedValues.value(ofKey: CountedValues.orderKey($0)).bitPattern == $0.bitPattern })
        let zeros = sorted.filter { $0 == 0 }
        #expect(zeros.map(\.sign) == [.minus, .minus, .plus] + Array(repeating: .plus, count: zeros.count - 3))
    }

    @Test func numpyLinearQuantileAndMedian() {
        // numpy.quantile([1, 2, 3, 4], [0.25, 0.5, 0.99]) = [1.75, 2.5, 3.97]; median of [1, 2, 4] = 2.
        let v = [1.0, 2, 3, 4]
        #expect(NumpyQuantile.linear(0.25, count: 4) { v[$0] } == 1.75)
        #expect(NumpyQuantile.linear(0.5, count: 4) { v[$0] } == 2.5)
        #expect(abs(NumpyQuantile.linear(0.99, count: 4) { v[$0] } - 3.97) < 1e-15)
        #expect(NumpyQuantile.linear(1, count: 4) { v[$0] } == 4)
        #expect(NumpyQuantile.linear(0.5, count: 0) { _ in 0 }.isNaN)
        #expect(NumpyQuantile.ranks(0.25, count: 4) == [0, 1])
        #expect(NumpyQuantile.median(sorted: [1, 2, 4]) == 2)
        #expect(NumpyQuantile.median(sorted: [1, 2, 4, 8]) == 3)
    }

    @Test func runningMomentsAgreeWithTwoPass() {
        var moments = RunningMoments()
        var values: [Double] = []
        var x = 0.123
        for i in 0..<10_000 {
            x = (x * 3.7 + 0.31).truncatingRemainder(dividingBy: 1)
            let v = 600 + 300 * x + Double(i % 7)
            values.append(v)
            moments.add(v)
        }
        let d = DescribedColumn.exact(column: "v", values: values, percentiles: [0.5])
        #expect(abs(moments.mean - d.mean) <= 1e-13 * d.mean)
        #expect(abs(moments.sampleVariance.squareRoot() - d.std) <= 1e-11 * d.std)
        var one = RunningMoments()
        one.add(5)
        #expect(one.sampleVariance.isNaN && one.mean == 5)
    }

    @Test func describeLabelsAndNaN() {
        #expect(DescribedColumn.labels(for: [0.01, 0.05, 0.5, 0.99]) == ["1%", "5%", "50%", "99%"])
        let d = DescribedColumn.exact(column: "c", values: [3, .nan, 1, 2], percentiles: [0.5])
        #expect(d.count == 3 && d.mean == 2 && d.std == 1 && d.min == 1 && d.max == 3 && d.percentiles == [2])
    }

    @Test func categoryListsParseLikeLiteralEval() {
        #expect(MetadataTables.parseCategoryList("[27, 9]") == [27, 9])
        #expect(MetadataTables.parseCategoryList("[0]") == [0])
        #expect(MetadataTables.parseCategoryList("[]") == [])
        #expect(MetadataTables.parseCategoryList("27") == [])
        #expect(MetadataTables.parseCategoryList("[a]") == [])
    }

    @Test func timeTextFollowsTheInferredFormat() {
        func parse(_ s: String, _ fraction: Bool) -> Int64? {
            var bytes = Array(s.utf8)
            return bytes.withUnsafeMutableBytes { NaiveTimeText.parse(UnsafeRawBufferPointer($0), withFraction: fraction) }
        }
        let t = parse("2020-07-05 05:27:48.378", true)
        #expect(t.map(NaiveTimeText.format) == "2020-07-05 05:27:48.378")
        #expect(parse("2020-07-05 05:27:48", true) == nil)  // pandas: NaT under the fractional format
        #expect(parse("2020-07-05 05:27:48.378", false) == nil)
        #expect(parse("2020-07-05 05:27:48", false).map(NaiveTimeText.format) == "2020-07-05 05:27:48.000")
        #expect(parse("2020-02-31 05:27:48.1", true) == nil)
    }
}

/// The panel diagnostics against the notebook's definitions computed in batch over the final records.
struct PanelDiagnosticsTests {
    let logger = Logger(label: "test")

    func replay(_ log: RandomLog, dir: URL) throws -> (records: [UserDayRecord], state: PanelDiagnosticsState) {
        let buckets = try log.buckets(in: dir)
        let sink = CollectingSink()
        let r = try Replayer(
            summary: log.summary, buckets: buckets, mode: .batch, timeZone: TimeZone(identifier: "UTC")!, sink: sink, state: nil, resumeFrom: nil, logger: logger)
        let observer = PanelDiagnostics(users: log.summary.users, firstDay: log.summary.firstDay)
        r.observer = observer
        #expect(try r.run() == .finished)
        return (sink.records, observer.state)
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func tablesEqualTheBatchDefinitions(seed: UInt64) throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = RandomLog(seed: seed, users: 30, days: 20)
        let (records, state) = try replay(log, dir: dir)
        let panel = records.filter(\.isFinal)
        let active = panel.filter { $0.daily.activeDay == 1 }

        // naive_associations, by the notebook's summarize_naive_association.
        let naive = state.naiveAssociations
        var expectedRows = 0
        for (t, treatment) in PanelDiagnostics.treatments.enumerated() {
            for (o, outcome) in PanelDiagnostics.outcomes.enumerated() {
                let rows = active.compactMap { r -> (Int, Double)? in
                    let y = PanelDiagnostics.outcomeValues(r)[o]
                    return y.isNaN ? nil : (PanelDiagnostics.treatmentFlag(r, t), y)
                }
                let control = rows.filter { $0.0 == 0 }.map(\.1), treated = rows.filter { $0.0 == 1 }.map(\.1)
                guard !control.isEmpty, !treated.isEmpty else { continue }
                expectedRows += 1
                let row = try #require(naive.rows.first { $0[0] == .string(treatment) && $0[1] == .string(outcome) })
                let c = control.reduce(0, +) / Double(control.count), m = treated.reduce(0, +) / Double(treated.count)
                #expect(row[2] == .number(c) && row[3] == .number(m), "\(treatment) \(outcome)")
                #expect(row[6] == .count(control.count) && row[7] == .count(treated.count))
            }
        }
        #expect(naive.rows.count == expectedRows && expectedRows > 0, "seed \(seed)")

        // confounding_balance: two-pass means and ddof=1 variances.
        for (t, treatment) in PanelDiagnostics.treatments.enumerated() {
            for (c, covariate) in PanelDiagnostics.covariates.enumerated() {
                func stats(_ flag: Int) -> (mean: Double, variance: Double) {
                    let v = active.filter { PanelDiagnostics.treatmentFlag($0, t) == flag }.map {
                        PanelDiagnostics.covariateValues($0)[c]
                    }
                    let mean = v.reduce(0, +) / Double(v.count)
                    return (mean, v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count - 1))
                }
                let treated = stats(1), control = stats(0)
                let pooled = ((treated.variance + control.variance) / 2).squareRoot()
                let smd = (treated.mean - control.mean) / pooled
                let row = try #require(
                    state.confoundingBalance.rows.first { $0[0] == .string(treatment) && $0[1] == .string(covariate) })
                let got = try #require(row[4].doubleValue)
                #expect(abs(got - smd) <= 1e-9 * max(1, abs(smd)), "\(treatment) \(covariate): \(got) vs \(smd)")
            }
        }

        // daily_panel_summary and the readiness checks.
        let days = Set(panel.map(\.day)).sorted()
        #expect(state.dailyPanelSummary.rows.count == days.count)
        for (i, day) in days.enumerated() {
            let rows = panel.filter { $0.day == day }
            let next = rows.map { $0.lead(1, column: 0) }.filter { !$0.isNaN }
            let row = state.dailyPanelSummary.rows[i]
            #expect(row[0] == .string("\(day)"))
            #expect(row[1] == .number(Double(rows.filter { $0.daily.activeDay == 1 }.count) / Double(rows.count)))
            #expect(row[4] == .number(next.reduce(0, +) / Double(next.count)))
        }
        let readiness = state.readinessChecks
        let f3 = Double(panel.filter { !$0.future(3, column: 0).isNaN }.count) / Double(panel.count)
        #expect(readiness.rows[5][1] == .number(f3))
        #expect(readiness.rows[2][1] == .count(days.count))
        #expect(readiness.rows[0][1] == .count(log.summary.users.count))
    }

    /// The per-user sets spilled when a user's first stretch of rows ends give the tables the sets held in memory
    /// give: users whose rows come in one stretch, and users whose rows come again later (their spilled and held
    /// sets joined), with sets written as bit sets and as lists of video slots, over more than one read block.
    @Test func spilledUserSetsGiveTheTablesOfSetsHeldInMemory() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let seed = testSeed(default: 23)
        var random = SeededGenerator(seed: seed)
        var events: [(Interaction, CalendarDay?)] = []
        func stretch(user: Int32, rows: Int, dense: Bool) {
            for _ in 0..<rows {
                let video = Int32(dense ? random.next() % 640 : random.next() % 10_000)
                let day = random.next() % 9 == 0 ? nil : CalendarDay(rawValue: 18_000 + Int32(random.next() % 40))
                events.append((
                    Interaction(
                        timestampMs: 0, userID: user, videoID: video, playDurationMs: Int64(random.next() % 9_000),
                        videoDurationMs: 10_000, watchRatio: Double(random.next() % 300) / 100),
                    day))
            }
        }
        for user in Int32(0)..<4_000 { stretch(user: user, rows: user % 7 == 0 ? 2_000 : 100, dense: user % 7 == 0) }
        for user in stride(from: Int32(3), to: 4_000, by: 97) { stretch(user: user, rows: 150, dense: user % 2 == 0) }
        stretch(user: 9_999, rows: 5, dense: false)
        let spilling = InteractionDiagnosticsCollector(spillDirectory: dir)
        let holding = InteractionDiagnosticsCollector(restoring: InteractionRowTally())
        for (event, day) in events {
            spilling.tally(event, eventDate: day)
            holding.tally(event, eventDate: day)
        }
        let spill = dir.appendingPathComponent("user-sets.spill")
        try spilling.concludeFirstPass()
        try holding.concludeFirstPass()
        let spilled = try #require(spilling.repeatedMeasureTables)
        #expect(spilled == holding.repeatedMeasureTables, "seed \(seed)")
        #expect(spilled.map(\.name).contains("item_activity") && !FileManager.default.fileExists(atPath: spill.path))
    }

    /// The two engagement histograms, counted from the first pass's fine bins where a fine bin lies inside one of
    /// their bins and value by value elsewhere, are the histograms of every value: for values on and either side of
    /// every edge, repeats, a single value, capped ratios above 5, zeros, NaN and infinite ratios.
    @Test(arguments: [0, 1, 2, 3])
    func engagementHistogramsAreThoseOfEveryValue(shape: Int) throws {
        var random = SeededGenerator(seed: testSeed(default: 23) &+ UInt64(shape))
        var plays: [Int64] = []
        var ratios: [Double] = []
        switch shape {
        case 0:  // spread, with each play edge's millisecond and its neighbours
            plays = (0..<20_000).map { _ in Int64(random.next() % 9_001) }
            for i in 0...60 {
                let edge = Int64(i * 150)
                plays += [edge, edge + 1] + (edge > 0 ? [edge - 1] : [])
            }
            ratios = (0..<plays.count).map { _ in Double(random.next() % 700) / 100 }
        case 1:  // one value
            plays = [Int64](repeating: 4_321, count: 500)
            ratios = [Double](repeating: 0.75, count: 500)
        case 2:  // NaN and infinite ratios beside ordinary ones; long tails
            plays = (0..<10_000).map { _ in Int64(random.next() % 50) * Int64(random.next() % 50_000) }
            ratios = (0..<plays.count).map { i in
                i % 101 == 0 ? .nan : i % 211 == 0 ? .infinity : Double(random.next() % 1_000_000) / 99_991
            }
        default:  // ratios on the capped histogram's edges (5 / 60 apart) and either side of them
            plays = (0..<6_000).map { _ in Int64(random.next() % 3_000_000) }
            let edges = NumpyHistogram(bins: 60, min: 0, max: 5).edges
            ratios = (0..<plays.count).map { i in
                let e = edges[i % edges.count]
                return [e, e.nextUp, e.nextDown.magnitude, 5.5][Int(random.next() % 4)]
            }
        }
        let collector = InteractionDiagnosticsCollector(restoring: InteractionRowTally())
        let events = zip(plays, ratios).enumerated().map { i, pair in
            Interaction(
                timestampMs: Int64(i), userID: Int32(i % 7), videoID: Int32(i % 13), playDurationMs: pair.0,
                videoDurationMs: 10_000, watchRatio: pair.1)
        }
        for event in events { collector.tally(event, eventDate: CalendarDay(rawValue: 18_500)) }
        let diagnostics = try collector.finish(metadata: { nil }, keptRows: { events.withUnsafeBufferPointer($0) })
        func expected(_ values: [Double]) -> [Int] {
            let counted = values.filter { !$0.isNaN }
            var histogram = NumpyHistogram(bins: 60, min: counted.min() ?? .nan, max: counted.max() ?? .nan)
            for v in values { histogram.add(v) }
            return histogram.counts
        }
        func counts(_ name: String) throws -> [Int] {
            let table = try #require(diagnostics.tables.first { $0.name == name })
            return table.rows.map { row in
                guard case .int(let n) = row[2] else { return -1 }
                return Int(n)
            }
        }
        #expect(try counts("play_duration_histogram") == expected(plays.map { Double($0) / 1_000 }), "shape \(shape)")
        #expect(try counts("watch_ratio_histogram") == expected(ratios.map { min(max($0, 0), 5) }), "shape \(shape)")
    }

    /// The spill gives back every record as appended, in order, written over several appends of the file and read
    /// over several blocks: sets as bit sets and as lists of slots, empty date sets, no file. A file a killed run
    /// left at its path is written over, not appended to; a file cut inside a record is damaged, not read short;
    /// a folder that is gone is a `POSIXFileError` when the records are written.
    @Test func userSetSpillGivesBackItsRecordsInOrder() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let spill = UserSetSpill(url: dir.appendingPathComponent("sets.spill"))
        var none = 0
        try spill.forEachRecord { _, _, _ in none += 1 }
        #expect(none == 0, "no file: no record")
        try Data(repeating: 0x41, count: 4_096).write(to: spill.url)
        var random = SeededGenerator(seed: testSeed(default: 5))
        var written: [(Int, [UInt64], Set<Int32>)] = []
        for slot in 0..<6_000 {
            var bits = [UInt64](repeating: 0, count: Int(random.next() % 200) + 1)
            let dense = slot % 3 == 0
            for w in bits.indices where dense || random.next() % 20 == 0 { bits[w] = random.next() }
            bits[bits.count - 1] |= 1
            let dates = Set((0..<Int(random.next() % 70)).map { _ in Int32(random.next() % 400) - 200 })
            written.append((slot, bits, dates))
            spill.append(slot: slot, videoBits: bits, dates: dates)
            try spill.flushIfFull()
        }
        try spill.finishWriting()
        let bytes = try #require(FileManager.default.attributesOfItem(atPath: spill.url.path)[.size] as? Int)
        #expect(bytes > 3 * UserSetSpill.flushBytes, "written in several appends: \(bytes) bytes")
        var read: [(Int, [UInt64], Set<Int32>)] = []
        try spill.forEachRecord { slot, bits, dates in read.append((slot, bits, Set(dates))) }
        #expect(read.count == written.count)
        #expect(zip(read, written).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 && $0.2 == $1.2 })
        #expect(truncate(spill.url.path, off_t(bytes - 3)) == 0)
        #expect(throws: DamagedFileError.self) { try spill.forEachRecord { _, _, _ in } }
        spill.remove()
        #expect(!FileManager.default.fileExists(atPath: spill.url.path))
        let orphan = UserSetSpill(url: dir.appendingPathComponent("gone/sets.spill"))
        orphan.append(slot: 0, videoBits: [1], dates: [3])
        #expect(throws: POSIXFileError.self) { try orphan.finishWriting() }
    }

    @Test func resumedStateEqualsAnUninterruptedOne() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = RandomLog(seed: 9, users: 20, days: 15)
        let whole = try replay(log, dir: dir.appendingPathComponent("whole")).state
        let buckets = try log.buckets(in: dir.appendingPathComponent("parts"))
        let memory = MemoryState()
        var day = log.summary.firstDay!.adding(4)
        while true {
            let r = try Replayer(
                summary: log.summary, buckets: buckets, mode: .batch, timeZone: TimeZone(identifier: "UTC")!, sink: CollectingSink(), state: memory,
                resumeFrom: memory.last, logger: logger)
            r.observer = try PanelDiagnostics(
                users: log.summary.users, firstDay: log.summary.firstDay, restoringFrom: memory.last)
            if try r.run(until: day) == .finished { break }
            day = day.adding(4)
        }
        #expect(try DiagnosticsPayloads.decode(PanelDiagnosticsState.self, from: memory.last?.payloads[DiagnosticsPayloads.panel]) == whole)
    }
}
