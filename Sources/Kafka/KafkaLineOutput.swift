import Foundation
import ReplaySink
import ReplayStream

/// A run's records as messages (`replay run ... --out kafka://BOOTSTRAP/TOPIC`): each record line is one message,
/// keyed `user_id|event_date`, its value the line without its newline (JSON lines, or CSV rows: the header is not
/// sent), sent by an idempotent producer (librdkafka's partitioner puts a key in one partition, always the same).
/// A checkpoint waits until every message sent so far is acknowledged (``lineDurability``); after a crash the run
/// resumes from its checkpoint and sends the records written since again, with the same keys, revisions and bytes.
/// So a topic compacted by key, or a reader keeping the highest `revision` per key, holds exactly the panel.
public final class KafkaLineOutput: PanelLineOutput {
    private let producer: SharedProducer
    private let topic: String
    private var lines: [UInt8] = []
    /// Messages sent by this run (a resumed run counts from its start).
    public private(set) var length: Int64 = 0

    /// A producer for `topic` on `brokers`; the topic is created (one partition) when the cluster has none.
    /// - Throws: ``KafkaError`` when the cluster cannot be reached or refuses.
    public init(brokers: String, topic: String) throws {
        let client = try KafkaProducer(brokers: brokers)
        if try client.partitionCount(topic: topic) == nil {
            do {
                try client.createTopic(topic, partitions: 1)
            } catch {
                throw KafkaError(
                    operation: "writing records to \(topic) on \(brokers)",
                    message: "the cluster has no topic \(topic) and did not create it (\(error)); create it (cleanup.policy=compact keeps the panel)")
            }
        }
        producer = SharedProducer(client)
        self.topic = topic
    }

    public func append(_ body: (inout [UInt8]) -> Void) throws {
        lines.removeAll(keepingCapacity: true)
        body(&lines)
        var start = 0
        for i in lines.indices where lines[i] == 0x0A {
            defer { start = i + 1 }
            let line = lines[start..<i]
            if line.starts(with: Self.csvHeaderStart) { continue }
            guard let key = Self.key(of: line) else {
                throw KafkaError(operation: "sending a record to \(topic)", message: "a line without user_id and event_date: \(String(decoding: line.prefix(80), as: UTF8.self))")
            }
            try producer.client.send(topic: topic, key: key, value: Array(line), timestampMs: 0)
            length += 1
        }
    }

    private static let csvHeaderStart = Array("user_id,".utf8)
    private static let jsonStart = Array("{\"user_id\":".utf8)
    private static let jsonDate = Array(",\"event_date\":\"".utf8)

    /// `user_id|event_date` from the start of a record line as the sink writes it (JSON or CSV).
    static func key(of line: ArraySlice<UInt8>) -> [UInt8]? {
        var i = line.startIndex
        let json = line.starts(with: jsonStart)
        if json { i += jsonStart.count }
        let digits = i
        while i < line.endIndex, (line[i] >= 0x30 && line[i] <= 0x39) || line[i] == 0x2D { i += 1 }
        guard i > digits else { return nil }
        let user = line[digits..<i]
        if json {
            guard line[i...].starts(with: jsonDate) else { return nil }
            i += jsonDate.count
        } else {
            guard i < line.endIndex, line[i] == 0x2C else { return nil }
            i += 1
        }
        guard line.endIndex - i >= 10 else { return nil }
        return Array(user) + [0x7C] + Array(line[i..<(i + 10)])
    }

    public func drain() throws {}

    public var lineDurability: any OutputDurability { ProducerDurability(producer: producer) }

    /// Waits for every message to be acknowledged.
    /// - Throws: ``KafkaError`` when a message was not delivered.
    public func close() throws { try producer.client.flush() }
}

/// A producer used from two threads: the rendering thread sends, the checkpoint thread waits for the
/// acknowledgements.
///
/// `@unchecked Sendable`: librdkafka's `rd_kafka_producev`, `rd_kafka_poll` and `rd_kafka_flush` may be called from
/// any thread on one handle (its documented thread safety); the delivery reports they serve are kept in a `TracedMutex`
/// (`DeliveryReports`); the Swift object holds nothing else that changes.
final class SharedProducer: @unchecked Sendable {
    let client: KafkaProducer
    init(_ client: KafkaProducer) { self.client = client }
}

/// A checkpoint's wait: every message sent so far acknowledged, or the delivery error.
struct ProducerDurability: OutputDurability {
    let producer: SharedProducer
    func sync() throws { try producer.client.flush() }
}
