import Foundation
import Logging
import ReplayTestSupport
import Testing

@testable import ReplayStream

/// The engine finds each event's user through a dense array for small ids and a dictionary for the rest
/// (negative ids, ids past the dense array's limit, and a user added after days closed): the records are the
/// ones the same log gives with its ids renamed 1, 2, 3, ... in the same order.
struct PanelEngineUserIndexTests {
    static let first = CalendarDay(yyyymmdd: 20200705)!
    static let firstMs: Int64 = 1_593_907_200_000  // 2020-07-05 00:00 UTC
    /// Ids on both sides of the dense array's edges, ascending.
    static let ids: [Int32] = [.min, -5, 0, 3, 65_535, 65_536, 1_000_000, .max]
    /// Added after the first day closed: within the dense array's limit.
    static let lateID: Int32 = 70_000

    /// Records of a four-day log of `users` (with `late`, first seen on day 2), `user_id` replaced by its
    /// position in `users + [late]` plus one, sorted by user, day and revision.
    func records(users: [Int32], late: Int32) throws -> [UserDayRecord] {
        let sink = CollectingSink()
        let engine = try PanelEngine(
            users: users, firstDay: Self.first, mode: .expanding, batchDistribution: nil,
            timeZone: TimeZone(identifier: "UTC")!, sink: sink, state: nil, resumeFrom: nil,
            logger: Logger(label: "test"))
        for day in 0..<4 {
            if day == 2 { try engine.addUser(late, closedThrough: Self.first.adding(1)) }
            let active = day >= 2 ? users + [late] : users
            var events: [Interaction] = []
            for (k, user) in active.enumerated() {
                // Interleaved users, a different count per user and day.
                for n in 0..<((k + day) % 3 + 1) {
                    events.append(Interaction(
                        timestampMs: Self.firstMs + Int64(day) * 86_400_000 + Int64(n * 100 + k) * 60_000, userID: user,
                        videoID: Int32(n), playDurationMs: Int64(1000 + k), videoDurationMs: 2000, watchRatio: 0.5 + Double(n)))
                }
            }
            events.sort { ($0.timestampMs, $0.userID) < ($1.timestampMs, $1.userID) }
            engine.play(events, events.indices)
            try engine.close(Self.first.adding(day))
        }
        try engine.finish(through: Self.first.adding(3))
        let position = Dictionary(uniqueKeysWithValues: (users + [late]).enumerated().map { ($1, Int32($0 + 1)) })
        // Sorted by (user, day, revision): the late user's place in the emission order depends on its id.
        return sink.records.map { r in
            var renamed = r
            renamed.userID = position[r.userID]!
            return renamed
        }.sorted { ($0.userID, $0.day.rawValue, $0.revision) < ($1.userID, $1.day.rawValue, $1.revision) }
    }

    @Test func idsOnEitherSideOfTheDenseIndexGiveTheSameRecords() throws {
        let wide = try records(users: Self.ids, late: Self.lateID)
        let renamedIDs = (1...Self.ids.count).map { Int32($0) }
        let narrow = try records(users: renamedIDs, late: Int32(Self.ids.count + 1))
        #expect(wide.count == narrow.count && wide.count > 0)
        #expect(zip(wide, narrow).allSatisfy { $0.hasSameValues(as: $1) && $0.revision == $1.revision })
    }
}
