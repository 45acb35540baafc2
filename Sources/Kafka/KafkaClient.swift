import Foundation
internal import CRdKafka
import ReplayStream

/// A Kafka operation failed: what was being done, librdkafka's error name and text.
public struct KafkaError: Error, CustomStringConvertible, Sendable {
    /// What replay was doing (`connecting to localhost:9092`, `creating topic interactions`, ...).
    public var operation: String
    /// librdkafka's error name (`_TRANSPORT`, `UNKNOWN_TOPIC_OR_PART`, ...), when there is one.
    public var code: String?
    /// What went wrong, in librdkafka's words.
    public var message: String

    public init(operation: String, code: String? = nil, message: String) {
        self.operation = operation
        self.code = code
        self.message = message
    }

    init(operation: String, _ err: rd_kafka_resp_err_t) {
        self.init(
            operation: operation, code: String(cString: rd_kafka_err2name(err)), message: String(cString: rd_kafka_err2str(err)))
    }

    public var description: String { "\(operation): \(message)" + (code.map { " (\($0))" } ?? "") }
}

/// The text of a NUL-terminated C buffer librdkafka wrote a message into.
func cText(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// librdkafka's configuration properties (`bootstrap.servers`, `enable.idempotence`, ...), checked one by one.
struct KafkaConfiguration {
    /// The properties, applied in order.
    var properties: [(String, String)]

    /// A new `rd_kafka_conf_t` holding the properties; the caller hands it to `rd_kafka_new` (which takes it over)
    /// or destroys it.
    /// - Throws: ``KafkaError`` naming a property librdkafka refuses.
    func make() throws -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        var message = [CChar](repeating: 0, count: 512)
        for (name, value) in properties where rd_kafka_conf_set(conf, name, value, &message, message.count) != RD_KAFKA_CONF_OK {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(operation: "setting \(name)=\(value)", message: cText(message))
        }
        return conf
    }
}

/// One message read from a partition.
public struct KafkaMessage: Sendable, Equatable {
    public var partition: Int32
    public var offset: Int64
    public var key: [UInt8]
    public var value: [UInt8]
    /// The message's timestamp in Unix milliseconds (-1 when it has none).
    public var timestampMs: Int64
}

/// A Kafka client handle (`rd_kafka_t`), producer or consumer. Owns the handle: destroyed in deinit (librdkafka
/// closes its connections there; a producer's owner calls ``KafkaProducer/flush(timeout:)`` first).
public class KafkaHandle {
    let handle: OpaquePointer
    /// The bootstrap servers, for messages.
    public let brokers: String

    init(kind: rd_kafka_type_t, brokers: String, properties: [(String, String)], configure: (OpaquePointer) -> Void = { _ in }) throws {
        // librdkafka's own log lines (connection retries, ...) are off: failures reach the user as KafkaErrors with
        // their words; `log_level` in `properties` turns them back on.
        let conf = try KafkaConfiguration(properties: [("bootstrap.servers", brokers), ("log_level", "0")] + properties).make()
        configure(conf)
        var message = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(kind, conf, &message, message.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(operation: "connecting to \(brokers)", message: cText(message))
        }
        handle = rk
        self.brokers = brokers
    }

    deinit { rd_kafka_destroy(handle) }

    /// The number of partitions of `topic`, nil when the cluster has no such topic. Reads the metadata of every
    /// topic: asking for one topic by name makes a broker that auto-creates topics create it.
    /// - Throws: ``KafkaError`` when the metadata cannot be read.
    public func partitionCount(topic: String, timeout: Double = 10) throws -> Int? {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(handle, 1, nil, &metadata, Int32(timeout * 1000))
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
            throw KafkaError(operation: "reading the topics of \(brokers)", err)
        }
        defer { rd_kafka_metadata_destroy(metadata) }
        for i in 0..<Int(metadata.pointee.topic_cnt) {
            let entry = metadata.pointee.topics[i]
            if String(cString: entry.topic) == topic && entry.err == RD_KAFKA_RESP_ERR_NO_ERROR { return Int(entry.partition_cnt) }
        }
        return nil
    }

    /// The offsets of the first and of the next message of a partition (low and high watermarks).
    /// - Throws: ``KafkaError`` when the broker cannot be asked.
    public func watermarks(topic: String, partition: Int32, timeout: Double = 10) throws -> (low: Int64, high: Int64) {
        var low: Int64 = 0, high: Int64 = 0
        let err = rd_kafka_query_watermark_offsets(handle, topic, partition, &low, &high, Int32(timeout * 1000))
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(operation: "reading the end offset of \(topic) partition \(partition) from \(brokers)", err)
        }
        return (low, high)
    }

    /// Creates `topic` with `partitions` partitions (replication 1 on a single broker, else `replication`).
    /// An existing topic is left as it is.
    /// - Throws: ``KafkaError`` when the cluster refuses.
    public func createTopic(_ topic: String, partitions: Int, replication: Int = 1, timeout: Double = 10) throws {
        var message = [CChar](repeating: 0, count: 512)
        guard let newTopic = rd_kafka_NewTopic_new(topic, Int32(partitions), Int32(replication), &message, message.count) else {
            throw KafkaError(operation: "creating topic \(topic)", message: cText(message))
        }
        defer { rd_kafka_NewTopic_destroy(newTopic) }
        let queue = rd_kafka_queue_new(handle)
        defer { rd_kafka_queue_destroy(queue) }
        var topics: [OpaquePointer?] = [newTopic]
        rd_kafka_CreateTopics(handle, &topics, 1, nil, queue)
        guard let event = rd_kafka_queue_poll(queue, Int32(timeout * 1000)) else {
            throw KafkaError(operation: "creating topic \(topic) on \(brokers)", message: "no answer within \(Int(timeout)) s")
        }
        defer { rd_kafka_event_destroy(event) }
        if rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(operation: "creating topic \(topic) on \(brokers)", rd_kafka_event_error(event))
        }
        var count = 0
        let results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count)
        for i in 0..<count {
            let err = rd_kafka_topic_result_error(results![i])
            if err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS {
                throw KafkaError(operation: "creating topic \(topic) on \(brokers)", err)
            }
        }
    }
}

/// What a producer's delivery reports said: failures (the first one's error, how many) and acknowledged messages
/// per partition. The delivery callback (called by librdkafka from `rd_kafka_poll`/`rd_kafka_flush` on the caller's
/// thread) writes it through the configuration's opaque pointer.
final class DeliveryReports: Sendable {
    let failures = TracedMutex<(first: KafkaError?, count: Int)>((nil, 0))
    let acknowledged = TracedMutex<[Int32: Int64]>([:])

    func delivered(_ message: rd_kafka_message_t) {
        if message.err != RD_KAFKA_RESP_ERR_NO_ERROR {
            let error = KafkaError(operation: "delivering a message to partition \(message.partition)", message.err)
            failures.withLock {
                if $0.first == nil { $0.first = error }
                $0.count += 1
            }
        } else {
            acknowledged.withLock { $0[message.partition, default: 0] += 1 }
        }
    }
}

/// An idempotent producer (`enable.idempotence=true`, `acks=all`): messages are retried without duplicates or
/// reordering within a partition while the producer lives. Delivery failures are collected by the delivery
/// report callback and thrown by ``flush(timeout:)``.
public final class KafkaProducer: KafkaHandle {
    /// The delivery callback's state; the configuration's opaque points to it, unretained: this producer owns both
    /// it and the handle, and the handle (destroyed in deinit) is gone before it.
    private let reports: DeliveryReports

    /// A producer connected to `brokers` (`host:port,...`), with extra librdkafka `properties`.
    /// - Throws: ``KafkaError`` when a property is refused or the handle cannot be made.
    public init(brokers: String, properties: [(String, String)] = []) throws {
        let reports = DeliveryReports()
        self.reports = reports
        try super.init(
            kind: RD_KAFKA_PRODUCER, brokers: brokers,
            properties: [("enable.idempotence", "true"), ("acks", "all"), ("linger.ms", "20")] + properties
        ) { conf in
            rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(reports).toOpaque())
            rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
                guard let opaque, let message else { return }
                Unmanaged<DeliveryReports>.fromOpaque(opaque).takeUnretainedValue().delivered(message.pointee)
            }
        }
    }

    /// Messages the cluster acknowledged to this producer, per partition.
    public var acknowledged: [Int32: Int64] { reports.acknowledged.withLock { $0 } }

    /// Queues one message (`partition` nil: librdkafka's partitioner picks one from the key).
    /// - Throws: ``KafkaError`` when the message cannot be queued (a full queue is waited out).
    public func send(topic: String, partition: Int32? = nil, key: [UInt8], value: [UInt8], timestampMs: Int64) throws {
        while true {
            let err = key.withUnsafeBytes { k in
                value.withUnsafeBytes { v in
                    replay_kafka_produce(
                        handle, topic, partition ?? RD_KAFKA_PARTITION_UA, k.baseAddress, k.count, v.baseAddress, v.count, timestampMs)
                }
            }
            if err == RD_KAFKA_RESP_ERR__QUEUE_FULL {
                rd_kafka_poll(handle, 50)
                continue
            }
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(operation: "sending a message to \(topic)", err) }
            rd_kafka_poll(handle, 0)
            return
        }
    }

    /// Waits until every queued message is acknowledged (or failed).
    /// - Throws: ``KafkaError`` when a message was not delivered, or the queue did not drain within `timeout`.
    public func flush(timeout: Double = 60) throws {
        let err = rd_kafka_flush(handle, Int32(timeout * 1000))
        let failed = reports.failures.withLock { state -> (KafkaError?, Int) in
            defer { state = (nil, 0) }
            return (state.first, state.count)
        }
        if let first = failed.0 {
            throw KafkaError(operation: "\(failed.1) message(s) not delivered; the first", code: first.code, message: first.message)
        }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(operation: "waiting for \(brokers) to acknowledge the messages sent", err)
        }
    }
}

/// A consumer of assigned partitions, without a consumer group's rebalancing (replay assigns partitions itself).
public final class KafkaConsumer: KafkaHandle {
    /// A consumer of `brokers` in consumer group `group` (offsets committed under it, for lag tools).
    /// - Throws: ``KafkaError`` when a property is refused or the handle cannot be made.
    public init(brokers: String, group: String, properties: [(String, String)] = []) throws {
        try super.init(
            kind: RD_KAFKA_CONSUMER, brokers: brokers,
            properties: [("group.id", group), ("enable.auto.commit", "false"), ("enable.partition.eof", "false")] + properties)
    }

    /// Reads `topic`'s `partitions` from the given offsets (`RD_KAFKA_OFFSET_BEGINNING` is -2).
    /// - Throws: ``KafkaError`` when the assignment is refused.
    public func assign(topic: String, offsets: [Int32: Int64]) throws {
        let list = rd_kafka_topic_partition_list_new(Int32(offsets.count))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for (partition, offset) in offsets.sorted(by: { $0.key < $1.key }) {
            rd_kafka_topic_partition_list_add(list, topic, partition)!.pointee.offset = offset
        }
        let err = rd_kafka_assign(handle, list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(operation: "assigning partitions of \(topic)", err) }
    }

    /// The next message, or nil when none arrives within `timeout`.
    /// - Throws: ``KafkaError`` for a consume error other than reaching a partition's end.
    public func poll(timeout: Double) throws -> KafkaMessage? {
        guard let message = rd_kafka_consumer_poll(handle, Int32(timeout * 1000)) else { return nil }
        defer { rd_kafka_message_destroy(message) }
        let m = message.pointee
        if m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF { return nil }
        guard m.err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(operation: "reading from \(brokers)", m.err) }
        func bytes(_ p: UnsafeMutableRawPointer?, _ n: Int) -> [UInt8] {
            guard let p, n > 0 else { return [] }
            return Array(UnsafeRawBufferPointer(start: p, count: n))
        }
        return KafkaMessage(
            partition: m.partition, offset: m.offset, key: bytes(m.key, m.key_len), value: bytes(m.payload, m.len),
            timestampMs: rd_kafka_message_timestamp(message, nil))
    }

    /// Commits `offsets` (each partition's next offset to read) under the consumer group, without waiting: the
    /// group's offsets are for lag tools (replay resumes from its own checkpoint).
    /// - Throws: ``KafkaError`` when the commit cannot be queued.
    public func commit(topic: String, offsets: [Int32: Int64]) throws {
        guard !offsets.isEmpty else { return }
        let list = rd_kafka_topic_partition_list_new(Int32(offsets.count))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for (partition, offset) in offsets.sorted(by: { $0.key < $1.key }) {
            rd_kafka_topic_partition_list_add(list, topic, partition)!.pointee.offset = offset
        }
        let err = rd_kafka_commit(handle, list, 1)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(operation: "committing offsets of \(topic)", err) }
    }

    /// Closes the consumer (leaves the group); call before releasing it.
    public func close() { rd_kafka_consumer_close(handle) }
}

/// librdkafka's mock cluster: a real-protocol Kafka on localhost listeners, inside this process (for tests and
/// `replay kafka-mock`). Owns the mock and the handle it lives in.
public final class KafkaMockCluster {
    private let owner: OpaquePointer
    private let cluster: OpaquePointer
    /// The listeners' addresses, as `bootstrap.servers`.
    public let bootstrap: String

    /// Starts a mock cluster of `brokers` brokers.
    /// - Throws: ``KafkaError`` when it cannot start.
    public init(brokers: Int = 1) throws {
        let conf = try KafkaConfiguration(properties: [("log_level", "0")]).make()
        var message = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &message, message.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(operation: "starting a mock cluster", message: cText(message))
        }
        guard let mock = rd_kafka_mock_cluster_new(rk, Int32(brokers)) else {
            rd_kafka_destroy(rk)
            throw KafkaError(operation: "starting a mock cluster", message: "rd_kafka_mock_cluster_new failed")
        }
        owner = rk
        cluster = mock
        bootstrap = String(cString: rd_kafka_mock_cluster_bootstraps(mock))
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster)
        rd_kafka_destroy(owner)
    }

    /// Creates `topic` with `partitions` partitions on the mock.
    /// - Throws: ``KafkaError`` when the mock refuses.
    public func createTopic(_ topic: String, partitions: Int) throws {
        let err = rd_kafka_mock_topic_create(cluster, topic, Int32(partitions), 1)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(operation: "creating topic \(topic) on the mock", err) }
    }

    /// Kafka's request kinds the tests inject errors into (the protocol's ApiKey numbers).
    public enum Request: Int16, Sendable {
        case produce = 0
        case fetch = 1
        case listOffsets = 2
        case metadata = 3
        case offsetCommit = 8
    }

    /// The next `count` requests of `kind` to the mock fail with `code` (a librdkafka error code, e.g. 7 for
    /// REQUEST_TIMED_OUT, 6 for NOT_LEADER_OR_FOLLOWER), whatever client sends them.
    public func failNext(_ kind: Request, count: Int, code: Int32) {
        let errors = [rd_kafka_resp_err_t](repeating: rd_kafka_resp_err_t(rawValue: code), count: count)
        rd_kafka_mock_push_request_errors_array(cluster, kind.rawValue, count, errors)
    }

    /// Takes broker `id` (1-based) down (its connections closed, none accepted) or brings it up again.
    public func setBroker(_ id: Int32, up: Bool) {
        _ = up ? rd_kafka_mock_broker_set_up(cluster, id) : rd_kafka_mock_broker_set_down(cluster, id)
    }
}
