import Foundation

/// A day whose file order is its order of play (``DayEventOrder/user`` on a log sorted by user and each user's
/// rows by time, as KuaiRec's matrices are), read from its file a chunk at a time as it is played: the replay
/// holds a chunk, not the day (a day of KuaiRec's big matrix holds up to ~20 MB of events, four times that with
/// four times the users, and a day read ahead as much again).
///
/// It keeps no file open between reads (each ``read(_:into:)`` opens, reads and closes the file), so it owns
/// nothing that must be released.
struct DayFileStream: Sendable {
    /// The day file's path.
    let path: String
    /// Events in the file.
    let count: Int

    /// The stream of the day file at `path` when its file order is `kind`'s order of play (a missing file is a day
    /// without events); nil when it is not, and the day must be read whole and ordered. Reads the file once, a
    /// chunk at a time.
    /// - Throws: ``POSIXFileError`` (open, read), ``DamagedFileError`` when the file is not a whole number of events.
    static func ifInOrder(file path: String, by kind: DayEventOrder) throws -> DayFileStream? {
        guard kind == .user else { return nil }
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ENOENT { return DayFileStream(path: path, count: 0) }
            throw POSIXFileError(path: path, operation: "stat", code: errno)
        }
        struct OutOfOrder: Error {}
        var previous: Interaction?
        var count = 0
        var buffer: [Interaction] = []
        do {
            try DayBuckets.forEachEvent(inFile: path, buffer: &buffer) { e in
                if let p = previous, Interaction.userPrecedes(e, count, p, count - 1) { throw OutOfOrder() }
                previous = e
                count += 1
            }
        } catch is OutOfOrder {
            return nil
        }
        return DayFileStream(path: path, count: count)
    }

    /// Prepares the day file at `path` for play by `kind`: its stream when its file order is that order (`events`
    /// and `order` emptied, their memory freed), else nil, with the day read whole into `events` and its order of
    /// play into `order` (``DayBuckets/events(inFile:by:into:order:)``).
    /// - Throws: ``POSIXFileError`` (open, read), ``DamagedFileError`` when the file is not a whole number of events.
    static func streamOrRead(
        file path: String, by kind: DayEventOrder, events: inout [Interaction], order: inout [UInt64]
    ) throws -> DayFileStream? {
        if let stream = try ifInOrder(file: path, by: kind) {
            events = []
            order = []
            return stream
        }
        try DayBuckets.events(inFile: path, by: kind, into: &events, order: &order)
        return nil
    }

    /// Reads the events at `positions` into `chunk`, after the events just before them back to the first that
    /// differs from the first of them in timestamp, user and video (what ``Interaction/isExactDuplicateOfEarlier(_:at:)``
    /// looks back through, so that the chunk answers it as the whole day would). Returns where in `chunk` the
    /// events at `positions` are; `chunk` grows when it is too short and never shrinks.
    /// - Throws: ``POSIXFileError`` (open, read), ``DamagedFileError`` when the file holds fewer events than it did.
    func read(_ positions: Range<Int>, into chunk: inout [Interaction]) throws -> Range<Int> {
        guard !positions.isEmpty else { return 0..<0 }
        var lookBack = 16
        while true {
            let start = max(0, positions.lowerBound - lookBack)
            let events = positions.upperBound - start
            if chunk.count < events {
                chunk.append(contentsOf: repeatElement(DayBuckets.zeroEvent, count: events - chunk.count))
            }
            try readEvents(start..<positions.upperBound, into: &chunk)
            let first = positions.lowerBound - start
            // Enough looked back once an event before the first differs from it, or the file's start is reached.
            var runStart = first
            while runStart > 0, chunk[runStart - 1].sharesReplayKey(with: chunk[first]) { runStart -= 1 }
            if runStart > 0 || start == 0 { return first..<(first + positions.count) }
            lookBack *= 4
        }
    }

    /// Reads the events at `positions` of the file into the start of `chunk` (long enough).
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
        }
    }
}
