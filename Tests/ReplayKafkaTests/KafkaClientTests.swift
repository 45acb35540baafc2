import Foundation
import Testing
@testable import ReplayKafka

/// The librdkafka wrapper against librdkafka's mock cluster (a real-protocol Kafka on localhost, in process).
@Suite struct KafkaClientTests {
    @Test func messagesGoInAndComeBackWithKeysValuesAndTimestamps() throws {
        let cluster = try KafkaMockCluster(brokers: 1)
        try cluster.createTopic("t", partitions: 3)
        let producer = try KafkaProducer(brokers: cluster.bootstrap)
        #expect(try producer.partitionCount(topic: "t") == 3)
        for i in 0..<300 {
            try producer.send(
                topic: "t", partition: Int32(i % 3), key: Array("user-\(i % 7)".utf8), value: Array("row \(i)".utf8),
                timestampMs: 1_593_898_068_000 + Int64(i))
        }
        try producer.flush()
        #expect(producer.acknowledged == [0: 100, 1: 100, 2: 100])
        for p: Int32 in 0..<3 { #expect(try producer.watermarks(topic: "t", partition: p) == (0, 100)) }

        let consumer = try KafkaConsumer(brokers: cluster.bootstrap, group: "test")
        defer { consumer.close() }
        try consumer.assign(topic: "t", offsets: [0: -2, 1: -2, 2: -2])
        var seen: [Int32: [KafkaMessage]] = [:]
        var idle = 0
        while seen.values.map(\.count).reduce(0, +) < 300 && idle < 100 {
            if let m = try consumer.poll(timeout: 0.1) { seen[m.partition, default: []].append(m) } else { idle += 1 }
        }
        for p: Int32 in 0..<3 {
            let messages = try #require(seen[p])
            #expect(messages.map(\.offset) == Array(0..<100))
            #expect(messages.map { String(decoding: $0.value, as: UTF8.self) } == stride(from: Int(p), to: 300, by: 3).map { "row \($0)" })
            #expect(messages.map(\.timestampMs) == stride(from: Int64(p), to: 300, by: 3).map { 1_593_898_068_000 + $0 })
        }
    }

    @Test func errorsNameTheOperation() throws {
        let cluster = try KafkaMockCluster(brokers: 1)
        let producer = try KafkaProducer(brokers: cluster.bootstrap)
        #expect(try producer.partitionCount(topic: "absent") == nil)
        #expect(throws: KafkaError.self) { try KafkaProducer(brokers: cluster.bootstrap, properties: [("no.such.property", "1")]) }
    }
}
