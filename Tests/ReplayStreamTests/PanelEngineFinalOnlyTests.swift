import Foundation
import Logging
import ReplayTestSupport
import Testing

@testable import ReplayStream

/// Under a sink that keeps final revisions only (`--emit final`), the engine counts the revisions between a
/// record's first and its final one without building them: the final records (values, revision numbers, order),
/// the progress counters and what the observer is shown are those of a run whose sink takes every revision.
struct PanelEngineFinalOnlyTests {
    static let first = CalendarDay(yyyymmdd: 20200705)!
    static let firstMs: Int64 = 1_593_907_200_000  // 2020-07-05 00:00 UTC

    /// Keeps the final revisions it is given, and says it takes no others.
    final class FinalOnlySink: RecordSink {
        var records: [UserDayRecord] = []
        func write(_ record: UserDayRecord) throws { if record.isFinal { records.append(record) } }
        func flush() throws -> Int64 { Int64(records.count) }
        var durability: any OutputDurability { NothingToSync() }
        var takesIntermediateRevisions: Bool { false }
    }

    /// Remembers the (user, day, revision, final) of every record it is shown.
    final class ShownRecords: PanelObserver {
        var shown: [String] = []
        func recordEmitted(_ record: UserDayRecord) {
            shown.append("\(record.userID) \(record.day) r\(record.revision) \(record.isFinal)")
        }
        var payloadName: String { "shown" }
        func checkpointPayload() throws -> [UInt8] { [] }
    }

    /// Plays a 12-day log of four users (one first seen on day 5, one active every third day) into `sink`.
    func play(into sink: RecordSink) throws -> (progress: ReplayProgress, shown: [String]) {
        let users: [Int32] = [3, 8, 21]
        let late: Int32 = 40
        let engine = try PanelEngine(
            users: users, firstDay: Self.first, mode: .expanding, batchDistribution: nil,
            timeZone: TimeZone(identifier: "UTC")!, sink: sink, state: nil, resumeFrom: nil,
            logger: Logger(label: "test"))
        let observer = ShownRecords()
        engine.observer = observer
        let days = 12
        for day in 0..<days {
            if day == 5 { try engine.addUser(late, closedThrough: Self.first.adding(4)) }
            let active = (day >= 5 ? users + [late] : users).enumerated().filter { k, _ in k != 2 || day % 3 == 0 }
            var events: [Interaction] = []
            for (k, user) in active {
                for n in 0..<((k + day) % 4 + 1) {
                    events.append(Interaction(
                        timestampMs: Self.firstMs + Int64(day) * 86_400_000 + Int64(n * 100 + k) * 60_000, userID: user,
                        videoID: Int32(n + day), playDurationMs: Int64(1000 + 7 * k + n), videoDurationMs: 2000,
                        watchRatio: 0.25 + Double(n) * 0.5))
                }
            }
            events.sort { ($0.timestampMs, $0.userID) < ($1.timestampMs, $1.userID) }
            engine.play(events, events.indices)
            try engine.close(Self.first.adding(day))
        }
        try engine.finish(through: Self.first.adding(days - 1))
        return (engine.progress, observer.shown)
    }

    @Test func finalOnlyRunsCountTheRevisionsTheyDoNotBuild() throws {
        let every = CollectingSink()
        let (everyProgress, everyShown) = try play(into: every)
        let finalOnly = FinalOnlySink()
        let (finalProgress, finalShown) = try play(into: finalOnly)

        let finals = every.records.filter(\.isFinal)
        #expect(finals.count == 4 * 12 && every.records.count > finals.count)
        #expect(finalOnly.records.count == finals.count)
        #expect(zip(finalOnly.records, finals).allSatisfy { $0.hasSameValues(as: $1) && $0.revision == $1.revision })
        #expect(finals.contains { $0.revision > 1 }, "some final records follow intermediate revisions")
        #expect(finalProgress == everyProgress)
        // The observer is shown every first and final revision, the intermediate ones only when they are built:
        // the first revisions in the same order, the finals in the same order (a final-only engine makes each
        // user's due revisions right after its close, so the two kinds interleave differently).
        let firstAndFinal = everyShown.filter { !$0.contains(" false") || $0.contains(" r0 ") }
        #expect(finalShown.sorted() == firstAndFinal.sorted() && everyShown.count > finalShown.count)
        let isFirst = { (shown: String) in shown.contains(" r0 ") }
        #expect(finalShown.filter(isFirst) == firstAndFinal.filter(isFirst))
        #expect(finalShown.filter { !isFirst($0) } == firstAndFinal.filter { !isFirst($0) })
        #expect(finalShown != firstAndFinal, "the two orders differ: this test sees the final-only engine's")
    }
}
