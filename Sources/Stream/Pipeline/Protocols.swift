/// Where emitted records go (a JSON lines file, stdout, a test's array).
public protocol RecordSink: AnyObject {
    /// Writes one record revision.
    func write(_ record: UserDayRecord) throws
    /// Writes record revisions in order: ``write(_:)`` for each by default. A sink called through the protocol
    /// writes a batch in one call (each call through the protocol copies the ~430-byte record, a twentieth of the
    /// rendering thread's time).
    func write(contentsOf records: UnsafeBufferPointer<UserDayRecord>) throws
    /// ``write(contentsOf:)``, told whether the thread that makes the records is waiting for this write
    /// (`onTwoCores`: its core is free, and the sink may use it too). By default, ``write(contentsOf:)``.
    func write(contentsOf records: UnsafeBufferPointer<UserDayRecord>, onTwoCores: Bool) throws
    /// Hands every buffered byte to the operating system and returns the output's length in bytes
    /// (the length a resumed run cuts the output back to, once made durable by ``sync()``).
    func flush() throws -> Int64
    /// What makes every flushed byte durable (fsync): handed to the checkpoint thread, which uses it
    /// while the replay thread goes on writing.
    var durability: any OutputDurability { get }
    /// False when the sink keeps final revisions only (`--emit final`): the engine then counts the revisions
    /// between a record's first and its final one without building them. True by default.
    var takesIntermediateRevisions: Bool { get }
}

extension RecordSink {
    public var takesIntermediateRevisions: Bool { true }

    public func write(contentsOf records: UnsafeBufferPointer<UserDayRecord>) throws {
        for record in records { try write(record) }
    }

    public func write(contentsOf records: UnsafeBufferPointer<UserDayRecord>, onTwoCores: Bool) throws {
        try write(contentsOf: records)
    }
}

/// Makes an output's flushed bytes durable. Used from the checkpoint thread, so it is `Sendable`.
public protocol OutputDurability: Sendable {
    /// Makes every byte flushed so far durable.
    func sync() throws
    /// The fingerprint of the output's first `length` bytes (flushed), for a checkpoint; nil when the output
    /// is not a file of its own (standard output, a device, memory).
    func fingerprint(ofFirst length: Int64) throws -> OutputFingerprint?
}

extension OutputDurability {
    public func fingerprint(ofFirst length: Int64) throws -> OutputFingerprint? { nil }
}

/// The durability of an output that keeps nothing on disk (memory, tests).
public struct NothingToSync: OutputDurability {
    public init() {}
    public func sync() {}
}

/// Where the replay's checkpoints are kept (LMDB in the state module, memory in tests).
public protocol StateBackend: AnyObject, Sendable {
    /// Commits a checkpoint atomically: either all of it is durable, or the previous one stays.
    /// Called from the checkpoint thread, one commit at a time.
    func commit(_ checkpoint: PanelCheckpoint) throws

    /// Starts the next checkpoint's timeline snapshot, which the engine hands over in chunks as it encodes
    /// it, on its own thread, after the previous checkpoint's commit has ended. The default keeps the chunks
    /// in memory (``InMemoryTimelineSnapshotWriter``).
    func startSnapshot() throws -> any TimelineSnapshotWriter
}

extension StateBackend {
    public func startSnapshot() throws -> any TimelineSnapshotWriter { InMemoryTimelineSnapshotWriter() }
}

/// Receives a checkpoint's timeline snapshot (``TimelineSnapshot``'s layout) in chunks, in order, as the engine
/// encodes it: no buffer holds the whole snapshot (~2.4 KB a user: ~17 MB for KuaiRec's big matrix, which one
/// buffer would keep resident between checkpoints). Used by one thread (the engine's); ``finish()`` or
/// ``abandon()`` ends it.
public protocol TimelineSnapshotWriter: AnyObject {
    /// Takes `chunk`, the snapshot's next bytes; returns an empty buffer to fill next (its capacity kept
    /// when it is a buffer handed over earlier).
    func write(_ chunk: consuming [UInt8]) throws -> [UInt8]
    /// Ends the snapshot: what the checkpoint carries to ``StateBackend/commit(_:)``.
    func finish() throws -> TimelineSnapshot
    /// Drops a snapshot that will not be committed (an error while it was encoded or written).
    func abandon()
}

/// The default ``TimelineSnapshotWriter``: the chunks appended to one buffer, which the snapshot holds.
public final class InMemoryTimelineSnapshotWriter: TimelineSnapshotWriter {
    private var bytes: [UInt8] = []

    public init() {}

    public func write(_ chunk: consuming [UInt8]) throws -> [UInt8] {
        var buffer = chunk
        bytes.append(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
        return buffer
    }

    public func finish() throws -> TimelineSnapshot { TimelineSnapshot(bytes: bytes) }

    public func abandon() { bytes = [] }
}

/// Everything a resumed replay needs, as of a day boundary.
public struct PanelCheckpoint: Sendable, Equatable {
    /// Progress counters and positions.
    public var progress: ReplayProgress
    /// Every user's serialized rolling state, in one buffer.
    public var timelines: TimelineSnapshot
    /// The states of the features that ride along (a ``PanelObserver``'s, a driver's own), by name, as
    /// opaque bytes: the engine and the state backend store them without knowing what they are.
    public var payloads: [String: [UInt8]]

    public init(progress: ReplayProgress, timelines: TimelineSnapshot, payloads: [String: [UInt8]] = [:]) {
        self.progress = progress
        self.timelines = timelines
        self.payloads = payloads
    }
}

/// The replay's position and counters; part of every checkpoint.
public struct ReplayProgress: Sendable, Equatable, Codable {
    /// The first day not yet closed (the input position: events are replayed day by day).
    public var nextDay: CalendarDay
    /// Events of `nextDay` already replayed (in ``dayEventOrder``) into the open day's aggregates.
    public var dayEventOffset = 0
    /// The order of `nextDay`'s events that ``dayEventOffset`` counts in; nil: ``DayEventOrder/time``.
    public var dayEventOrder: DayEventOrder?
    /// Output bytes committed.
    public var outputBytes: Int64 = 0
    /// The output file and the end of its committed bytes (nil for standard output, or in a state folder
    /// made before it was kept).
    public var outputFingerprint: OutputFingerprint?
    /// Record lines written (all revisions).
    public var recordsWritten = 0
    /// Records written with `final: true`.
    public var finalRecords = 0
    /// Events replayed.
    public var eventsReplayed = 0
    /// Exact duplicate rows met (counted, kept).
    public var duplicateRows = 0
    /// Days closed.
    public var daysClosed = 0
    /// Thresholds used for the last closed day.
    public var thresholds: TreatmentThresholds?
    /// The expanding-mode distribution of active user-days closed so far.
    public var expanding = ThresholdDistribution()
    /// True once the end of the input was declared and every record written final.
    public var finished = false
    /// Seconds since 1970 when this checkpoint was committed.
    public var committedAt: Double = 0

    public init(nextDay: CalendarDay) { self.nextDay = nextDay }
}

/// Every user's serialized timeline, one after another: `count`, then per user its id, its length and its
/// bytes (little-endian 64-bit integers). Either held in one buffer (``bytes``: as read back, and from a
/// backend that keeps snapshots in memory) or already handed to the state backend as it was encoded
/// (``stored``), which the state module writes to a file chunk by chunk.
public struct TimelineSnapshot: Sendable, Equatable {
    /// The encoded buffer (empty when the snapshot is ``stored``).
    public var bytes: [UInt8]
    /// Where the state backend's ``TimelineSnapshotWriter`` put the snapshot it was handed, in the backend's
    /// own terms (nil: the snapshot is ``bytes``).
    public var stored: StoredTimelineSnapshot?

    /// Wraps an encoded buffer (as read back from a file).
    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// A snapshot the state backend holds already (``bytes`` empty).
    public init(stored: StoredTimelineSnapshot) {
        bytes = []
        self.stored = stored
    }

    /// An empty snapshot (no users).
    public static let empty: TimelineSnapshot = {
        var w = ByteWriter()
        w.int(0)
        return TimelineSnapshot(bytes: w.bytes)
    }()

    /// Calls `body(user, encodedTimeline)` for every user of ``bytes``.
    /// - Throws: when the buffer is truncated or malformed, and `body`'s errors.
    public func forEach(_ body: (Int32, ArraySlice<UInt8>) throws -> Void) throws {
        var r = ByteReader(bytes: bytes)
        let count = try r.int()
        guard count >= 0, count <= bytes.count / 16 else { throw ByteReader.Truncated() }
        for _ in 0..<count {
            let user = Int32(truncatingIfNeeded: try r.int())
            let length = try r.int()
            guard length >= 0, r.offset + length <= bytes.count else { throw ByteReader.Truncated() }
            try body(user, bytes[r.offset..<(r.offset + length)])
            r.offset += length
        }
        guard r.offset == bytes.count else { throw ByteReader.Truncated() }
    }
}

/// A timeline snapshot a state backend wrote as it was handed over (``TimelineSnapshotWriter``): the name the
/// backend gave it, its size and its hash, which the checkpoint's commit records.
public struct StoredTimelineSnapshot: Sendable, Equatable {
    /// The backend's name for it (the state module: its file's name).
    public var name: String
    /// Its bytes.
    public var size: Int
    /// Its hash (the backend's).
    public var hash: UInt64

    public init(name: String, size: Int, hash: UInt64) {
        self.name = name
        self.size = size
        self.hash = hash
    }
}
