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
public final class KafkaFeedSource: LiveByteSource {
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
        started = clock()
        let unread = partitions.filter { p in ends.map { start[p]! < $0[p]! } ?? true }
        if !unread.isEmpty { try consumer.assign(topic: topic, offsets: start.filter { unread.contains($0.key) }) }
    }

    /// True when every partition has reached its end offset (exit-at-end only).
    private var atEnd: Bool {
        guard let endOffsets else { return false }
        return endOffsets.allSatisfy { position.nextOffsets[$0.key]! >= $0.value }
    }

    public func read(into buffer: inout [UInt8], timeoutMs: Int32) throws -> LiveByteRead {
        if atEnd { return .end }
        var count = 0
        var wait = Double(timeoutMs) / 1000
        while count < buffer.count / 2, let message = try consumer.poll(timeout: wait) {
            wait = 0
            let p = message.partition
            guard let next = position.nextOffsets[p], message.offset >= next,
                endOffsets.map({ message.offset < $0[p]! }) ?? true
            else { continue }  // already read, or past the end offset of an exit-at-end run
            var value = message.value
            if value.last != 0x0A { value.append(0x0A) }
            if count + value.count > buffer.count { buffer += [UInt8](repeating: 0, count: count + value.count - buffer.count) }
            buffer.replaceSubrange(count..<(count + value.count), with: value)
            count += value.count
            position.nextOffsets[p] = message.offset + 1
            position.newestEventMs[p] = max(position.newestEventMs[p] ?? .min, message.timestampMs)
            lastMessageAt[p] = clock()
            if atEnd { break }
        }
        return count > 0 ? .bytes(count) : (atEnd ? .end : .idle)
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

    /// Commits the position under the consumer group (for lag tools; replay resumes from its checkpoint).
    public func commit() throws { try consumer.commit(topic: position.topic, offsets: position.nextOffsets) }

    /// Closes the consumer; call before releasing the source.
    public func close() { consumer.close() }
}
