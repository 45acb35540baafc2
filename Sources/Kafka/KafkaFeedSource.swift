import Foundation
import ReplayStream

/// Where a Kafka feed stands: per assigned partition, the offset of the next message to read and the newest
/// event time (message timestamp, Unix ms) read so far. Stored in every checkpoint of a `replay run kafka://...`
/// (payload ``payloadName``), so a resume reads each partition from exactly where the checkpoint's rows end.
public struct KafkaFeedPosition: Codable, Equatable, Sendable {
    /// The checkpoint payload's name.
    public static let payloadName = "kafka"
    /// The topic.
    public var topic: String
    /// Next offset to read, per partition.
    public var nextOffsets: [Int32: Int64]
    /// Newest message timestamp read, per partition (absent before its first message).
    public var newestEventMs: [Int32: Int64] = [:]

    public init(topic: String, nextOffsets: [Int32: Int64]) {
        self.topic = topic
        self.nextOffsets = nextOffsets
    }
}

/// A live feed's bytes from a Kafka topic's assigned partitions: each message's value is one row as a JSON line
/// (what `replay publish` sends), delivered whole, so every row handed to the feed comes from messages whose
/// offsets ``position`` records. With `exitAtEnd`, each partition is read up to the end offset it had when the
/// source was made, and the input ends when every partition is there.
///
/// The watermark bound (``eventTimeBound(now:)``) is the minimum over the partitions that hold it of their newest
/// message timestamp: a partition holds it until it has been silent for `idleClose` seconds (Flink's idleness rule)
/// or, under `exitAtEnd`, has reached its end offset. A partition that has sent nothing yet and is neither holds it
/// at "nothing may close".
public final class KafkaFeedSource: LiveByteSource, PositionedFeedInput {
    private let consumer: KafkaConsumer
    /// Where the rows delivered so far end.
    public private(set) var position: KafkaFeedPosition
    /// Each partition's end offset when the source was made (exit-at-end only).
    public let endOffsets: [Int32: Int64]?
    private let idleClose: Double?
    private var lastMessageAt: [Int32: Double] = [:]
    private let started: Double
    private let clock: () -> Double

    /// Reads `topic`'s `partitions` (nil: every partition) of `brokers` from `resume` (a checkpoint's position) or
    /// from each partition's first message, committing progress under consumer group `group`.
    /// - Throws: ``KafkaError`` when the topic is missing, a partition is not in it, or the cluster cannot be asked.
    public init(
        brokers: String, topic: String, partitions asked: [Int32]?, group: String, resume: KafkaFeedPosition?,
        exitAtEnd: Bool, idleClose: Double?, clock: @escaping () -> Double = { Date().timeIntervalSince1970 }
    ) throws {
        let consumer = try KafkaConsumer(brokers: brokers, group: group)
        self.consumer = consumer
        guard let count = try consumer.partitionCount(topic: topic) else {
            throw KafkaError(operation: "reading \(topic) from \(brokers)", message: "the cluster has no topic \(topic)")
        }
        let partitions = asked ?? (0..<Int32(count)).map { $0 }
        if let missing = partitions.first(where: { $0 < 0 || $0 >= Int32(count) }) {
            throw KafkaError(operation: "reading \(topic) from \(brokers)", message: "it has \(count) partitions, no partition \(missing)")
        }
        var start: [Int32: Int64] = [:]
        for p in partitions {
            if let resumed = resume?.nextOffsets[p] { start[p] = resumed } else { start[p] = try consumer.watermarks(topic: topic, partition: p).low }
        }
        position = resume ?? KafkaFeedPosition(topic: topic, nextOffsets: start)
        position.nextOffsets = start
        var ends: [Int32: Int64]?
        if exitAtEnd {
            ends = [:]
            for p in partitions { ends![p] = try consumer.watermarks(topic: topic, partition: p).high }
        }
        endOffsets = ends
        self.idleClose = idleClose
        self.clock = clock
        fetched = start
        started = clock()
        let unread = partitions.filter { p in ends.map { start[p]! < $0[p]! } ?? true }
        if !unread.isEmpty { try consumer.assign(topic: topic, offsets: start.filter { unread.contains($0.key) }) }
    }

    /// True when every partition has reached its end offset (exit-at-end only).
    private var atEnd: Bool {
        guard let endOffsets else { return false }
        return endOffsets.allSatisfy { position.nextOffsets[$0.key]! >= $0.value }
    }

    /// Messages handed to the feed's reader and not yet taken as rows, oldest first: the line each became.
    private var pending: [(line: Int64, partition: Int32, offset: Int64, timestampMs: Int64)] = []
    private var pendingHead = 0
    /// Lines handed over so far (one per message).
    private var linesDelivered: Int64 = 0
    /// The next offset to take from the consumer, per partition (past the pending messages).
    private var fetched: [Int32: Int64] = [:]

    public func read(into buffer: inout [UInt8], timeoutMs: Int32) throws -> LiveByteRead {
        // The reader took every line of the last read: the position moves past them all (blank ones included).
        rowTaken(line: linesDelivered)
        if atEnd { return .end }
        var count = 0
        var wait = Double(timeoutMs) / 1000
        while count < buffer.count / 2, let message = try consumer.poll(timeout: wait) {
            wait = 0
            let p = message.partition
            guard let next = fetched[p], message.offset >= next, endOffsets.map({ message.offset < $0[p]! }) ?? true
            else { continue }  // already read, or past the end offset of an exit-at-end run
            // One message, one line: a line break inside a value (whitespace in JSON) becomes a space.
            var value = message.value.map { $0 == 0x0A || $0 == 0x0D ? 0x20 : $0 }
            value.append(0x0A)
            if count + value.count > buffer.count { buffer += [UInt8](repeating: 0, count: count + value.count - buffer.count) }
            buffer.replaceSubrange(count..<(count + value.count), with: value)
            count += value.count
            linesDelivered += 1
            pending.append((linesDelivered, p, message.offset, message.timestampMs))
            fetched[p] = message.offset + 1
            lastMessageAt[p] = clock()
            if let endOffsets, endOffsets.allSatisfy({ fetched[$0.key]! >= $0.value }) { break }
        }
        return count > 0 ? .bytes(count) : (atEnd ? .end : .idle)
    }

    public func rowTaken(line: Int64) {
        while pendingHead < pending.count, pending[pendingHead].line <= line {
            let m = pending[pendingHead]
            position.nextOffsets[m.partition] = m.offset + 1
            position.newestEventMs[m.partition] = max(position.newestEventMs[m.partition] ?? .min, m.timestampMs)
            pendingHead += 1
        }
        if pendingHead == pending.count {
            pending.removeAll(keepingCapacity: true)
            pendingHead = 0
        }
    }

    /// The newest event time every partition that holds the watermark has reached (nil: one that holds it has sent
    /// nothing yet). `fallback` (the feed's newest event time) when no partition holds it.
    public func eventTimeBound(fallback: Int64?) -> Int64? {
        let now = clock()
        var bound: Int64?
        for (p, next) in position.nextOffsets {
            if let end = endOffsets?[p], next >= end { continue }
            if let idle = idleClose, now - (lastMessageAt[p] ?? started) >= idle { continue }
            guard let newest = position.newestEventMs[p] else { return nil }
            bound = min(bound ?? newest, newest)
        }
        return bound ?? fallback
    }

    public var payloadName: String { KafkaFeedPosition.payloadName }

    /// The position as the checkpoint stores it; also committed (without waiting) under the consumer group, for
    /// lag tools: replay itself resumes from its checkpoint, whatever the group's offsets say.
    public func checkpointPayload() throws -> [UInt8] {
        try? consumer.commit(topic: position.topic, offsets: position.nextOffsets)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(position))
    }

    /// A checkpoint's position (nil when it holds none).
    /// - Throws: when the payload does not decode.
    public static func position(from payload: [UInt8]?) throws -> KafkaFeedPosition? {
        guard let payload else { return nil }
        return try JSONDecoder().decode(KafkaFeedPosition.self, from: Data(payload))
    }

    /// Closes the consumer; call before releasing the source.
    public func close() { consumer.close() }
}
