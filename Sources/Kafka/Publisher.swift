import Foundation
import ReplayState
import ReplayStream

/// What `replay publish` does: which log, into which topic, how fast.
public struct PublishConfiguration: Sendable {
    /// The archive, folder or CSV (as `replay run` reads it).
    public var input: String
    public var matrix: MatrixChoice = .small
    /// Which inflater reads the CSV.
    public var inflate: InflateChoice = .auto
    /// The zone of the days of rows without a date label, and of the `time` text written.
    public var timeZone: TimeZone
    /// `host:port,...`.
    public var brokers: String
    public var topic: String
    /// The topic's partitions: created with this many when it does not exist; an existing topic must have as many.
    public var partitions: Int
    /// Publish's own small state: the ordered events, the position, the partitions' starting offsets.
    public var stateDirectory: String
    /// Simulated seconds per wall second (nil: as fast as the cluster takes them).
    public var speed: Double?
    /// Start over: forget the state folder's position (the topic keeps what it holds).
    public var fresh = false
    /// Extra librdkafka producer properties.
    public var producerProperties: [(String, String)] = []

    public init(input: String, timeZone: TimeZone, brokers: String, topic: String, partitions: Int, stateDirectory: String) {
        self.input = input
        self.timeZone = timeZone
        self.brokers = brokers
        self.topic = topic
        self.partitions = partitions
        self.stateDirectory = stateDirectory
    }
}

/// Where a publish stands, as its state folder records it after every acknowledged batch.
public struct PublishPosition: Codable, Sendable, Equatable {
    /// What the position belongs to: the input file (path, size, modification time), matrix, topic, partitions.
    public var input: String
    public var inputSize: Int64
    public var inputModified: Double
    public var matrix: String
    public var topic: String
    public var partitions: Int
    /// Each day's event count in the ordered events (`events/`), by raw day.
    public var dayCounts: [Int32: Int]
    /// Rows read, published and rejected by the ingest pass.
    public var rowsRead: Int
    public var rowsRejected: Int
    /// Each partition's end offset when the publish began: messages past it are this publish's.
    public var baseOffsets: [Int32: Int64]
    /// The next event to send: its day (raw) and index in the day's replay order.
    public var day: Int32
    public var index: Int
    /// Messages sent and acknowledged per partition up to the position.
    public var sent: [Int32: Int64]
    /// True when every event was published.
    public var finished: Bool
}

/// Progress of a publish, for the command line.
public struct PublishProgress: Sendable {
    public var published: Int64
    public var total: Int64
    public var day: CalendarDay
}

/// Plays an archive's interactions into a Kafka topic in replay order (the order `replay run` folds them), one
/// message a row: keyed by `user_id` (partition `user_id mod partitions`, so each user's rows are in one partition,
/// in order), the row as a JSON line `replay run -` reads, the event time as the message timestamp.
///
/// Exactly once across restarts, without transactions: publish is the topic's only writer for its run; its state
/// records each partition's end offset when it began and, after every acknowledged batch, its position and the
/// messages sent per partition. A restarted publish reads each partition's end offset: the messages between the
/// recorded position and that end were delivered before the stop, and are skipped, not sent again.
public enum Publisher {
    /// Messages sent between two acknowledged positions.
    static let batch = 50_000

    /// Publishes `configuration.input`; returns the final position. Stops early (position saved) when `shouldStop`.
    /// - Throws: ``KafkaError``, ``PublishStateError``, and what reading the input throws.
    public static func run(
        _ configuration: PublishConfiguration, shouldStop: () -> Bool = { false }, progress: (PublishProgress) -> Void = { _ in }
    ) throws -> PublishPosition {
        let files = PublishFiles(directory: configuration.stateDirectory)
        try files.claimFolder()
        let lock = try ProcessLock(directory: configuration.stateDirectory)
        defer { withExtendedLifetime(lock) {} }
        let producer = try KafkaProducer(brokers: configuration.brokers, properties: configuration.producerProperties)
        try ensureTopic(producer, configuration)
        var position = try files.position(for: configuration)
            ?? begin(configuration, files: files, producer: producer, shouldStop: shouldStop)
        let buckets = try DayBuckets(directory: files.events)
        defer { buckets.settleWrites() }
        try buckets.restore(counts: Dictionary(uniqueKeysWithValues: position.dayCounts.map { (CalendarDay(rawValue: $0.key), $0.value) }))
        var delivered = try deliveredSince(position, producer: producer, topic: configuration.topic)
        let pacer = configuration.speed.map { Pacer(speed: $0) }
        let total = Int64(position.dayCounts.values.reduce(0, +))
        var published = position.sent.values.reduce(0, +)
        let row = PublishedRow(timeZone: configuration.timeZone)
        let days = position.dayCounts.keys.sorted().filter { $0 >= position.day }
        var unsaved = 0
        var events: [Interaction] = []  // one buffer for every day (see DayBuckets.sortedEvents(for:into:))
        for rawDay in days {
            let day = CalendarDay(rawValue: rawDay)
            try buckets.sortedEvents(for: day, into: &events)
            var index = rawDay == position.day ? position.index : 0
            while index < events.count {
                let event = events[index]
                let partition = Int32(Int(event.userID) % configuration.partitions)
                if delivered[partition, default: 0] > 0 {
                    delivered[partition]! -= 1  // sent and acknowledged before the stop
                } else {
                    let eventMs = event.timestampMs == Interaction.missingTimestamp ? day.adding(-1).endMilliseconds(in: configuration.timeZone) : event.timestampMs
                    if let pacer, !pacer.wait(untilSimulatedMs: eventMs, shouldStop: shouldStop) { break }
                    try producer.send(
                        topic: configuration.topic, partition: partition, key: Array(String(event.userID).utf8),
                        value: row.json(event, day: day), timestampMs: eventMs)
                    unsaved += 1
                }
                position.sent[partition, default: 0] += 1
                published += 1
                index += 1
                if unsaved >= batch {
                    try save(&position, day: rawDay, index: index, producer: producer, files: files)
                    unsaved = 0
                    progress(PublishProgress(published: published, total: total, day: day))
                    if shouldStop() { return position }
                }
            }
            if index < events.count {
                try save(&position, day: rawDay, index: index, producer: producer, files: files)
                return position
            }
            progress(PublishProgress(published: published, total: total, day: day))
        }
        position.finished = true
        try save(&position, day: (days.last ?? position.day) + 1, index: 0, producer: producer, files: files)
        return position
    }

    /// Flushes the producer (every message acknowledged) and records the position.
    private static func save(_ position: inout PublishPosition, day: Int32, index: Int, producer: KafkaProducer, files: PublishFiles) throws {
        try producer.flush()
        position.day = day
        position.index = index
        try files.save(position)
    }

    /// Creates the topic when it has no partitions yet; refuses one with another partition count.
    private static func ensureTopic(_ producer: KafkaProducer, _ c: PublishConfiguration) throws {
        if let count = try producer.partitionCount(topic: c.topic) {
            guard count == c.partitions else {
                throw KafkaError(
                    operation: "topic \(c.topic) on \(c.brokers)",
                    message: "it has \(count) partitions, not \(c.partitions): publish keys users to partitions by that count — pass --partitions \(count), or another topic")
            }
            return
        }
        try producer.createTopic(c.topic, partitions: c.partitions)
    }

    /// The ingest pass into the state folder's ordered events, and the position at the start of the topic's end.
    private static func begin(
        _ c: PublishConfiguration, files: PublishFiles, producer: KafkaProducer, shouldStop: () -> Bool
    ) throws -> PublishPosition {
        try? FileManager.default.removeItem(atPath: files.positionPath)
        try? FileManager.default.removeItem(at: files.events)
        try FileManager.default.createDirectory(atPath: files.events.path, withIntermediateDirectories: true)
        let buckets = try DayBuckets(directory: files.events)
        defer { buckets.settleWrites() }
        let rejects = CountingRejects()
        let source = try MatrixSource.open(input: c.input, matrix: c.matrix, inflate: c.inflate)
        let summary = try Ingest.run(
            source: source, options: IngestOptions(timeZone: c.timeZone), buckets: buckets, rejects: rejects, shouldStop: shouldStop)
        try buckets.waitForSync()
        var base: [Int32: Int64] = [:]
        for p in 0..<Int32(c.partitions) { base[p] = try producer.watermarks(topic: c.topic, partition: p).high }
        let identity = try PublishFiles.identity(of: c.input)
        let position = PublishPosition(
            input: c.input, inputSize: identity.size, inputModified: identity.modified, matrix: c.matrix.rawValue, topic: c.topic,
            partitions: c.partitions,
            dayCounts: Dictionary(uniqueKeysWithValues: buckets.eventCounts.map { ($0.key.rawValue, $0.value) }),
            rowsRead: summary.rowsRead, rowsRejected: summary.rowsRejected, baseOffsets: base,
            day: buckets.eventCounts.keys.min()?.rawValue ?? 0, index: 0, sent: [:], finished: false)
        try files.save(position)
        return position
    }

    /// Per partition, messages in the topic past the recorded position: delivered before a stop, not to be sent again.
    private static func deliveredSince(_ position: PublishPosition, producer: KafkaProducer, topic: String) throws -> [Int32: Int64] {
        var delivered: [Int32: Int64] = [:]
        for (p, base) in position.baseOffsets {
            let end = try producer.watermarks(topic: topic, partition: p).high
            delivered[p] = max(0, end - base - position.sent[p, default: 0])
        }
        return delivered
    }
}

/// A row as the JSON line `replay run -` reads: the CSV's eight columns, the day as the `date` label, the
/// timestamp in seconds with milliseconds, the `time` text in the run's zone.
struct PublishedRow {
    let timeZone: TimeZone
    private let formatter: DateFormatter

    init(timeZone: TimeZone) {
        self.timeZone = timeZone
        formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss.SSS"
    }

    func json(_ e: Interaction, day: CalendarDay) -> [UInt8] {
        let missing = e.timestampMs == Interaction.missingTimestamp
        let time = missing ? "null" : "\"\(formatter.string(from: Date(timeIntervalSince1970: Double(e.timestampMs) / 1000)))\""
        let stamp = missing ? "null" : String(format: "%lld.%03lld", e.timestampMs / 1000, e.timestampMs % 1000)
        let text = "{\"user_id\":\(e.userID),\"video_id\":\(e.videoID),\"play_duration\":\(e.playDurationMs),"
            + "\"video_duration\":\(e.videoDurationMs),\"time\":\(time),\"date\":\(day.yyyymmdd),\"timestamp\":\(stamp),"
            + "\"watch_ratio\":\(e.watchRatio)}"
        return Array(text.utf8)
    }
}

/// Rejected rows are counted by the ingest summary; publish sends only accepted rows (`replay run` on the archive
/// lists the rejected ones with their reasons).
private final class CountingRejects: RejectWriter {
    func reject(line: Int64, reason: RejectReason, raw: UnsafeRawBufferPointer) throws {}
}

/// A publish state folder that belongs to another publish (input, matrix, topic or partitions), or is damaged.
public struct PublishStateError: Error, CustomStringConvertible, Sendable {
    public var directory: String
    public var problem: String
    public var description: String { "state \(directory): \(problem)" }
}

/// The files of a publish state folder: `events/` (the ordered events) and `publish.json` (the position).
struct PublishFiles {
    let directory: String
    var events: URL { URL(fileURLWithPath: directory).appendingPathComponent("events") }
    var positionPath: String { (directory as NSString).appendingPathComponent("publish.json") }

    /// Makes the folder, or checks that an existing one is a publish's (empty, or holding `publish.json`): publish
    /// deletes its own files there, and never another program's.
    /// - Throws: ``PublishStateError`` for a file, or a folder publish did not make.
    func claimFolder() throws {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isFolder), !isFolder.boolValue {
            throw PublishStateError(directory: directory, problem: "it is a file, not a folder; choose a folder for --state")
        }
        let contents = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let own: Set<String> = ["lock", "events", "publish.json"]
        if !contents.isEmpty && !(contents.contains("publish.json") || Set(contents).isSubset(of: own)) {
            throw PublishStateError(
                directory: directory, problem: "it is not a publish state folder (no publish.json); give --state a new or empty folder")
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// The input file's size and modification time.
    static func identity(of input: String) throws -> (size: Int64, modified: Double) {
        let attributes = try FileManager.default.attributesOfItem(atPath: input)
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return (size, modified)
    }

    /// The recorded position when it belongs to `c` (nil when there is none, or `c.fresh`).
    /// - Throws: ``PublishStateError`` when it belongs to another publish.
    func position(for c: PublishConfiguration) throws -> PublishPosition? {
        guard !c.fresh, let data = FileManager.default.contents(atPath: positionPath) else { return nil }
        let p: PublishPosition
        do {
            p = try JSONDecoder().decode(PublishPosition.self, from: data)
        } catch {
            throw PublishStateError(directory: directory, problem: "publish.json cannot be read (\(error)); rerun with --fresh")
        }
        let identity = try Self.identity(of: c.input)
        let same = p.input == c.input && p.inputSize == identity.size && p.inputModified == identity.modified
            && p.matrix == c.matrix.rawValue && p.topic == c.topic && p.partitions == c.partitions
        guard same else {
            throw PublishStateError(
                directory: directory,
                problem: "it records a publish of \(p.input) (\(p.matrix) matrix) into \(p.topic) with \(p.partitions) partitions; this one differs — give it another --state, or rerun with --fresh")
        }
        return p
    }

    /// Writes the position atomically (a crash leaves the previous one).
    func save(_ position: PublishPosition) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(Array(try encoder.encode(position)), to: positionPath)
    }
}
