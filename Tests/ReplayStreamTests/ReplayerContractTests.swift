import Foundation
import Logging
import Testing
@testable import ReplayStream
import ReplayTestSupport

@Suite struct ReplayerContractTests {
    let logger = Logger(label: "test")

    func replay(
        _ log: RandomLog, mode: ThresholdsMode = .batch, dir: URL, readsAhead: Bool = false,
        readAheadBudget: Int = Replayer.defaultReadAheadBudget, daysReadAhead: ((Int) -> Void)? = nil,
        knowingOrder: Bool = false
    ) throws -> [UserDayRecord] {
        let sink = CollectingSink()
        let r = try Replayer(
            summary: log.summary, buckets: try log.buckets(in: dir, fresh: knowingOrder), mode: mode,
            timeZone: TimeZone(identifier: "UTC")!, sink: sink, state: MemoryState(),
            resumeFrom: nil, logger: logger)
        r.readsAhead = readsAhead
        r.readAheadBudget = readAheadBudget
        #expect(try r.run() == .finished)
        daysReadAhead?(r.daysReadAhead)
        return sink.records
    }

    /// A day whose buffers would pass the read-ahead budget is read when its turn comes: only the days that fit
    /// are read ahead, and the records are the same.
    @Test func onlyTheDaysThatFitTheBudgetAreReadAhead() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = RandomLog(seed: 8, users: 9, days: 12)
        var perDay: [CalendarDay: Int] = [:]
        for (day, _) in log.events { perDay[day, default: 0] += 1 }
        let sizes = perDay.values.sorted()
        let median = sizes[sizes.count / 2]
        let budget = median * Replayer.bufferedBytesPerEvent
        // Every day after the first is read ahead or not (a day without events has no file: 0 bytes fit).
        let first = log.summary.firstDay!, last = log.summary.lastDay!
        let later = (1...(last.rawValue - first.rawValue)).map { first.adding(Int($0)) }
        let fitting = later.filter { (perDay[$0] ?? 0) <= median }.count
        #expect(fitting > 0 && fitting < later.count)
        let plain = try replay(log, dir: dir.appendingPathComponent("plain"))
        var readAhead = -1
        let bounded = try replay(
            log, dir: dir.appendingPathComponent("bounded"), readsAhead: true, readAheadBudget: budget,
            daysReadAhead: { readAhead = $0 })
        #expect(readAhead == fitting)
        #expect(bounded.count == plain.count)
        #expect(zip(bounded, plain).filter { "\($0)" != "\($1)" }.isEmpty)
        var unbounded = -1
        _ = try replay(log, dir: dir.appendingPathComponent("unbounded"), readsAhead: true, daysReadAhead: { unbounded = $0 })
        #expect(unbounded == later.count)
    }

    /// Reading each next day ahead on a thread of its own changes nothing: the same records in the same order,
    /// whole, stopped at every day and resumed from its checkpoint (the day read ahead then dropped), and with
    /// a day without events (no file) in the middle.
    @Test(arguments: [5, 6] as [UInt64])
    func readingTheNextDayAheadGivesTheSameRecords(seed: UInt64) throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var log = RandomLog(seed: seed, users: 9, days: 12)
        let empty = log.summary.firstDay!.adding(5)
        log.events.removeAll { $0.0 == empty }
        let plain = try replay(log, dir: dir.appendingPathComponent("plain"))
        let ahead = try replay(log, dir: dir.appendingPathComponent("ahead"), readsAhead: true)
        #expect(ahead.count == plain.count)
        #expect(zip(ahead, plain).filter { "\($0)" != "\($1)" }.isEmpty)
        let buckets = try log.buckets(in: dir.appendingPathComponent("pieces"))
        var pieces: [UserDayRecord] = []
        var checkpoint: PanelCheckpoint?
        var day = log.summary.firstDay!
        while true {
            let sink = CollectingSink()
            let state = MemoryState()
            let r = try Replayer(
                summary: log.summary, buckets: buckets, mode: .batch, timeZone: TimeZone(identifier: "UTC")!, sink: sink,
                state: state, resumeFrom: checkpoint, logger: logger)
            r.readsAhead = true
            let outcome = try r.run(until: day)
            pieces += sink.records
            checkpoint = state.last
            if outcome == .finished { break }
            day = day.adding(1)
        }
        #expect(pieces.count == plain.count)
        #expect(zip(pieces, plain).filter { "\($0)" != "\($1)" }.isEmpty)
    }

    /// A log whose day files are in user order is streamed from them as it is played; one whose rows are not (each
    /// day's file shuffled here) is read whole and ordered. Both give the records of the other, read ahead or not,
    /// and whether the buckets know each day's order from its appends or read the file to find out.
    @Test func daysStreamedAndDaysReadWholeGiveTheSameRecords() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = RandomLog(seed: 14, users: 10, days: 9)
        var shuffled = log
        var random = SeededGenerator(seed: 3)
        shuffled.events.shuffle(using: &random)
        let streamed = try replay(log, dir: dir.appendingPathComponent("streamed"))
        for readsAhead in [false, true] {
            for knowingOrder in [false, true] {
                let runs = [
                    ("whole", try replay(
                        shuffled, dir: dir.appendingPathComponent("whole-\(readsAhead)-\(knowingOrder)"),
                        readsAhead: readsAhead, knowingOrder: knowingOrder)),
                    ("streamed", try replay(
                        log, dir: dir.appendingPathComponent("streamed-\(readsAhead)-\(knowingOrder)"),
                        readsAhead: readsAhead, knowingOrder: knowingOrder)),
                ]
                for (name, records) in runs {
                    #expect(records.count == streamed.count && records.count > 0)
                    let mismatches = zip(records, streamed).filter { "\($0)" != "\($1)" }.count
                    #expect(mismatches == 0, "\(name), reads ahead: \(readsAhead), order known: \(knowingOrder)")
                }
            }
        }
        let buckets = try shuffled.buckets(in: dir.appendingPathComponent("check"))
        let day = log.summary.firstDay!.adding(2)
        var scratch: [Interaction] = []  // one buffer through every check below, as the replayer keeps it
        #expect(try DayFileStream.ifInOrder(file: buckets.readableFile(of: day), by: .user, scratch: &scratch) == nil)
        #expect(try DayFileStream.ifInOrder(file: buckets.readableFile(of: day), by: .time, scratch: &scratch) == nil)
        let inOrder = try log.buckets(in: dir.appendingPathComponent("check-ordered"))
        let stream = try DayFileStream.ifInOrder(file: inOrder.readableFile(of: day), by: .user, scratch: &scratch)
        #expect(stream?.count == log.events.filter { $0.0 == day }.count)
        #expect(try DayFileStream.ifInOrder(file: inOrder.readableFile(of: day.adding(100)), by: .user, scratch: &scratch)?.count == 0)
    }

    /// A day file that cannot be read is the same error whether it was read ahead or not.
    @Test func aDamagedDayReadAheadIsTheSameError() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = RandomLog(seed: 7, users: 5, days: 6)
        let buckets = try log.buckets(in: dir)
        let damaged = buckets.fileURL(for: log.summary.firstDay!.adding(3)).path
        #expect(truncate(damaged, 17) == 0)
        for readsAhead in [false, true] {
            let r = try Replayer(
                summary: log.summary, buckets: buckets, mode: .batch, timeZone: TimeZone(identifier: "UTC")!,
                sink: CollectingSink(), state: nil, resumeFrom: nil, logger: logger)
            r.readsAhead = readsAhead
            #expect(throws: DamagedFileError.self, "reads ahead: \(readsAhead)") { try r.run() }
        }
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func streamingContractHolds(seed: UInt64) throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = RandomLog(seed: seed, users: 12, days: 20)
        let records = try replay(log, dir: dir)
        struct Key: Hashable { var user: Int32; var day: CalendarDay }
        var byKey: [Key: [UserDayRecord]] = [:]
        for r in records { byKey[Key(user: r.userID, day: r.day), default: []].append(r) }
        // The dense grid: every user × every day.
        let days = log.summary.firstDay!.distance(to: log.summary.lastDay!) + 1
        #expect(byKey.count == log.summary.users.count * days)
        for (_, revisions) in byKey {
            #expect(revisions.map(\.revision) == Array(0..<revisions.count))
            #expect(revisions.filter(\.isFinal).count == 1)
            #expect(revisions.last!.isFinal)
            let allNull = revisions[0].leads.allSatisfy { $0.isNaN }
            #expect(allNull)
            for r in revisions {
                #expect(r.lag1 == revisions[0].lag1 && r.prior3 == revisions[0].prior3)
                #expect(r.treatmentHighIntensity == revisions[0].treatmentHighIntensity)
                #expect(r.treatmentHighWatchExposure == revisions[0].treatmentHighWatchExposure)
                #expect(r.daily == revisions[0].daily)
            }
        }
        // All rev-0 records of day D come before any rev-0 record of day D+1.
        let rev0Days = records.filter { $0.revision == 0 }.map(\.day)
        #expect(rev0Days == rev0Days.sorted())
    }

    @Test func finalRecordsMatchTheDefinitions() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = RandomLog(seed: 9, users: 10, days: 16)
        let finals = try replay(log, dir: dir).filter(\.isFinal)
        let first = log.summary.firstDay!, last = log.summary.lastDay!
        var table: [Int32: [CalendarDay: (n: Int, play: Int64)]] = [:]
        for (d, e) in log.events {
            var v = table[e.userID, default: [:]][d] ?? (0, 0)
            v.n += 1
            v.play += e.playDurationMs
            table[e.userID, default: [:]][d] = v
        }
        var distribution = log.summary.distribution
        let thresholds = distribution.thresholds()
        for r in finals {
            let row = table[r.userID]?[r.day] ?? (0, 0)
            #expect(r.daily.interactions == row.n)
            #expect(r.treatmentHighIntensity == (row.n > 0 && Double(row.n) >= thresholds.highIntensity ? 1 : 0))
            // lag_1 and prior_3day of interactions, by definition.
            let lag = r.day > first ? (table[r.userID]?[r.day.adding(-1)]?.n ?? 0) : 0
            #expect(r.lag1[1] == Double(lag))
            var prior = 0
            for k in 1...3 where r.day.adding(-k) >= first { prior += table[r.userID]?[r.day.adding(-k)]?.n ?? 0 }
            #expect(r.prior3[1] == Double(prior))
            // Leads: known up to the last day, NaN after.
            for h in 1...7 {
                let day = r.day.adding(h)
                let lead = r.lead(h, column: 1)
                if day > last { #expect(lead.isNaN) } else { #expect(lead == Double(table[r.userID]?[day]?.n ?? 0)) }
            }
            if r.day.adding(7) > last { #expect(r.future(7, column: 1).isNaN) }
        }
    }

    @Test(arguments: [ThresholdsMode.batch, .expanding, .fixed(interactions: 5, highWatchShare: 0.4)])
    func resumingFromEveryCheckpointGivesTheSameRecords(mode: ThresholdsMode) throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = RandomLog(seed: 4, users: 8, days: 14)
        let buckets = try log.buckets(in: dir)
        let whole = CollectingSink()
        _ = try Replayer(summary: log.summary, buckets: buckets, mode: mode, timeZone: TimeZone(identifier: "UTC")!, sink: whole, state: nil, resumeFrom: nil, logger: logger).run()
        // Stop after every day in turn, resume from the checkpoint, and compare the concatenation.
        var day = log.summary.firstDay!
        var pieces: [UserDayRecord] = []
        var checkpoint: PanelCheckpoint?
        while true {
            let sink = CollectingSink()
            let state = MemoryState()
            let r = try Replayer(summary: log.summary, buckets: buckets, mode: mode, timeZone: TimeZone(identifier: "UTC")!, sink: sink, state: state, resumeFrom: checkpoint, logger: logger)
            let outcome = try r.run(until: day)
            pieces += sink.records
            checkpoint = state.last
            if outcome == .finished { break }
            #expect(outcome == .reachedUntil(day))
            day = day.adding(1)
        }
        // Records hold NaN leads, so compare their printed forms (NaN prints the same, unlike NaN == NaN).
        #expect(pieces.count == whole.records.count)
        let mismatches = zip(pieces, whole.records).filter { "\($0)" != "\($1)" }.count
        #expect(mismatches == 0)
    }

    /// `beforeFirstCheckpoint` (where an archive run whose diagnostics' second pass runs beside the replay records its ingest) runs once, before any
    /// checkpoint is committed, on every path that checkpoints: a run with checkpoints due every chunk, and a run
    /// stopped at once; when it throws, the replay stops with nothing committed.
    @Test func theHookBeforeTheFirstCheckpointRunsOnceAndFirst() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = RandomLog(seed: 4, users: 6, days: 9)
        let buckets = try log.buckets(in: dir)
        for stopAtOnce in [false, true] {
            let state = MemoryState()
            let r = try Replayer(
                summary: log.summary, buckets: buckets, mode: .batch, timeZone: TimeZone(identifier: "UTC")!,
                sink: CollectingSink(), state: state, resumeFrom: nil, checkpointPolicy: .events(10), logger: logger)
            r.chunkSize = 5
            var calls: [Int] = []
            r.beforeFirstCheckpoint = FirstCheckpointPrerequisite(record: { calls.append(state.commits) })
            let outcome = try r.run(shouldStop: { stopAtOnce })
            #expect(outcome == (stopAtOnce ? .interrupted : .finished))
            #expect(calls == [0], "called once, with no checkpoint committed before it (stop at once: \(stopAtOnce))")
            #expect(state.commits >= (stopAtOnce ? 1 : 3))
        }
        struct Refused: Error {}
        let state = MemoryState()
        let r = try Replayer(
            summary: log.summary, buckets: buckets, mode: .batch, timeZone: TimeZone(identifier: "UTC")!,
            sink: CollectingSink(), state: state, resumeFrom: nil, checkpointPolicy: .events(10), logger: logger)
        r.beforeFirstCheckpoint = FirstCheckpointPrerequisite(record: { throw Refused() })
        #expect(throws: Refused.self) { try r.run() }
        #expect(state.commits == 0)
    }

    /// A checkpoint due by wall time is put off while the prerequisite is not ready (the replay goes on, nothing
    /// is committed, `record` is not called), and taken at the first check after it is; one due by events waits
    /// for `record` where it falls. Either way `record` runs once, before the first commit, and the records are
    /// the same.
    @Test func aTimedCheckpointIsPutOffUntilThePrerequisiteIsReady() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = RandomLog(seed: 5, users: 6, days: 9)
        let buckets = try log.buckets(in: dir)
        let whole = CollectingSink()
        _ = try Replayer(
            summary: log.summary, buckets: buckets, mode: .batch, timeZone: TimeZone(identifier: "UTC")!,
            sink: whole, state: nil, resumeFrom: nil, logger: logger
        ).run()
        for policy in [CheckpointPolicy.seconds(1e-9), .events(10)] {
            let state = MemoryState()
            let sink = CollectingSink()
            let r = try Replayer(
                summary: log.summary, buckets: buckets, mode: .batch, timeZone: TimeZone(identifier: "UTC")!,
                sink: sink, state: state, resumeFrom: nil, checkpointPolicy: policy, logger: logger)
            r.chunkSize = 5
            var readinessChecks = 0
            var recordedAt: [(commits: Int, records: Int)] = []
            r.beforeFirstCheckpoint = FirstCheckpointPrerequisite(
                isReady: {
                    readinessChecks += 1
                    return readinessChecks > 6
                },
                record: { recordedAt.append((state.commits, sink.records.count)) })
            #expect(try r.run() == .finished)
            #expect(recordedAt.count == 1, "\(policy)")
            #expect(recordedAt.first?.commits == 0, "\(policy)")
            #expect(state.commits >= 2, "\(policy)")
            #expect(sink.records.map { "\($0)" } == whole.records.map { "\($0)" }, "\(policy)")
            if policy.isTimed {
                #expect(readinessChecks == 7, "asked at each check until ready, then no more")
                #expect((recordedAt.first?.records ?? 0) > 0, "the replay went on while the checkpoint was put off")
            } else {
                #expect(readinessChecks == 0, "a checkpoint due by events does not ask")
            }
        }
    }

    @Test func stoppingInsideADayAndResumingGivesTheSameRecords() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = RandomLog(seed: 6, users: 8, days: 12)
        let buckets = try log.buckets(in: dir)
        let whole = CollectingSink()
        _ = try Replayer(summary: log.summary, buckets: buckets, mode: .expanding, timeZone: TimeZone(identifier: "UTC")!, sink: whole, state: nil, resumeFrom: nil, logger: logger).run()
        // Stop after every 3rd check (chunks of 5 events), resume from the checkpoint each time.
        var pieces: [UserDayRecord] = []
        var checkpoint: PanelCheckpoint?
        var stops = 0
        for _ in 0..<10_000 {
            let sink = CollectingSink()
            let state = MemoryState()
            let r = try Replayer(summary: log.summary, buckets: buckets, mode: .expanding, timeZone: TimeZone(identifier: "UTC")!, sink: sink, state: state, resumeFrom: checkpoint, logger: logger)
            r.chunkSize = 5
            var checks = 0
            let outcome = try r.run(shouldStop: {
                checks += 1
                return checks % 3 == 0
            })
            pieces += sink.records
            checkpoint = state.last
            if outcome == .finished { break }
            #expect(outcome == .interrupted)
            if checkpoint!.progress.dayEventOffset > 0 { stops += 1 }
        }
        #expect(stops > 10)
        #expect(pieces.count == whole.records.count)
        let mismatches = zip(pieces, whole.records).filter { "\($0)" != "\($1)" }.count
        #expect(mismatches == 0)
    }

    /// A paced replay plays each day in time order and an unpaced one in user order (``DayEventOrder``): the same
    /// records. A run stopped inside a day records the order it began the day in, and a rerun paced the other way
    /// goes on in that order (its offset counts in it), so runs that alternate give the same records too.
    @Test func pacedAndUnpacedRunsAndTheirResumesGiveTheSameRecords() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = RandomLog(seed: 12, users: 9, days: 11)
        let buckets = try log.buckets(in: dir)
        let utc = TimeZone(identifier: "UTC")!
        func replayer(paced: Bool, sink: RecordSink, state: StateBackend?, from checkpoint: PanelCheckpoint?) throws -> Replayer {
            let r = try Replayer(
                summary: log.summary, buckets: buckets, mode: .expanding, timeZone: utc, sink: sink, state: state,
                resumeFrom: checkpoint, logger: logger)
            if paced { r.pacer = Pacer(speed: 1e9, clock: ManualClock(now: 0)) }
            return r
        }
        let unpaced = CollectingSink(), paced = CollectingSink()
        #expect(try replayer(paced: false, sink: unpaced, state: nil, from: nil).run() == .finished)
        #expect(try replayer(paced: true, sink: paced, state: nil, from: nil).run() == .finished)
        #expect(paced.records.count == unpaced.records.count && paced.records.count > 0)
        let pacedMismatches = zip(paced.records, unpaced.records).filter { "\($0)" != "\($1)" }.count
        #expect(pacedMismatches == 0, "paced against unpaced")
        // Stop at the 3rd check (chunks of 5 events; a paced run checks in its waits too) made inside a day, and
        // resume, paced and unpaced in turn.
        var pieces: [UserDayRecord] = []
        var checkpoint: PanelCheckpoint?
        var ordersStoppedIn: [DayEventOrder: Int] = [:]
        for run in 0..<10_000 {
            let sink = CollectingSink()
            let state = MemoryState()
            let r = try replayer(paced: run % 2 == 1, sink: sink, state: state, from: checkpoint)
            r.chunkSize = 5
            var checks = 0
            let outcome = try r.run(shouldStop: {
                guard r.progress.dayEventOffset > 0 else { return false }
                checks += 1
                return checks >= 3
            })
            pieces += sink.records
            checkpoint = state.last
            if outcome == .finished { break }
            #expect(outcome == .interrupted)
            if let p = checkpoint?.progress, p.dayEventOffset > 0 { ordersStoppedIn[p.dayEventOrder ?? .time, default: 0] += 1 }
        }
        #expect(ordersStoppedIn[.user, default: 0] > 3 && ordersStoppedIn[.time, default: 0] > 3, "\(ordersStoppedIn)")
        #expect(pieces.count == unpaced.records.count)
        let resumedMismatches = zip(pieces, unpaced.records).filter { "\($0)" != "\($1)" }.count
        #expect(resumedMismatches == 0, "resumed in turn against whole")
    }

    @Test func pacingFollowsEventTime() throws {
        let clock = ManualClock(now: 500)
        let pacer = Pacer(speed: 1000, clock: clock)
        // The first instant is the origin: no wait.
        #expect(pacer.wait(untilSimulatedMs: 1_000_000, shouldStop: { false }))
        #expect(clock.sleeps.isEmpty && clock.now() == 500)
        // 200 s simulated at 1000× is 0.2 s of the clock, slept in slices of at most 50 ms.
        #expect(pacer.wait(untilSimulatedMs: 1_200_000, shouldStop: { false }))
        #expect(abs(clock.now() - 500.2) < 1e-9, "\(clock.now())")
        #expect(clock.sleeps.count == 4 && clock.sleeps.allSatisfy { $0 > 0 && $0 <= Pacer.waitSlice }, "\(clock.sleeps)")
        // The past (a late-labelled event) and a row without a timestamp: no wait.
        #expect(pacer.wait(untilSimulatedMs: 1_100_000, shouldStop: { false }))
        #expect(pacer.wait(untilSimulatedMs: Interaction.missingTimestamp, shouldStop: { false }))
        #expect(clock.sleeps.count == 4)
        // Time the clock spent elsewhere counts: 0.35 s passed, so 300 s simulated are due at once.
        clock.advance(by: 0.35)
        #expect(pacer.wait(untilSimulatedMs: 1_500_000, shouldStop: { false }))
        #expect(clock.sleeps.count == 4)
        // A stop request ends the wait at the next slice: two slices slept, then false, the clock 0.1 s on.
        var checks = 0
        let before = clock.now()
        #expect(!pacer.wait(untilSimulatedMs: 9_000_000, shouldStop: { checks += 1; return checks > 2 }))
        #expect(checks == 3 && clock.sleeps.count == 6)
        #expect(abs(clock.now() - before - 2 * Pacer.waitSlice) < 1e-9)
        // A stop already requested: no sleep at all.
        #expect(!pacer.wait(untilSimulatedMs: 9_000_000, shouldStop: { true }))
        #expect(clock.sleeps.count == 6)
    }

    @Test func expandingThresholdsUseOnlyClosedDays() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = RandomLog(seed: 5, users: 10, days: 10)
        let records = try replay(log, mode: .expanding, dir: dir).filter { $0.revision == 0 }
        var distribution = ThresholdDistribution()
        var byDay: [CalendarDay: [UserDayRecord]] = [:]
        for r in records { byDay[r.day, default: []].append(r) }
        for day in byDay.keys.sorted() {
            for r in byDay[day]! where r.daily.activeDay == 1 {
                distribution.add(interactions: r.daily.interactions, highWatchCount: r.daily.highWatchCount)
            }
            let t = distribution.thresholds()
            for r in byDay[day]! {
                let active = r.daily.activeDay == 1
                #expect(r.treatmentHighIntensity == (active && Double(r.daily.interactions) >= t.highIntensity ? 1 : 0))
                #expect(r.treatmentHighWatchExposure == (active && r.daily.highWatchShare >= t.highWatchShare ? 1 : 0))
            }
        }
    }
}
