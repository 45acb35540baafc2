import Foundation
import Logging
import ReplayTestSupport
import Testing

@testable import ReplayStream

/// `PanelEngine.revise`: a late row folded into a closed day writes again exactly the records whose values
/// change, each with its next revision number, and leaves the panel the engine builds with the row in its
/// day from the start.
@Suite struct PanelEngineReviseTests {
    let logger = Logger(label: "test")
    static let first = CalendarDay(yyyymmdd: 20200705)!
    static let firstMs: Int64 = 1_593_907_200_000  // 2020-07-05 00:00 UTC

    /// `user`'s interaction at `hour` (UTC) of the day `offset` days after ``first``.
    static func event(user: Int32, day offset: Int, hour: Int64, video: Int32 = 1) -> Interaction {
        Interaction(
            timestampMs: firstMs + Int64(offset) * 86_400_000 + hour * 3_600_000, userID: user, videoID: video,
            playDurationMs: 1500, videoDurationMs: 2000, watchRatio: 0.75)
    }

    /// Four days: user 1 once a day at 10:00, user 2 twice on the second day.
    static let days: [[Interaction]] = [
        [event(user: 1, day: 0, hour: 10)],
        [event(user: 1, day: 1, hour: 10), event(user: 2, day: 1, hour: 8), event(user: 2, day: 1, hour: 9, video: 3)],
        [event(user: 1, day: 2, hour: 10)],
        [event(user: 1, day: 3, hour: 10)],
    ]
    /// A late row of user 1 on the second day.
    static let late = event(user: 1, day: 1, hour: 12, video: 2)
    static let lastClosed = first.adding(3)

    /// An engine for users 1 and 2 from ``first``, writing into a new sink.
    func makeEngine(_ mode: ThresholdsMode, reviseWindowDays: Int) throws -> (PanelEngine, CollectingSink) {
        let sink = CollectingSink()
        let engine = try PanelEngine(
            users: [1, 2], firstDay: Self.first, mode: mode, batchDistribution: nil,
            timeZone: TimeZone(identifier: "UTC")!, sink: sink, state: nil, resumeFrom: nil,
            reviseWindowDays: reviseWindowDays, logger: logger)
        return (engine, sink)
    }

    /// Plays and closes `days` in order from ``first``, each in replay order.
    func fold(_ engine: PanelEngine, _ days: [[Interaction]]) throws {
        for (k, events) in days.enumerated() {
            engine.play(Self.replayOrder(events), events.indices)
            try engine.close(Self.first.adding(k))
        }
    }

    static func replayOrder(_ events: [Interaction]) -> [Interaction] {
        events.sorted { ($0.timestampMs, $0.userID, $0.videoID) < ($1.timestampMs, $1.userID, $1.videoID) }
    }

    /// The last revision of every (user, day), as `user/day`.
    static func panel(_ records: [UserDayRecord]) -> [String: UserDayRecord] {
        var last: [String: UserDayRecord] = [:]
        for r in records { last["\(r.userID)/\(r.day)"] = r }
        return last
    }

    /// Expects `engine`'s records, after `finish`, to be the panel of `reference`'s, key by key.
    func expectSamePanel(_ revised: [UserDayRecord], _ reference: [UserDayRecord], sourceLocation: SourceLocation = #_sourceLocation) {
        let a = Self.panel(revised), b = Self.panel(reference)
        #expect(a.count == 8 && Set(a.keys) == Set(b.keys), "\(a.keys.sorted())", sourceLocation: sourceLocation)
        let differing = a.keys.filter { key in b[key].map { !a[key]!.hasSameValues(as: $0) } ?? true }.sorted()
        #expect(differing.isEmpty, "differ: \(differing)", sourceLocation: sourceLocation)
        #expect(a.values.allSatisfy { $0.isFinal }, sourceLocation: sourceLocation)
    }

    /// The records, after `finish`, of an engine that had ``late`` in its day from the start.
    func recordsWithTheLateRowFromTheStart(
        _ mode: ThresholdsMode, reviseWindowDays: Int, itemContext: ItemContextTable? = nil
    ) throws -> [UserDayRecord] {
        let (reference, referenceSink) = try makeEngine(mode, reviseWindowDays: reviseWindowDays)
        reference.itemContext = itemContext
        var withLate = Self.days
        withLate[1].append(Self.late)
        try fold(reference, withLate)
        try reference.finish(through: Self.lastClosed)
        return referenceSink.records
    }

    /// Each key's revisions numbered 0, 1, 2, ... in the order written.
    func expectConsecutiveRevisions(_ records: [UserDayRecord], sourceLocation: SourceLocation = #_sourceLocation) {
        var next: [String: Int] = [:]
        for r in records {
            let key = "\(r.userID)/\(r.day)"
            #expect(r.revision == next[key, default: 0], "\(key)", sourceLocation: sourceLocation)
            next[key] = r.revision + 1
        }
    }

    @Test func aLateRowRewritesItsDayTheLeadsBeforeAndTheLagsAfter() throws {
        let (engine, sink) = try makeEngine(.fixed(interactions: 2, highWatchShare: 0.9), reviseWindowDays: 3)
        try fold(engine, Self.days)
        let before = sink.records.count
        let events = Self.replayOrder([Self.days[1][0], Self.late])
        let revised = try engine.revise(
            user: 1, day: Self.first.adding(1), events: events, dropDuplicates: false, lastClosed: Self.lastClosed)
        #expect(revised)
        let written = Array(sink.records[before...])
        let d = Self.first
        // User 1's day 0 had revisions 0-2 (closed, then days 1 and 3 closed), day 1 0-1, day 2 0-1, day 3 0.
        #expect(
            written.map { "\($0.userID) \($0.day) r\($0.revision)" }
                == ["1 \(d) r3", "1 \(d.adding(1)) r2", "1 \(d.adding(2)) r2", "1 \(d.adding(3)) r1"])
        guard written.count == 4 else { return }
        #expect(written[0].lead(1, column: 1) == 2, "day 0's next-day interactions")
        #expect(written[1].daily.interactions == 2 && written[1].daily.uniqueVideos == 2)
        #expect(written[1].treatmentHighIntensity == 1, "2 interactions reach the fixed threshold")
        #expect(written[2].lag1[1] == 2 && written[2].prior3[1] == 3, "day 2: lag_1 and prior_3day interactions")
        #expect(written[3].lag1[1] == 1 && written[3].prior3[1] == 4, "day 3: lag_1 and prior_3day interactions")
        #expect(!written.contains { $0.isFinal })
        #expect(engine.progress.eventsReplayed == 6 + 1)

        // The panel is the one built with the row in its day from the start.
        try engine.finish(through: Self.lastClosed)
        let reference = try recordsWithTheLateRowFromTheStart(.fixed(interactions: 2, highWatchShare: 0.9), reviseWindowDays: 3)
        expectSamePanel(sink.records, reference)
        expectConsecutiveRevisions(sink.records)
    }

    /// With the item context joined, a revised day's context is the one of its videos with the late row's: the
    /// panel is the one built with the row in its day from the start, context columns included.
    @Test func aLateRowRevisesTheItemContextOfItsDay() throws {
        let day = Self.first.adding(1)
        // Videos 1 and 2 have rows on the second day (2 only: the late row's video), video 3 none.
        let table = ItemContextTable(
            daily: [(1, day, 100, 50), (2, day, 300, 30), (1, Self.first, 7, 1)], categories: [(1, "[5]"), (2, "[9]")])
        let mode = ThresholdsMode.fixed(interactions: 2, highWatchShare: 0.9)
        let (engine, sink) = try makeEngine(mode, reviseWindowDays: 3)
        engine.itemContext = table
        try fold(engine, Self.days)
        let events = Self.replayOrder([Self.days[1][0], Self.late])
        #expect(try engine.revise(user: 1, day: day, events: events, dropDuplicates: false, lastClosed: Self.lastClosed))
        let revisedDay = sink.records.last { $0.userID == 1 && $0.day == day }
        #expect(revisedDay?.daily.itemContext.itemFirstCategories == 2 && revisedDay?.daily.itemContext.itemDailyMatched == 2)
        #expect(revisedDay?.daily.itemContext.itemMeanShowCount == 200)

        try engine.finish(through: Self.lastClosed)
        expectSamePanel(sink.records, try recordsWithTheLateRowFromTheStart(mode, reviseWindowDays: 3, itemContext: table))
        #expect(Self.panel(sink.records)["1/\(Self.first)"]?.daily.itemContext.itemDailyMatched == 1, "day 0 keeps its own context")
    }

    /// Under expanding thresholds the revised user-day is part of every later day's distribution: other users'
    /// flags move with it, and their records are written again too.
    @Test func underExpandingThresholdsTheRevisionGivesTheFromTheStartPanel() throws {
        let (engine, sink) = try makeEngine(.expanding, reviseWindowDays: 7)
        try fold(engine, Self.days)
        let before = sink.records.count
        let events = Self.replayOrder([Self.days[1][0], Self.late])
        #expect(try engine.revise(user: 1, day: Self.first.adding(1), events: events, dropDuplicates: false, lastClosed: Self.lastClosed))
        let written = Array(sink.records[before...])
        #expect(written.filter { $0.userID == 1 }.count == 4)

        let (reference, referenceSink) = try makeEngine(.expanding, reviseWindowDays: 7)
        var withLate = Self.days
        withLate[1].append(Self.late)
        try fold(reference, withLate)
        #expect(engine.progress.expanding == reference.progress.expanding)
        #expect(engine.dayThresholds == reference.dayThresholds)
        // Every record written again differs from the key's revision before it.
        var last: [String: UserDayRecord] = Self.panel(Array(sink.records[..<before]))
        for r in written {
            let key = "\(r.userID)/\(r.day)"
            #expect(last[key].map { !r.hasSameValues(as: $0) } ?? false, "\(key) written again unchanged")
            last[key] = r
        }
        try engine.finish(through: Self.lastClosed)
        try reference.finish(through: Self.lastClosed)
        expectSamePanel(sink.records, referenceSink.records)
        expectConsecutiveRevisions(sink.records)
    }

    @Test func aRevisionThatChangesNoValueWritesNothing() throws {
        let (engine, sink) = try makeEngine(.fixed(interactions: 2, highWatchShare: 0.9), reviseWindowDays: 3)
        try fold(engine, Self.days)
        let before = sink.records.count
        // An exact duplicate of the day's row, dropped: the day's values stay as they were.
        let original = Self.days[1][0]
        #expect(
            try engine.revise(
                user: 1, day: Self.first.adding(1), events: [original, original], dropDuplicates: true,
                lastClosed: Self.lastClosed))
        #expect(sink.records.count == before)
        // Kept, it counts: the day and its neighbours are written again.
        #expect(
            try engine.revise(
                user: 1, day: Self.first.adding(1), events: [original, original], dropDuplicates: false,
                lastClosed: Self.lastClosed))
        #expect(sink.records[before...].map(\.userID) == [1, 1, 1, 1])
    }

    @Test func daysBeyondTheWindowUnknownUsersAndEnginesWithoutAWindowAreNotRevised() throws {
        let (engine, sink) = try makeEngine(.fixed(interactions: 2, highWatchShare: 0.9), reviseWindowDays: 3)
        try fold(engine, Self.days)
        let before = sink.records.count
        let late0 = Self.event(user: 1, day: 0, hour: 12)
        // A window of 3 closed days ending on day 3 reaches back to day 1, not day 0.
        #expect(
            !(try engine.revise(
                user: 1, day: Self.first, events: [Self.days[0][0], late0], dropDuplicates: false,
                lastClosed: Self.lastClosed)))
        #expect(
            !(try engine.revise(
                user: 99, day: Self.first.adding(2), events: [Self.event(user: 99, day: 2, hour: 1)],
                dropDuplicates: false, lastClosed: Self.lastClosed)))
        #expect(sink.records.count == before)

        let (plain, plainSink) = try makeEngine(.fixed(interactions: 2, highWatchShare: 0.9), reviseWindowDays: 0)
        try fold(plain, Self.days)
        let plainBefore = plainSink.records.count
        #expect(
            !(try plain.revise(
                user: 1, day: Self.lastClosed, events: [Self.days[3][0], Self.event(user: 1, day: 3, hour: 12)],
                dropDuplicates: false, lastClosed: Self.lastClosed)))
        #expect(plainSink.records.count == plainBefore)
    }
}
