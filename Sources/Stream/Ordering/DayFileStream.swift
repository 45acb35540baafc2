import Foundation

/// A day whose file is in its order of play (``DayEventOrder/user``) but for the videos within runs of events equal
/// in user and timestamp, as on a log sorted by user and each user's rows by time (KuaiRec's matrices: a user's
/// rows at the same millisecond are not in video order), read from its file a chunk at a time as it is played:
/// the replay holds a chunk, not the day (a day of KuaiRec's big matrix holds up to ~20 MB of events, four times
/// that with four times the users, and a day read ahead as much again). Each such run whose videos are not in
/// order (a few a day in a generated log, none in most) is read whole and put in order in the chunk.
///
/// It keeps no file open between reads (each ``read(_:into:)`` opens, reads and closes the file), so it owns
/// nothing that must be released.
struct DayFileStream: Sendable {
    /// The day file's path.
    let path: String
    /// Events in the file.
    let count: Int
    /// The runs of events equal in user and timestamp whose videos are not in order in the file, by position, in
    /// file order: each is ordered (by video, then file order) when it is read.
    let unorderedRuns: [Range<Int>]
    /// The entries of the file's side file (``DayFileRecords``): none unless some of its events escape their slots.
    let wide: [Interaction]

    init(path: String, count: Int, unorderedRuns: [Range<Int>] = [], wide: [Interaction] = []) {
        self.path = path
        self.count = count
        self.unorderedRuns = unorderedRuns
        self.wide = wide
    }

    /// The stream of the day file at `path` when its file order is `kind`'s order of play up to the videos within
    /// runs of equal user and timestamp (a missing file is a day without events); nil when it is not, and the day
    /// must be read whole and ordered. Reads the file once, a chunk at a time, through `scratch` (the caller's,
    /// kept from day to day: a buffer of its own each day would be a fresh 1 MiB mapping, its pages faulted in
    /// and zeroed every day).
    /// - Throws: ``POSIXFileError`` (open, read), ``DamagedFileError`` when the file is not a whole number of events.
    static func ifInOrder(file path: String, by kind: DayEventOrder, scratch: inout [Interaction]) throws -> DayFileStream? {
        guard kind == .user else { return nil }
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ENOENT { return DayFileStream(path: path, count: 0) }
            throw POSIXFileError(path: path, operation: "stat", code: errno)
        }
        struct OutOfOrder: Error {}
        var check = DayOrderCheck()
        do {
            try DayBuckets.forEachChunk(inFile: path, buffer: &scratch) { events in
                for e in events { check.note(e) }
                if !check.inOrder { throw OutOfOrder() }
            }
        } catch is OutOfOrder {
            return nil
        }
        return try check.stream(ofFile: path)
    }

    /// Prepares the day file at `path` for play by `kind`: its stream when its file order is that order (`events`
    /// and `order` emptied, their memory freed), else nil, with the day read whole into `events` and its order of
    /// play into `order` (``DayBuckets/events(inFile:by:into:order:)``). Whether the file is in order is what `known`
    /// says (``DayBuckets/knownOrder(of:)``: for user order, without reading the file), else what reading it says
    /// (``ifInOrder(file:by:scratch:)``, through the buffer `scratch`).
    /// - Throws: ``POSIXFileError`` (open, read), ``DamagedFileError`` when the file is not a whole number of events.
    static func streamOrRead(
        file path: String, by kind: DayEventOrder, known: KnownDayOrder = .unknown, events: inout [Interaction],
        order: inout [UInt64], scratch: inout [Interaction]
    ) throws -> DayFileStream? {
        let stream: DayFileStream?
        switch known {
        case .inOrder(let appended) where kind == .user: stream = appended
        case .notInOrder where kind == .user: stream = nil
        default: stream = try ifInOrder(file: path, by: kind, scratch: &scratch)
        }
        if let stream {
            events = []
            order = []
            return stream
        }
        try DayBuckets.events(inFile: path, by: kind, into: &events, order: &order)
        return nil
    }

    /// Reads the events at `positions` (in order of play) into `chunk`, after the events just before them back to
    /// the first that differs from the first of them in timestamp, user and video (what
    /// ``Interaction/isExactDuplicateOfEarlier(_:at:)`` looks back through, so that the chunk answers it as the whole
    /// day would). An unordered run the read starts or ends inside is read whole, and every unordered run read is
    /// put in order of play. Returns where in `chunk` the events at `positions` are; `chunk` grows when it is too
    /// short and never shrinks.
    /// - Throws: ``POSIXFileError`` (open, read), ``DamagedFileError`` when the file holds fewer events than it did.
    func read(_ positions: Range<Int>, into chunk: inout [Interaction]) throws -> Range<Int> {
        guard !positions.isEmpty else { return 0..<0 }
        var lookBack = 16
        while true {
            var start = max(0, positions.lowerBound - lookBack)
            var end = positions.upperBound
            if let run = unorderedRun(containing: start) { start = run.lowerBound }
            if let run = unorderedRun(containing: end - 1) { end = run.upperBound }
            let events = end - start
            if chunk.count < events {
                chunk.append(contentsOf: repeatElement(DayBuckets.zeroEvent, count: events - chunk.count))
            }
            try readEvents(start..<end, into: &chunk)
            order(runsWithin: start..<end, of: &chunk)
            let first = positions.lowerBound - start
            // Enough looked back once an event before the first differs from it, or the file's start is reached.
            var runStart = first
            while runStart > 0, chunk[runStart - 1].sharesReplayKey(with: chunk[first]) { runStart -= 1 }
            if runStart > 0 || start == 0 { return first..<(first + positions.count) }
            lookBack *= 4
        }
    }

    /// The unordered run holding the event at `position`, if any.
    private func unorderedRun(containing position: Int) -> Range<Int>? {
        let i = firstUnorderedRun(endingAfter: position)
        guard i < unorderedRuns.count, unorderedRuns[i].lowerBound <= position else { return nil }
        return unorderedRuns[i]
    }

    /// The index of the first unordered run that ends after `position` (the runs' count when none does): a binary
    /// search, the runs being disjoint and in order.
    private func firstUnorderedRun(endingAfter position: Int) -> Int {
        var (low, high) = (0, unorderedRuns.count)
        while low < high {
            let mid = (low + high) / 2
            if unorderedRuns[mid].upperBound <= position { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Puts each unordered run within `read` (the file positions whose events start `chunk`; a run is within it
    /// whole or not at all) in order of play: by video, then file order.
    private func order(runsWithin read: Range<Int>, of chunk: inout [Interaction]) {
        for run in unorderedRuns[firstUnorderedRun(endingAfter: read.lowerBound)...] {
            guard run.lowerBound < read.upperBound else { break }
            let slots = (run.lowerBound - read.lowerBound)..<(run.upperBound - read.lowerBound)
            let ordered = chunk[slots].enumerated().sorted {
                ($0.element.videoID, $0.offset) < ($1.element.videoID, $1.offset)
            }
            for (slot, event) in zip(slots, ordered) { chunk[slot] = event.element }
        }
    }

    /// Reads the events at `positions` of the file into the start of `chunk` (long enough): their slots, decoded
    /// in place.
    private func readEvents(_ positions: Range<Int>, into chunk: inout [Interaction]) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw POSIXFileError(path: path, operation: "open", code: errno) }
        defer { close(fd) }
        let size = positions.count * DayBuckets.recordSize
        let offset = positions.lowerBound * DayBuckets.recordSize
        try chunk.withUnsafeMutableBytes { raw in
            var done = 0
            while done < size {
                let n = pread(fd, raw.baseAddress! + done, size - done, off_t(offset + done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    if n == 0 {
                        throw DamagedFileError(
                            path: path, problem: "it ends at event \(positions.lowerBound + done / DayBuckets.recordSize), not \(count)")
                    }
                    throw POSIXFileError(path: path, operation: "read", code: errno)
                }
                done += n
            }
            var wide: [Interaction]? = self.wide
            try DayFileRecords.decodeInPlace(
                raw, count: positions.count, base: DayFileRecords.base(ofFile: path), path: path, wide: &wide)
        }
    }
}

/// What the appends that made a day's file say of its order of play by user (``DayBuckets/knownOrder(of:)``).
enum KnownDayOrder: Sendable {
    /// Not known: the file is read to find out (``DayFileStream/ifInOrder(file:by:scratch:)``).
    case unknown
    /// In user order up to the videos within runs of equal user and timestamp: the day's stream.
    case inOrder(DayFileStream)
    /// Not in user order: the day is read whole and ordered.
    case notInOrder
}

/// Follows a day's events in file order and says whether that order is the user order of play up to the videos
/// within runs of events equal in user and timestamp, and which of those runs are not in video order
/// (``DayFileStream``): the one rule by which ``DayFileStream/ifInOrder(file:by:scratch:)`` reads a day's file and
/// ``DayBuckets`` follows the appends that make it.
struct DayOrderCheck: Sendable {
    /// Events noted.
    private(set) var count = 0
    /// False once an event came before the one noted before it in user, then timestamp.
    private(set) var inOrder = true
    private var unordered: [Range<Int>] = []
    private var lastUser: Int32 = 0
    private var lastTimestamp: Int64 = 0
    private var lastVideo: Int32 = 0
    private var runStart = 0
    private var runUnordered = false

    /// Notes the next event in file order.
    @inline(__always)
    mutating func note(_ e: Interaction) {
        if count > 0 && inOrder {
            if lastUser != e.userID || lastTimestamp != e.timestampMs {
                // A new run: it must follow the last in user, then timestamp.
                if lastUser < e.userID || (lastUser == e.userID && lastTimestamp < e.timestampMs) {
                    if runUnordered { unordered.append(runStart..<count) }
                    (runStart, runUnordered) = (count, false)
                } else {
                    inOrder = false
                    unordered = []
                }
            } else if e.videoID < lastVideo {
                runUnordered = true
            }
        }
        (lastUser, lastTimestamp, lastVideo) = (e.userID, e.timestampMs, e.videoID)
        count += 1
    }

    /// The stream of the day file at `path`, whose events are the ones noted, when they are in order; nil otherwise.
    /// - Throws: ``POSIXFileError`` or ``DamagedFileError`` reading its side file.
    func stream(ofFile path: String) throws -> DayFileStream? {
        guard inOrder else { return nil }
        return DayFileStream(
            path: path, count: count, unorderedRuns: runUnordered ? unordered + [runStart..<count] : unordered,
            wide: try DayFileRecords.readWide(DayFileRecords.widePath(of: path)))
    }
}
