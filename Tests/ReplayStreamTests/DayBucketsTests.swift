import Foundation
import ReplayTestSupport
import Testing

@testable import ReplayStream

/// The day buckets' reads: one user's events of a day come in the whole day's replay order.
struct DayBucketsTests {
    @Test func oneUsersEventsComeInTheWholeDaysOrder() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("buckets-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let buckets = try DayBuckets(directory: dir, bufferBudgetBytes: 4096)
        let day = CalendarDay(rawValue: 18_448)
        let seed = testSeed(default: 9)
        var random = SeededGenerator(seed: seed)
        var appended: [Interaction] = []
        for _ in 0..<5_000 {
            // Few distinct timestamps, users and videos: many ties, broken by file order.
            let e = Interaction(
                timestampMs: 1_593_900_000_000 + Int64(random.next() % 50), userID: Int32(random.next() % 7),
                videoID: Int32(random.next() % 5), playDurationMs: Int64(random.next() % 1000), videoDurationMs: 1000,
                watchRatio: Double(random.next() % 100) / 10)
            try buckets.append(e, day: day)
            appended.append(e)
        }
        try buckets.flush()
        let whole = try buckets.sortedEvents(for: day)
        let replayOrder = appended.enumerated().sorted {
            ($0.element.timestampMs, $0.element.userID, $0.element.videoID, $0.offset)
                < ($1.element.timestampMs, $1.element.userID, $1.element.videoID, $1.offset)
        }
        #expect(whole == replayOrder.map(\.element), "seed \(seed): timestamp, user, video, then file order")
        // In file order with the replay order beside it, into buffers left from a larger day.
        var inFileOrder = [Interaction](repeating: appended[0], count: 7_000)
        var order = [UInt64](repeating: 3, count: 9_000)
        try buckets.events(of: day, into: &inFileOrder, order: &order)
        #expect(inFileOrder == appended, "seed \(seed): the day in file order")
        #expect(order.map { inFileOrder[Int($0)] } == whole, "seed \(seed): the replay order")
        for user in Int32(0)..<8 {
            #expect(try buckets.sortedEvents(for: day, user: user) == whole.filter { $0.userID == user }, "seed \(seed): user \(user)")
        }
        #expect(try buckets.sortedEvents(for: day.adding(1), user: 0).isEmpty)
    }

    /// The key sort (timestamps within the key's room) and the comparison sort it falls back to (a row without a
    /// timestamp, or a span too wide) give the order of ``Interaction/replayPrecedes(_:_:_:_:)``.
    @Test(arguments: [
        (count: 20_000, span: Int64(86_400_000), missing: false),  // a day of millisecond timestamps: few ties
        (count: 3_000, span: Int64(3), missing: false),  // long runs of one timestamp
        (count: 3_000, span: Int64(86_400_000), missing: true),  // rows without a timestamp: the comparison sort
        (count: 3_000, span: Int64.max / 2, missing: false),  // a span wider than the key leaves room for
        (count: 1, span: Int64(10), missing: false),
    ])
    func replayOrderSortMatchesTheComparison(count: Int, span: Int64, missing: Bool) {
        let seed = testSeed(default: 17)
        var random = SeededGenerator(seed: seed)
        var events: [Interaction] = []
        for _ in 0..<count {
            let stamp = missing && random.next() % 5 == 0
                ? Interaction.missingTimestamp : -1_000 + Int64(random.next() % UInt64(span))
            events.append(Interaction(
                timestampMs: stamp, userID: Int32(random.next() % 9) - 4, videoID: Int32(random.next() % 6) - 3,
                playDurationMs: Int64(random.next() % 1000), videoDurationMs: 1000, watchRatio: 1))
        }
        let expected = events.enumerated().sorted { a, b in
            Interaction.replayPrecedes(a.element, a.offset, b.element, b.offset)
        }.map(\.element)
        var keys: [UInt64] = [7, 7, 7]
        var sorted = events
        ReplayOrderSort.sort(&sorted, keys: &keys)
        // Every column compared, so events equal in (timestamp, user, video) are told apart by their file order.
        let firstDifference = zip(sorted, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(sorted.count == expected.count && firstDifference == nil, "seed \(seed): first difference at \(firstDifference ?? -1)")
        // The order kept beside the events (left as they were), gathered a chunk at a time.
        var order: [UInt64] = [9]
        ReplayOrderSort.order(of: events, into: &order)
        #expect(order.count == count && order.map { events[Int($0)] } == expected, "seed \(seed): the order")
        for size in [1, 2, 7, 4096] {
            var chunk: [Interaction] = []
            let gathered = readInChunks(of: size, expected, seed: seed) { positions in
                ReplayOrderSort.gather(events, order: order, positions, into: &chunk)
            } chunk: { chunk }
            #expect(gathered == expected, "seed \(seed): gathered in chunks of \(size)")
        }
    }

    /// The user order (``DayEventOrder/user``) is (user, timestamp, video, file order), whichever way the file holds
    /// the day: in that order already (the order is left empty: the events are played in place), grouped by
    /// ascending user with some users' rows out of time order (those users' rows are ordered), or not grouped (the
    /// comparison sort). Each user's events come in the same order as in replay order, and events equal in
    /// timestamp, user and video are neighbours, so the duplicates rule answers as in replay order.
    @Test(arguments: ["sorted", "some users out of order", "not grouped"])
    func theUserOrderKeepsEachUsersReplayOrder(layout: String) {
        let seed = testSeed(default: 23)
        var random = SeededGenerator(seed: seed)
        var events: [Interaction] = []
        for _ in 0..<4_000 {
            let stamp = random.next() % 11 == 0 ? Interaction.missingTimestamp : 1_593_900_000_000 + Int64(random.next() % 40)
            events.append(Interaction(
                timestampMs: stamp, userID: Int32(random.next() % 13) - 2, videoID: Int32(random.next() % 4),
                playDurationMs: Int64(random.next() % 3), videoDurationMs: 1000, watchRatio: 1))
        }
        func userSorted(_ e: [Interaction]) -> [Interaction] {
            e.enumerated().sorted { Interaction.userPrecedes($0.element, $0.offset, $1.element, $1.offset) }.map(\.element)
        }
        switch layout {
        case "sorted": events = userSorted(events)
        case "some users out of order":
            // Grouped by ascending user, the rows of every third user reversed.
            events = userSorted(events)
            var start = 0
            while start < events.count {
                var end = start
                while end < events.count && events[end].userID == events[start].userID { end += 1 }
                if events[start].userID % 3 == 0 { events[start..<end].reverse() }
                start = end
            }
        default: break
        }
        let expected = userSorted(events)
        var order: [UInt64] = [5, 5]
        ReplayOrderSort.order(of: events, by: .user, into: &order)
        let played = order.isEmpty ? events : order.map { events[Int($0)] }
        #expect(order.isEmpty == (layout == "sorted"), "seed \(seed): the file order is kept only when it is the user order")
        #expect(played == expected, "seed \(seed): \(layout)")
        let replayOrder = events.enumerated().sorted {
            Interaction.replayPrecedes($0.element, $0.offset, $1.element, $1.offset)
        }.map(\.element)
        for user in Set(events.map(\.userID)) {
            #expect(played.filter { $0.userID == user } == replayOrder.filter { $0.userID == user }, "seed \(seed): user \(user)")
        }
        let duplicates = (0..<played.count).filter { Interaction.isExactDuplicateOfEarlier(played, at: $0) }.count
        let replayDuplicates = (0..<replayOrder.count).filter { Interaction.isExactDuplicateOfEarlier(replayOrder, at: $0) }.count
        #expect(duplicates == replayDuplicates && duplicates > 0, "seed \(seed): \(duplicates) duplicates")
    }

    /// A day streamed from its file (``DayFileStream``) a chunk at a time, in chunks of every size: each chunk holds
    /// the run of events equal in timestamp, user and video before its own, however long (runs of up to 91 here,
    /// longer than the first look back, each ending with an exact duplicate of its first event), so the duplicates
    /// rule answers in the chunk as in the whole day.
    @Test func aStreamedDayCarriesTheRunOfEqualEventsBeforeEachChunk() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("buckets-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let buckets = try DayBuckets(directory: dir)
        let day = CalendarDay(rawValue: 300)
        let seed = testSeed(default: 31)
        var random = SeededGenerator(seed: seed)
        var events: [Interaction] = []
        for user in Int32(0)..<6 {
            for stamp in Int64(0)..<8 {
                let run = Int(random.next() % 90) + 1
                for play in Int64(0)..<Int64(run) {
                    events.append(Interaction(
                        timestampMs: stamp, userID: user, videoID: 1, playDurationMs: play, videoDurationMs: 10, watchRatio: 1))
                }
                events.append(Interaction(
                    timestampMs: stamp, userID: user, videoID: 1, playDurationMs: 0, videoDurationMs: 10, watchRatio: 1))
            }
        }
        for e in events { try buckets.append(e, day: day) }
        try buckets.flush()
        var scratch: [Interaction] = []
        let stream = try #require(try DayFileStream.ifInOrder(file: buckets.readableFile(of: day), by: .user, scratch: &scratch))
        #expect(stream.count == events.count)
        for size in [1, 3, 17, 64, 4096] {
            var chunk: [Interaction] = []
            let read = try readInChunks(of: size, events, seed: seed) { positions in
                try stream.read(positions, into: &chunk)
            } chunk: { chunk }
            #expect(read == events, "seed \(seed): chunks of \(size)")
        }
    }

    /// A day in user order but for the videos within runs of equal user and timestamp (KuaiRec's files: a user's
    /// rows at the same millisecond come in no video order) is streamed: each run read is put in order of play,
    /// one that a chunk starts or ends inside is read whole, and the exact duplicates its order makes neighbours
    /// are found in the chunk as in the whole day. A day where a user's time goes back is not streamed.
    @Test func aDayUnorderedOnlyWithinRunsOfEqualUserAndTimeIsStreamedInOrderOfPlay() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("buckets-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let buckets = try DayBuckets(directory: dir)
        let day = CalendarDay(rawValue: 310)
        let seed = testSeed(default: 37)
        var random = SeededGenerator(seed: seed)
        var events: [Interaction] = []
        for user in Int32(0)..<8 {
            for stamp in Int64(0)..<10 {
                for _ in 0..<(Int(random.next() % 12) + 1) {
                    events.append(Interaction(
                        timestampMs: stamp, userID: user, videoID: Int32(random.next() % 5),
                        playDurationMs: Int64(random.next() % 2), videoDurationMs: 10, watchRatio: 1))
                }
            }
        }
        let expected = events.enumerated().sorted { Interaction.userPrecedes($0.element, $0.offset, $1.element, $1.offset) }
            .map(\.element)
        #expect(expected != events, "seed \(seed): some runs are out of video order")
        let duplicates = (0..<expected.count).filter { Interaction.isExactDuplicateOfEarlier(expected, at: $0) }.count
        #expect(duplicates > 0, "seed \(seed): exact duplicates apart in the file, neighbours in order of play")
        for e in events { try buckets.append(e, day: day) }
        let backwards = day.adding(1)
        for e in [events[0], events[events.count - 1], events[1]] { try buckets.append(e, day: backwards) }
        try buckets.flush()
        var scratch: [Interaction] = []
        let stream = try #require(try DayFileStream.ifInOrder(file: buckets.readableFile(of: day), by: .user, scratch: &scratch))
        #expect(stream.count == events.count && !stream.unorderedRuns.isEmpty)
        for size in [1, 2, 3, 5, 17, 4096] {
            var chunk: [Interaction] = []
            let read = try readInChunks(of: size, expected, seed: seed) { positions in
                try stream.read(positions, into: &chunk)
            } chunk: { chunk }
            #expect(read == expected, "seed \(seed): chunks of \(size)")
        }
        #expect(try DayFileStream.ifInOrder(file: buckets.readableFile(of: backwards), by: .user, scratch: &scratch) == nil)
    }

    /// What a day's appends say of its order (``DayBuckets/knownOrder(of:)``) is what reading its file says
    /// (``DayFileStream/ifInOrder(file:by:scratch:)``): days in user order, days out of video order within runs of
    /// equal user and time, and days not in order, appended interleaved over more days than there are write buffers.
    /// Nothing is known of a day whose file changed behind the buckets' back, of a day `--dedupe` rewrote, after
    /// `restore(counts:)`, or in a folder opened on files written before.
    @Test func theAppendsKnowEachDaysOrderAsReadingItsFileDoes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("buckets-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let buckets = try DayBuckets(directory: dir, bufferBudgetBytes: 64 * 40 * 16)
        try buckets.removeAll()
        let seed = testSeed(default: 43)
        var random = SeededGenerator(seed: seed)
        var perDay: [CalendarDay: [Interaction]] = [:]
        for d in 0..<(DayBuckets.maxBufferedDays + 6) {
            var events: [Interaction] = []
            for user in Int32(0)..<5 {
                for stamp in Int64(0)..<6 {
                    for _ in 0..<(Int(random.next() % 4) + 1) {
                        events.append(Interaction(
                            timestampMs: stamp, userID: user,
                            videoID: d % 3 == 1 ? Int32(random.next() % 5) : Int32(events.count),
                            playDurationMs: Int64(random.next() % 2), videoDurationMs: 10, watchRatio: 1))
                    }
                }
            }
            if d % 3 == 2 { events.swapAt(Int(random.next() % UInt64(events.count)), events.count - 1) }
            perDay[CalendarDay(rawValue: 400 + Int32(d))] = events
        }
        var next = perDay.mapValues { _ in 0 }
        let days = perDay.keys.sorted()
        while let day = days.filter({ next[$0]! < perDay[$0]!.count }).randomElement(using: &random) {
            let events = perDay[day]!
            let end = min(events.count, next[day]! + Int(random.next() % 20) + 1)
            // A stretch appended at once or event by event (the same files and the same known order).
            if random.next() % 2 == 0 {
                try events[next[day]!..<end].withUnsafeBufferPointer { try buckets.append(contentsOf: $0, day: day) }
            } else {
                for e in events[next[day]!..<end] { try buckets.append(e, day: day) }
            }
            next[day] = end
        }
        try buckets.flush()
        var scratch: [Interaction] = []
        var kinds = [0, 0, 0]
        for day in days {
            let read = try DayFileStream.ifInOrder(file: buckets.readableFile(of: day), by: .user, scratch: &scratch)
            switch try buckets.knownOrder(of: day) {
            case .inOrder(let known):
                #expect(
                    known.count == read?.count && known.unorderedRuns == read?.unorderedRuns, "seed \(seed): \(day)")
                kinds[known.unorderedRuns.isEmpty ? 0 : 1] += 1
            case .notInOrder:
                #expect(read == nil, "seed \(seed): \(day)")
                kinds[2] += 1
            case .unknown:
                Issue.record("seed \(seed): \(day)'s order is not known")
            }
        }
        #expect(kinds.allSatisfy { $0 > 0 }, "seed \(seed): \(kinds) days in order, unordered in runs, not in order")
        func known(_ day: CalendarDay) throws -> Bool {
            if case .unknown = try buckets.knownOrder(of: day) { return false }
            return true
        }
        // A file cut behind the buckets' back.
        let cut = days[0]
        #expect(truncate(buckets.fileURL(for: cut).path, off_t((perDay[cut]!.count - 1) * DayBuckets.recordSize)) == 0)
        #expect(try !known(cut) && known(days[1]))
        // `--dedupe` rewrites the days with duplicates, in time order.
        let duplicated = days[3]
        try buckets.append(perDay[duplicated]![0], day: duplicated)
        try buckets.flush()
        try buckets.restore(counts: buckets.eventCounts.merging([cut: perDay[cut]!.count - 1]) { $1 })
        #expect(try days.allSatisfy { try !known($0) })
        let reopened = try DayBuckets(directory: dir)
        #expect(try days.allSatisfy { day in
            if case .unknown = try reopened.knownOrder(of: day) { return true }
            return false
        })
        let fresh = try DayBuckets(directory: dir.appendingPathComponent("dedupe"))
        try fresh.removeAll()
        for day in days.prefix(6) { for e in perDay[day]! { try fresh.append(e, day: day) } }
        try fresh.append(perDay[duplicated]![0], day: duplicated)
        try fresh.flush()
        let rewritten = try days.prefix(6).filter { day in
            let ordered = try fresh.sortedEvents(for: day)
            return ordered.indices.contains { Interaction.isExactDuplicateOfEarlier(ordered, at: $0) }
        }
        #expect(rewritten.contains(duplicated) && rewritten.count < 6, "seed \(seed): \(rewritten)")
        #expect(try fresh.removeExactDuplicates { _, _ in } > 0)
        for day in days.prefix(6) {
            let isKnown: Bool
            if case .unknown = try fresh.knownOrder(of: day) { isKnown = false } else { isKnown = true }
            #expect(isKnown == !rewritten.contains(day), "seed \(seed): \(day)")
        }
    }

    /// A day with exact duplicates across every chunk boundary: the chunk holds the run of equal events before
    /// its own (a run of 6 equal events, chunks of 4: two carried into the second chunk).
    @Test func aChunkCarriesTheRunOfEqualEventsBeforeIt() {
        let same = Interaction(timestampMs: 5, userID: 1, videoID: 2, playDurationMs: 10, videoDurationMs: 10, watchRatio: 1)
        var other = same
        other.playDurationMs = 11
        let events = [other, same, same, other, same, same, Interaction(
            timestampMs: 6, userID: 1, videoID: 2, playDurationMs: 10, videoDurationMs: 10, watchRatio: 1)]
        var order: [UInt64] = []
        ReplayOrderSort.order(of: events, into: &order)
        var chunk: [Interaction] = []
        let first = ReplayOrderSort.gather(events, order: order, 0..<4, into: &chunk)
        #expect(first == 0..<4)
        let second = ReplayOrderSort.gather(events, order: order, 4..<7, into: &chunk)
        #expect(second == 4..<7, "the four events equal to the first of the chunk in timestamp, user and video come before it")
        #expect((4..<7).map { Interaction.isExactDuplicateOfEarlier(chunk, at: $0) } == [true, true, false])
        #expect(ReplayOrderSort.gather(events, order: order, 6..<6, into: &chunk) == 0..<0)
    }

    /// A file read a chunk at a time gives its events in file order, whether it fills several chunks or none,
    /// with the buffer left from a larger file; a file that ends inside an event is damaged, not cut short.
    @Test func anEventsFileIsReadWholeAChunkAtATime() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("buckets-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let buckets = try DayBuckets(directory: dir)
        let day = CalendarDay(rawValue: 200)
        let count = 2 * DayBuckets.eventChunkCount + 123
        var appended: [Interaction] = []
        for i in 0..<count {
            let e = Interaction(
                timestampMs: Int64(i), userID: Int32(i % 97), videoID: Int32(i % 13), playDurationMs: Int64(i % 1000),
                videoDurationMs: 1000, watchRatio: Double(i) / 7)
            try buckets.append(e, day: day)
            appended.append(e)
        }
        try buckets.append(appended[5], day: day.adding(1))
        try buckets.flush()
        var buffer: [Interaction] = []
        var read: [Interaction] = []
        try DayBuckets.forEachEvent(inFile: buckets.fileURL(for: day).path, buffer: &buffer) { read.append($0) }
        #expect(read == appended)
        read = []
        try DayBuckets.forEachEvent(inFile: buckets.fileURL(for: day.adding(1)).path, buffer: &buffer) { read.append($0) }
        #expect(read == [appended[5]])
        // Cut 17 bytes into its last event: damaged, after the whole events before it.
        let path = buckets.fileURL(for: day).path
        #expect(truncate(path, off_t(DayFileRecords.slotSize * 1000 + 17)) == 0)
        read = []
        #expect(throws: DamagedFileError.self) {
            try DayBuckets.forEachEvent(inFile: path, buffer: &buffer) { read.append($0) }
        }
        #expect(read == Array(appended[0..<1000]))
        #expect(throws: POSIXFileError.self) {
            try DayBuckets.forEachEvent(inFile: dir.appendingPathComponent("none").path, buffer: &buffer) { _ in }
        }
    }

    @Test func restoreCutsDaysBackToTheCheckpoint() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("buckets-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let buckets = try DayBuckets(directory: dir)
        let a = CalendarDay(rawValue: 100), b = CalendarDay(rawValue: 101)
        let e = Interaction(timestampMs: 1, userID: 1, videoID: 1, playDurationMs: 1, videoDurationMs: 1, watchRatio: 1)
        for _ in 0..<10 { try buckets.append(e, day: a) }
        for _ in 0..<3 { try buckets.append(e, day: b) }
        try buckets.flush()
        // The checkpoint knew 4 events of day a and nothing of day b.
        try buckets.restore(counts: [a: 4])
        #expect(try buckets.sortedEvents(for: a).count == 4)
        #expect(try buckets.sortedEvents(for: b).isEmpty)
        #expect(throws: DamagedFileError.self) { try buckets.restore(counts: [a: 9]) }
    }

    /// The sync started beside other work flushes first, and its error (a day file that cannot be opened) is
    /// thrown by the wait, not lost; the next sync starts clean.
    @Test func backgroundSyncFlushesAndReportsItsError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("buckets-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let buckets = try DayBuckets(directory: dir)
        defer { buckets.settleWrites() }
        let a = CalendarDay(rawValue: 100), b = CalendarDay(rawValue: 101)
        let e = Interaction(timestampMs: 1, userID: 1, videoID: 1, playDurationMs: 1, videoDurationMs: 1, watchRatio: 1)
        for _ in 0..<5 { try buckets.append(e, day: a) }
        try buckets.append(e, day: b)
        try buckets.flushAndStartSync()
        #expect(try buckets.sortedEvents(for: a).count == 5)  // flushed before the sync started
        try buckets.waitForSync()
        try FileManager.default.removeItem(at: buckets.fileURL(for: b))
        try buckets.flushAndStartSync()
        let error = #expect(throws: POSIXFileError.self) { try buckets.waitForSync() }
        #expect(error?.path == buckets.fileURL(for: b).path && error?.operation == "open")
        try buckets.waitForSync()  // thrown once: nothing is pending any more
        try buckets.restore(counts: [a: 5])
        try buckets.flushAndStartSync()
        try buckets.waitForSync()
    }

    /// Buffers written on the writer's queue reach each day's file in the order the events were appended, through
    /// many fills, the flush that a 65th day forces, and reuse of the writer's spare buffers.
    @Test func dayFilesKeepTheAppendOrderThroughTheWriter() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("buckets-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        // Four events a buffer: the writer gets a buffer every few appends.
        let buckets = try DayBuckets(directory: dir, bufferBudgetBytes: DayBuckets.maxBufferedDays * 40 * 4)
        #expect(buckets.bufferCapacity == 4)
        let seed = testSeed(default: 5)
        var random = SeededGenerator(seed: seed)
        var appended: [CalendarDay: [Interaction]] = [:]
        var i = 0
        while i < 20_000 {
            let day = CalendarDay(rawValue: 18_400 + Int32(random.next() % 70))
            // One event, or a stretch of 0-11 appended at once (across the 4-event buffers' ends).
            let stretch = random.next() % 2 == 0 ? 1 : Int(random.next() % 12)
            let events = (i..<(i + stretch)).map {
                Interaction(
                    timestampMs: Int64($0), userID: Int32(random.next() % 100), videoID: Int32($0), playDurationMs: 1,
                    videoDurationMs: 1, watchRatio: 1)
            }
            if stretch == 1 && random.next() % 2 == 0 {
                try buckets.append(events[0], day: day)
            } else {
                try events.withUnsafeBufferPointer { try buckets.append(contentsOf: $0, day: day) }
            }
            if !events.isEmpty { appended[day, default: []].append(contentsOf: events) }
            i += stretch
        }
        try buckets.flush()
        #expect(buckets.eventCounts == appended.mapValues(\.count), "seed \(seed)")
        var buffer: [Interaction] = []
        for (day, events) in appended {
            var stored: [Interaction] = []
            try DayBuckets.forEachEvent(inFile: buckets.fileURL(for: day).path, buffer: &buffer) { stored.append($0) }
            #expect(stored == events, "seed \(seed): day \(day.rawValue) in append order")
        }
    }

    /// A write that fails on the writer's queue is thrown by the next hand-over or the flush (the folder is gone,
    /// so the day file cannot be created), and a fresh start (`removeAll`) clears it.
    @Test func aFailedBackgroundWriteIsThrownByTheFlush() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("buckets-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let buckets = try DayBuckets(directory: dir, bufferBudgetBytes: DayBuckets.maxBufferedDays * 40 * 4)
        let e = Interaction(timestampMs: 1, userID: 1, videoID: 1, playDurationMs: 1, videoDurationMs: 1, watchRatio: 1)
        try FileManager.default.removeItem(at: dir)
        // The first buffer's write fails on the queue; the next hand-over or the flush throws it.
        #expect(throws: POSIXFileError.self) {
            for _ in 0..<8 { try buckets.append(e, day: CalendarDay(rawValue: 100)) }
            try buckets.flush()
        }
        try buckets.removeAll()
        for _ in 0..<8 { try buckets.append(e, day: CalendarDay(rawValue: 100)) }
        try buckets.flush()
        #expect(try buckets.sortedEvents(for: CalendarDay(rawValue: 100)).count == 8)
    }
}

/// Reads the `expected.count` events of a day a chunk of `size` positions at a time: `read` puts a chunk's events
/// into the buffer `chunk` returns and says where they are in it. Before them the buffer must hold the run of
/// events equal to the first in timestamp, user and video, so that the duplicates rule answers in the chunk as in
/// the whole day (checked for every event). Returns the events read, in order.
private func readInChunks(
    of size: Int, _ expected: [Interaction], seed: UInt64, _ read: (Range<Int>) throws -> Range<Int>,
    chunk: () -> [Interaction]
) rethrows -> [Interaction] {
    var all: [Interaction] = []
    var start = 0
    while start < expected.count {
        let positions = start..<min(expected.count, start + size)
        let range = try read(positions)
        let chunk = chunk()
        all += chunk[range]
        for (i, k) in zip(range, positions) {
            #expect(
                Interaction.isExactDuplicateOfEarlier(chunk, at: i) == Interaction.isExactDuplicateOfEarlier(expected, at: k),
                "seed \(seed): chunks of \(size), event \(k)")
        }
        start = positions.upperBound
    }
    return all
}
