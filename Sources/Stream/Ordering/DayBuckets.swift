import Foundation
import SystemPackage

/// The ordering step's spill: accepted events appended to one file per day, in file order.
///
/// Replay order is (day, timestamp, user, video, file order). Bucketing by day is a one-pass
/// external sort on the first key; a day is then small enough to sort in memory when it is
/// replayed. Memory during ingest is bounded by the write buffers (``bufferBudgetBytes``), not by
/// the log's length. The files hold one 28-byte slot per event (``DayFileRecords``: host byte order, an event that
/// does not fit a slot whole in the day's side file): they are a cache inside the state folder, never an exchange
/// format.
///
/// Memory: each day being written has one buffer of ``bufferCapacity`` events, allocated once at that
/// capacity (it never grows) and handed to a ``BucketFileWriter`` whenever it fills, which appends it to the
/// day's file on its own queue and gives it back for reuse; at most ``maxBufferedDays`` buffers exist (a new
/// day beyond them flushes and frees every buffer first), plus the writer's four (two in flight, two spare),
/// so the buffers never hold more than the budget and four more buffers. ``flush()`` waits for the writes and
/// frees them all, the writer's spares too; every method that reads, cuts or removes the files waits for the
/// writes first. Reading a day back holds that day's events and its 8-byte sort keys, both kept for the next
/// day (``sortedEvents(for:into:)``).
public final class DayBuckets {
    /// The folder holding `day-<n>.events` files.
    public let directory: URL
    /// Write buffers, one per day seen since the last ``flush()``, each of capacity ``bufferCapacity``;
    /// `bufferIndex` maps days to them.
    private var buffers: [[Interaction]] = []
    private var bufferDays: [CalendarDay] = []
    private var bufferIndex: [CalendarDay: Int] = [:]
    private var lastDay = CalendarDay(rawValue: .min)
    private var lastIndex = -1
    /// Writes full buffers to the day files off the appending thread.
    private var writer = BucketFileWriter()
    /// The fsyncs ``flushAndStartSync()`` started, until ``waitForSync()``.
    private var pendingSync: BackgroundTask<Void, POSIXFileError>?
    /// The bytes all write buffers may take together.
    public let bufferBudgetBytes: Int
    /// Events one day's write buffer holds before it is written to the day's file.
    public let bufferCapacity: Int
    /// Days that have at least one event, with their event counts.
    public private(set) var eventCounts: [CalendarDay: Int] = [:]
    /// Each day's order as the appends since ``removeAll()`` made its file (``DayOrderCheck``), by the day's index in
    /// ``orderIndex``, so that a replay knows whether to stream a day without reading its file once more to find out
    /// (~3% of a whole big `--format csv --emit final` run's samples); the day being appended to has its check in
    /// ``currentOrder`` (its slot here is empty meanwhile). Nothing is known (``knowsOrder`` false) in a folder opened
    /// on files written before, or after ``restore(counts:)``; a day ``removeExactDuplicates(_:)`` rewrites, or
    /// ``deleteFile(of:)`` deletes, is dropped.
    private var orders: [DayOrderCheck] = []
    private var orderIndex: [CalendarDay: Int] = [:]
    private var currentOrder = DayOrderCheck()
    /// The index of ``currentOrder``'s day in ``orders`` (-1: none).
    private var currentOrderIndex = -1
    /// True from ``removeAll()`` on: every day file is made by the appends since.
    private var knowsOrder = false

    /// Bytes of one event in a day file (``DayFileRecords/slotSize``); an event in memory takes 40.
    static let recordSize = DayFileRecords.slotSize
    /// Write buffers that may exist at once: a log spans 63 days, a live feed a few open days.
    public static let maxBufferedDays = 64

    /// Opens (creating) a bucket folder whose write buffers take at most `bufferBudgetBytes` together.
    public init(directory: URL, bufferBudgetBytes: Int = 32 << 20) throws {
        precondition(MemoryLayout<Interaction>.stride == 40, "Interaction must stay 40 bytes with no padding")
        self.directory = directory
        self.bufferBudgetBytes = bufferBudgetBytes
        bufferCapacity = max(1, bufferBudgetBytes / MemoryLayout<Interaction>.stride / DayBuckets.maxBufferedDays)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Removes every bucket file (a fresh ingest).
    public func removeAll() throws {
        settleWrites()
        writer = BucketFileWriter()
        buffers.removeAll()
        bufferDays.removeAll()
        bufferIndex.removeAll()
        lastIndex = -1
        lastDay = CalendarDay(rawValue: .min)
        eventCounts.removeAll()
        forgetOrders()
        knowsOrder = true
        if FileManager.default.fileExists(atPath: directory.path) {
            try FileManager.default.removeItem(at: directory)
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Buffers one event for `day`.
    @inline(__always)
    public func append(_ event: Interaction, day: CalendarDay) throws {
        if day != lastDay || lastIndex < 0 { try selectBuffer(of: day) }
        if knowsOrder { currentOrder.note(event) }
        buffers[lastIndex].append(event)
        if buffers[lastIndex].count == bufferCapacity { try handOverFullBuffer() }
    }

    /// Buffers `events`, all of `day`, in order: the same as appending them one by one, with one append to the
    /// day's buffer for each stretch that fits in it (the ingest's fold hands over a day's stretch of rows at once,
    /// where an append per row checks the buffer's uniqueness, a call, every time). Nothing when `events` is empty.
    public func append(contentsOf events: UnsafeBufferPointer<Interaction>, day: CalendarDay) throws {
        guard !events.isEmpty else { return }
        if day != lastDay || lastIndex < 0 { try selectBuffer(of: day) }
        var start = 0
        while start < events.count {
            let end = Swift.min(events.count, start + bufferCapacity - buffers[lastIndex].count)
            let stretch = UnsafeBufferPointer(rebasing: events[start..<end])
            if knowsOrder { for event in stretch { currentOrder.note(event) } }
            buffers[lastIndex].append(contentsOf: stretch)
            if buffers[lastIndex].count == bufferCapacity { try handOverFullBuffer() }
            start = end
        }
    }

    /// Makes `day`'s buffer the one appended to (a new one when the day has none; the buffers are flushed first
    /// when as many days as ``maxBufferedDays`` have one).
    private func selectBuffer(of day: CalendarDay) throws {
        if let i = bufferIndex[day] {
            lastIndex = i
        } else {
            if buffers.count == DayBuckets.maxBufferedDays { try flush() }
            lastIndex = buffers.count
            bufferIndex[day] = lastIndex
            var buffer: [Interaction] = []
            buffer.reserveCapacity(bufferCapacity)
            buffers.append(buffer)
            bufferDays.append(day)
        }
        lastDay = day
        if knowsOrder { followOrder(of: day) }
    }

    /// Hands the full buffer appended to to the writer, and readies the one the writer gave back.
    private func handOverFullBuffer() throws {
        try write(lastIndex)
        buffers[lastIndex].reserveCapacity(bufferCapacity)
    }

    /// Makes `day`'s check ``currentOrder`` (the last day's put back in ``orders``).
    private func followOrder(of day: CalendarDay) {
        if currentOrderIndex >= 0 { swap(&currentOrder, &orders[currentOrderIndex]) }
        if let i = orderIndex[day] {
            currentOrderIndex = i
        } else {
            currentOrderIndex = orders.count
            orderIndex[day] = currentOrderIndex
            orders.append(DayOrderCheck())
        }
        swap(&currentOrder, &orders[currentOrderIndex])
    }

    /// Puts ``currentOrder`` back in ``orders`` (before they are read or changed).
    private func storeCurrentOrder() {
        guard currentOrderIndex >= 0 else { return }
        swap(&currentOrder, &orders[currentOrderIndex])
        currentOrderIndex = -1
        lastDay = CalendarDay(rawValue: .min)
    }

    /// Drops `day`'s check: its file is no longer made by the appends alone.
    private func forgetOrder(of day: CalendarDay) {
        storeCurrentOrder()
        guard let i = orderIndex.removeValue(forKey: day) else { return }
        orders[i] = DayOrderCheck()
    }

    /// Drops every day's check.
    private func forgetOrders() {
        orders.removeAll()
        orderIndex.removeAll()
        currentOrder = DayOrderCheck()
        currentOrderIndex = -1
        knowsOrder = false
    }

    /// What the appends that made `day`'s file say of its order of play by user (``DayOrderCheck``): the day's stream
    /// when the file is in that order, `.notInOrder` when it is not, `.unknown` when its file was not made by the
    /// appends since ``removeAll()`` alone (or holds another number of events than they did). Waits for the writes
    /// queued for the day.
    /// - Throws: the error of a write that failed; ``POSIXFileError`` or ``DamagedFileError`` reading the side file.
    func knownOrder(of day: CalendarDay) throws -> KnownDayOrder {
        let path = try readableFile(of: day)
        storeCurrentOrder()
        guard knowsOrder, let i = orderIndex[day], orders[i].count == DayBuckets.storedEvents(inFile: path) else {
            return .unknown
        }
        return try orders[i].stream(ofFile: path).map { .inOrder($0) } ?? .notInOrder
    }

    /// Hands buffer `i` to the writer, to be appended to its day's file, and puts an empty one in its place (a
    /// spare of the writer's, or one without capacity).
    /// - Throws: the error of an earlier write that failed.
    private func write(_ i: Int) throws {
        guard !buffers[i].isEmpty else { return }
        let day = bufferDays[i]
        let count = buffers[i].count
        try writer.send(&buffers[i], to: fileURL(for: day).path)
        eventCounts[day, default: 0] += count
    }

    /// Writes every buffered event to its day's file, frees the write buffers and waits for the writes.
    /// - Throws: the first write error.
    public func flush() throws {
        for i in buffers.indices { try write(i) }
        buffers.removeAll()
        bufferDays.removeAll(keepingCapacity: true)
        bufferIndex.removeAll(keepingCapacity: true)
        lastIndex = -1
        try writer.waitForWrites()
        writer.releaseSpares()
    }

    /// Waits for the writes in flight and a sync started by ``flushAndStartSync()``, ignoring their errors: an
    /// owner calls it on its way out (a failed run included), so that no write is still appending to a day file,
    /// and no sync still opening them, when the owner returns.
    public func settleWrites() {
        writer.settle()
        settleSync()
    }

    /// Flushes and makes the files durable (fsync), so an ingest marked complete survives a crash.
    public func flushAndSync() throws {
        try flush()
        settleSync()
        try Self.syncFiles(dayFilePaths())
    }

    /// Flushes, then makes every day file durable (fsync) on a thread of its own, so that the owner may read
    /// the files meanwhile: the archive ingest's diagnostics read every bucket again while the disk writes
    /// them (~0.2 s for KuaiRec's small matrix, the time of that pass). The files are durable only once
    /// ``waitForSync()`` returns: an owner records a complete ingest after it.
    public func flushAndStartSync() throws {
        try flush()
        settleSync()
        let paths = dayFilePaths()
        pendingSync = BackgroundTask(name: "replay.bucket-sync") { () throws(POSIXFileError) in try Self.syncFiles(paths) }
    }

    /// True when ``waitForSync()`` would return at once: no sync in flight, or the one
    /// ``flushAndStartSync()`` started has ended (well or not).
    public var syncHasEnded: Bool { pendingSync?.hasEnded ?? true }

    /// Waits for the sync ``flushAndStartSync()`` started (none: returns at once).
    /// - Throws: its first error (a day file that could not be opened or synced).
    public func waitForSync() throws {
        guard let sync = pendingSync else { return }
        pendingSync = nil
        try sync.wait().get()
    }

    /// Waits for a sync in flight, ignoring its error (before the files are removed or cut back).
    private func settleSync() { try? waitForSync() }

    /// The files of the days with events.
    private func dayFilePaths() -> [String] { eventCounts.keys.sorted().map { fileURL(for: $0).path } }

    /// fsyncs each day file at `paths` and its side file (``DayFileRecords/widePath(of:)``) when it has one, on the
    /// calling thread.
    static func syncFiles(_ paths: [String]) throws(POSIXFileError) {
        for path in paths {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw POSIXFileError(path: path, operation: "open", code: errno) }
            defer { close(fd) }
            try FileDescriptor(rawValue: fd).sync(path: path)
            try DayFileRecords.syncSideFile(of: path)
        }
    }

    /// Stops tracking one day (a live feed no longer needs a closed day): later syncs skip it. Its file stays
    /// until ``deleteFile(of:)``, as a checkpoint already committed may still list it. Buffered events must
    /// have been flushed.
    public func retireDay(_ day: CalendarDay) {
        eventCounts.removeValue(forKey: day)
    }

    /// Deletes a retired day's file and its side file, once no committed checkpoint lists it.
    public func deleteFile(of day: CalendarDay) throws {
        forgetOrder(of: day)
        let path = fileURL(for: day).path
        for file in [path, DayFileRecords.widePath(of: path)] where unlink(file) != 0 && errno != ENOENT {
            throw POSIXFileError(path: file, operation: "unlink", code: errno)
        }
    }

    /// Brings the folder back to a checkpoint's contents: each day in `counts` cut back to that many
    /// events (events appended after the checkpoint are dropped; entries of its side file no slot refers to any
    /// more are never read), every other day file and side file removed.
    /// - Throws: when a file holds fewer events than the checkpoint promised (the folder is damaged).
    public func restore(counts: [CalendarDay: Int]) throws {
        settleWrites()
        forgetOrders()
        writer = BucketFileWriter()
        buffers.removeAll()
        bufferDays.removeAll()
        bufferIndex.removeAll()
        lastIndex = -1
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in names where name.hasPrefix("day-") && (name.hasSuffix(".events") || name.hasSuffix(".wide")) {
            let number = name.dropFirst(4).dropLast(name.hasSuffix(".wide") ? 5 : 7)
            guard let raw = Int32(number), counts[CalendarDay(rawValue: raw)] != nil else {
                try FileManager.default.removeItem(at: directory.appendingPathComponent(name))
                continue
            }
        }
        for (day, count) in counts {
            let path = fileURL(for: day).path
            let size = DayBuckets.fileBytes(path)
            let wanted = count * DayBuckets.recordSize
            guard size >= wanted else {
                throw DamagedFileError(
                    path: path, problem: "it holds \(size / DayBuckets.recordSize) events, the checkpoint \(count)")
            }
            if size > wanted, truncate(path, off_t(wanted)) != 0 {
                throw POSIXFileError(path: path, operation: "truncate", code: errno)
            }
        }
        eventCounts = counts.filter { $0.value > 0 }
    }

    /// The file of one day's events.
    public func fileURL(for day: CalendarDay) -> URL {
        directory.appendingPathComponent("day-\(day.rawValue).events")
    }

    /// Reads one day's events in replay order (timestamp, user, video, file order).
    /// A day without a file has no events.
    ///
    /// Memory: the day's events (read into the array returned, then permuted in place) and their 8-byte
    /// sort keys, kept for the next day (see ``sortedEvents(for:into:)``).
    public func sortedEvents(for day: CalendarDay) throws -> [Interaction] {
        var events: [Interaction] = []
        try sortedEvents(for: day, into: &events)
        return events
    }

    /// Reads one day's events in replay order into `events`, replacing what it held; a driver that plays
    /// day after day passes the same array each time, so that its buffer (~8 MB a day of KuaiRec's big
    /// matrix) is allocated once, not mapped and faulted in again every day (`run`'s 128 KiB mmap
    /// threshold). The keys that sort it are kept here for the same reason.
    public func sortedEvents(for day: CalendarDay, into events: inout [Interaction]) throws {
        try readEvents(of: day, into: &events)
        ReplayOrderSort.sort(&events, keys: &sortKeys)
    }

    /// Reads one day's events in file order into `events` and their order of play, `kind`, into `order`
    /// (``ReplayOrderSort/order(of:by:into:)``: `order[i]` is the position in `events` of the i-th event played;
    /// empty when the file order is that order), each buffer reused across days when large enough. A player
    /// gathers the events along `order` a chunk at a time (``ReplayOrderSort/gather(_:order:_:into:)``) instead of
    /// moving them in place.
    public func events(
        of day: CalendarDay, by kind: DayEventOrder = .time, into events: inout [Interaction], order: inout [UInt64]
    ) throws {
        try Self.events(inFile: try readableFile(of: day), by: kind, into: &events, order: &order)
    }

    /// ``events(of:by:into:order:)`` of the day file at `path` (none: no events), for a reader on another
    /// thread: it touches nothing of a ``DayBuckets`` (``readableFile(of:)`` gives the path).
    public static func events(
        inFile path: String, by kind: DayEventOrder, into events: inout [Interaction], order: inout [UInt64]
    ) throws {
        try readFile(path, into: &events)
        ReplayOrderSort.order(of: events, by: kind, into: &order)
    }

    /// The path of `day`'s file once every write queued for it is done (the file may not exist: no events).
    /// - Throws: the error of a write that failed.
    public func readableFile(of day: CalendarDay) throws -> String {
        try writer.waitForWrites()
        return fileURL(for: day).path
    }

    /// The events the day file at `path` holds (its size over the record's; 0 when there is no file).
    public static func storedEvents(inFile path: String) -> Int { fileBytes(path) / recordSize }

    /// The size of the file at `path` in bytes, 0 when there is none (or it cannot be read).
    static func fileBytes(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
    }

    /// Scratch of ``sortedEvents(for:into:)``: the sort keys of a day (``ReplayOrderSort``), kept across days.
    private var sortKeys: [UInt64] = []

    /// Makes `array` hold `count` elements, keeping its buffer when it fits: not smaller than `count`, and
    /// not more than twice as large (a buffer kept for a day twice the usual size, such as the big matrix's
    /// first and last, would keep ~10 MB of resident memory unused). Otherwise a new one is allocated at
    /// `count` and an eighth (days differ in size), the old one freed first (never both held). The elements
    /// kept are left as they were and the ones added are `filler`: callers overwrite them all.
    static func resize<T>(_ array: inout [T], to count: Int, filler: T) {
        if array.capacity < count || array.capacity > 2 * count + 1024 {
            array = []
            array.reserveCapacity(count + count / 8)
        }
        if array.count > count {
            array.removeLast(array.count - count)
        } else {
            array.append(contentsOf: repeatElement(filler, count: count - array.count))
        }
    }

    /// The file of one day's events in file order, read into `events` (its buffer reused when it is large
    /// enough); a day without a file has none.
    private func readEvents(of day: CalendarDay, into events: inout [Interaction]) throws {
        try Self.readFile(try readableFile(of: day), into: &events)
    }

    /// The events file at `path` in file order, read into `events` (its buffer reused when it is large enough);
    /// no file: no events.
    private static func readFile(_ path: String, into events: inout [Interaction]) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT {
                events.removeAll(keepingCapacity: true)
                return
            }
            throw POSIXFileError(path: path, operation: "open", code: errno)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw POSIXFileError(path: path, operation: "stat", code: errno) }
        let size = Int(st.st_size)
        guard size % DayBuckets.recordSize == 0 else { throw truncated(path, bytes: size) }
        let count = size / DayBuckets.recordSize
        DayBuckets.resize(&events, to: count, filler: DayBuckets.zeroEvent)
        var wide: [Interaction]?
        try events.withUnsafeMutableBytes { raw in
            var done = 0
            while done < size {
                let n = pread(fd, raw.baseAddress! + done, size - done, off_t(done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    if n == 0 { throw truncated(path, bytes: done) }
                    throw POSIXFileError(path: path, operation: "read", code: errno)
                }
                done += n
            }
            try DayFileRecords.decodeInPlace(
                raw, count: count, base: DayFileRecords.base(ofFile: path), path: path, wide: &wide)
        }
    }

    /// Calls `body` with every event of the events file at `path` (a day file, or a file of the same layout),
    /// in file order, read a chunk at a time into `buffer` (its capacity kept for the caller's next file).
    /// Memory: the chunk (``eventChunkCount`` events), whatever the file's size; a mapping of the whole file
    /// counts as the process's memory as its pages are read (up to ~20 MB for a day of KuaiRec's big matrix,
    /// read beside the replay's first days by the diagnostics' second pass).
    /// - Throws: ``POSIXFileError`` (open, read), ``DamagedFileError`` when the file is not a whole number of events.
    public static func forEachEvent(
        inFile path: String, buffer: inout [Interaction], _ body: (Interaction) throws -> Void
    ) throws {
        try forEachChunk(inFile: path, buffer: &buffer) { events in
            for e in events { try body(e) }
        }
    }

    /// ``forEachEvent(inFile:buffer:_:)`` a chunk at a time: `body` gets each chunk's whole events in file order
    /// (valid during the call only), so that a caller's loop over them is its own, compiled with its body.
    /// - Throws: ``POSIXFileError`` (open, read), ``DamagedFileError`` when the file is not a whole number of events.
    public static func forEachChunk(
        inFile path: String, buffer: inout [Interaction], _ body: (UnsafeBufferPointer<Interaction>) throws -> Void
    ) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw POSIXFileError(path: path, operation: "open", code: errno) }
        defer { close(fd) }
        resize(&buffer, to: eventChunkCount, filler: zeroEvent)
        let base = DayFileRecords.base(ofFile: path)
        var wide: [Interaction]?
        // Slots are read into the buffer's first `eventChunkCount * recordSize` bytes and decoded there in place;
        // a slot cut by the read's end (fewer than 28 bytes) is kept aside, as decoding overwrites it.
        let slotBytes = eventChunkCount * recordSize
        var rest = (UInt64(0), UInt64(0), UInt64(0), UInt32(0))
        var offset = 0
        var filled = 0  // bytes of slots at the buffer's start, read and not yet passed to `body`
        while true {
            let n = buffer.withUnsafeMutableBytes { raw in
                pread(fd, raw.baseAddress! + filled, slotBytes - filled, off_t(offset))
            }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw POSIXFileError(path: path, operation: "read", code: errno) }
            offset += n
            filled += n
            let whole = filled / recordSize
            let restCount = filled - whole * recordSize
            if n == 0 && restCount != 0 {
                throw DamagedFileError(
                    path: path, problem: "it is \(offset) bytes, not a whole number of \(recordSize)-byte events")
            }
            try buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutableBytes(of: &rest) {
                    $0.baseAddress!.copyMemory(from: raw.baseAddress! + whole * recordSize, byteCount: restCount)
                }
                try DayFileRecords.decodeInPlace(raw, count: whole, base: base, path: path, wide: &wide)
            }
            if whole > 0 { try buffer.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[..<whole])) } }
            if n == 0 { return }
            buffer.withUnsafeMutableBytes { raw in
                withUnsafeBytes(of: &rest) { raw.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: restCount) }
            }
            filled = restCount
        }
    }

    /// Events a chunk of ``forEachEvent(inFile:buffer:_:)`` holds (1 MiB).
    static let eventChunkCount = (1 << 20) / MemoryLayout<Interaction>.stride

    /// The value new slots of a read buffer hold until the file's bytes overwrite them.
    static let zeroEvent = Interaction(
        timestampMs: 0, userID: 0, videoID: 0, playDurationMs: 0, videoDurationMs: 0, watchRatio: 0)

    /// One user's events of a day in replay order (the order ``sortedEvents(for:)`` gives them), without
    /// sorting the whole day: a late row's revision needs only its user's.
    public func sortedEvents(for day: CalendarDay, user: Int32) throws -> [Interaction] {
        try writer.waitForWrites()
        var mine: [(event: Interaction, position: Int)] = []
        var position = 0
        var buffer: [Interaction] = []
        let path = fileURL(for: day).path
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        try Self.forEachChunk(inFile: path, buffer: &buffer) { events in
            for e in events {
                if e.userID == user { mine.append((e, position)) }
                position += 1
            }
        }
        mine.sort { a, b in Interaction.replayPrecedes(a.event, a.position, b.event, b.position) }
        return mine.map(\.event)
    }

    /// Removes exact duplicates (``Interaction/isExactDuplicateOfEarlier(_:at:)``, the rule the replay counts
    /// duplicates by) from every day's file, rewriting each file in
    /// replay order. Calls `kept(day, events)` with each day's remaining events. Returns the number removed.
    ///
    /// Buffered events must have been flushed. Memory: one day's events at a time.
    public func removeExactDuplicates(_ kept: (CalendarDay, [Interaction]) throws -> Void) throws -> Int {
        settleSync()
        var removed = 0
        for day in eventCounts.keys.sorted() {
            let events = try sortedEvents(for: day)
            var unique: [Interaction] = []
            unique.reserveCapacity(events.count)
            for i in events.indices where !Interaction.isExactDuplicateOfEarlier(events, at: i) {
                unique.append(events[i])
            }
            try kept(day, unique)
            guard unique.count < events.count else { continue }
            removed += events.count - unique.count
            forgetOrder(of: day)
            let path = fileURL(for: day).path
            try AtomicFile.replace(path) { partial in
                // Slots based on the day's file; escapes appended to its side file, where the entries the old
                // file refers to stay until the new file replaces it.
                try unique.withUnsafeMutableBytes {
                    try DayFileRecords.append(
                        $0, to: partial, base: DayFileRecords.base(ofFile: path),
                        widePath: DayFileRecords.widePath(of: path))
                }
                // Durable before the new file, which may refer to its new entries, replaces the old one.
                try DayFileRecords.syncSideFile(of: path)
            }
            eventCounts[day] = unique.count
        }
        return removed
    }

    /// Checks that the bucket files hold `expected` events in all (whole 28-byte slots): a resumed
    /// run relies on them. Returns a description of the damage, or nil when they are whole.
    public func verify(expectedEvents expected: Int) -> String? {
        writer.settle()
        return DayBuckets.verify(directory: directory, expectedEvents: expected)
    }

    /// ``verify(expectedEvents:)`` for the bucket folder `directory`.
    public static func verify(directory: URL, expectedEvents expected: Int) -> String? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        var total = 0
        for name in names where name.hasPrefix("day-") && name.hasSuffix(".events") {
            let path = directory.appendingPathComponent(name).path
            let size = DayBuckets.fileBytes(path)
            if size % DayBuckets.recordSize != 0 {
                return "\(name) is \(size) bytes, not a whole number of \(DayBuckets.recordSize)-byte events"
            }
            total += size / DayBuckets.recordSize
        }
        if total != expected {
            return "the day files hold \(total) events, the recorded ingest accepted \(expected)"
        }
        return nil
    }

    private static func truncated(_ path: String, bytes: Int) -> DamagedFileError {
        DamagedFileError(
            path: path, problem: "it is \(bytes) bytes, not a whole number of \(DayBuckets.recordSize)-byte events")
    }
}
