import Foundation
import ReplayStream

/// The per-day barrier of a sharded job (`replay run kafka://B/TOPIC --partitions LIST --job NAME`), held by a Kafka
/// topic, not a service: closing day D, each instance publishes its day-D active user-days to the job's topic, keyed
/// by its partitions and the day, and reads the topic until every partition of the input topic is covered for day D:
/// by an instance's day-D message, or by a message for a later day (an instance whose first closed day is later had
/// no rows on D). The day's expanding thresholds then merge every instance's user-days: the one-instance values.
///
/// While an instance is down the others wait at the day it has not sent (``waiting`` says for which partitions). A
/// restarted instance sends the days it closes again with the same contents; the last message per key counts.
/// One job has one partition split: instances whose partitions overlap would be counted twice.
public final class KafkaThresholdsBarrier: ThresholdsExchange {
    /// One instance's message: its partitions, the day, its active user-days.
    struct DayShare: Codable {
        var partitions: [Int32]
        var day: Int32
        var userDays: [ActiveUserDay]
    }

    private let producer: KafkaProducer
    private let consumer: KafkaConsumer
    private let topic: String
    private let own: [Int32]
    private let ownKey: String
    private let allPartitions: Set<Int32>
    private let shouldStop: () -> Bool
    private let onWait: (CalendarDay, [Int32]) -> Void
    /// Each other instance's shares by day, and the newest day it sent.
    private var shares: [String: [Int32: [ActiveUserDay]]] = [:]
    private var partitionsOf: [String: [Int32]] = [:]
    private var newestDay: [String: Int32] = [:]
    /// The partitions the barrier waits for, and for which day (nil when not waiting).
    public private(set) var waiting: (day: CalendarDay, partitions: [Int32])?

    /// The barrier of job topic `topic` on `brokers` for an instance over `partitions` of an input topic with
    /// `partitionCount` partitions. `shouldStop` is polled while waiting; `onWait` is told, two seconds into a wait
    /// and every five after, the day and the partitions not yet in, and (no partitions) when a wait ends.
    /// - Throws: ``KafkaError`` when the job topic is missing or the cluster cannot be reached.
    public init(
        brokers: String, topic: String, partitions: [Int32], partitionCount: Int, group: String,
        shouldStop: @escaping () -> Bool, onWait: @escaping (CalendarDay, [Int32]) -> Void = { _, _ in }
    ) throws {
        // A day waits on these messages: sent at once, fetched without the broker's usual half-second wait.
        producer = try KafkaProducer(brokers: brokers, properties: [("linger.ms", "0")])
        consumer = try KafkaConsumer(brokers: brokers, group: group, properties: [("fetch.wait.max.ms", "10")])
        guard try consumer.partitionCount(topic: topic) != nil else {
            throw KafkaError(
                operation: "joining job topic \(topic) on \(brokers)",
                message: "the cluster has no topic \(topic); create it (1 partition) for the job's instances")
        }
        try consumer.assign(topic: topic, offsets: [0: -2])
        self.topic = topic
        own = partitions.sorted()
        ownKey = own.map(String.init).joined(separator: ",")
        allPartitions = Set((0..<Int32(partitionCount)).map { $0 })
        self.shouldStop = shouldStop
        self.onWait = onWait
    }

    public func exchange(day: CalendarDay, own userDays: [ActiveUserDay]) throws -> [ActiveUserDay] {
        let share = DayShare(partitions: own, day: day.rawValue, userDays: userDays)
        try producer.send(topic: topic, partition: 0, key: Array("\(ownKey)|\(day.rawValue)".utf8), value: Array(try JSONEncoder().encode(share)), timestampMs: 0)
        try producer.flush()
        var lastNote = Date().addingTimeInterval(-3)  // the first note after two seconds, then every five
        while true {
            while let message = try consumer.poll(timeout: 0.05) { take(message) }
            let missing = self.missing(day.rawValue)
            if missing.isEmpty {
                if waiting != nil { onWait(day, []) }
                waiting = nil
                return shares.values.flatMap { $0[day.rawValue] ?? [] }
            }
            waiting = (day, missing)
            if Date().timeIntervalSince(lastNote) >= 5 {
                onWait(day, missing)
                lastNote = Date()
            }
            if shouldStop() {
                throw StoppedWhileWaiting(day: day, waitingFor: "the job's partitions \(missing.map(String.init).joined(separator: ","))")
            }
        }
    }

    /// Takes another instance's share (this instance's own, sent before a restart, is skipped).
    private func take(_ message: KafkaMessage) {
        guard let share = try? JSONDecoder().decode(DayShare.self, from: Data(message.value)) else { return }
        let key = share.partitions.map(String.init).joined(separator: ",")
        guard key != ownKey else { return }
        shares[key, default: [:]][share.day] = share.userDays
        partitionsOf[key] = share.partitions
        newestDay[key] = max(newestDay[key] ?? .min, share.day)
    }

    /// The input partitions no instance has covered for `day` yet (this instance's own excepted).
    private func missing(_ day: Int32) -> [Int32] {
        var covered = Set(own)
        for (key, partitions) in partitionsOf where shares[key]?[day] != nil || (newestDay[key] ?? .min) > day {
            covered.formUnion(partitions)
        }
        return allPartitions.subtracting(covered).sorted()
    }

    /// Closes the barrier's consumer; call before releasing it.
    public func close() { consumer.close() }
}
