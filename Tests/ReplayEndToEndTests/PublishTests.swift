import Foundation
import ReplayKafka
import ReplayTestSupport
import Testing

/// `replay publish` against librdkafka's mock cluster (in this process; the publish runs as its own process).
///
/// Not under ThreadSanitizer: Debian's librdkafka starts its threads with C11 `thrd_create`, which the TSan
/// runtime does not intercept, so the runtime crashes (SIGSEGV in its allocator) on their first allocation.
/// publish's own code sends and serves its delivery reports on one thread; AddressSanitizer runs these tests.
@Suite(.serialized, .disabled(if: Harness.binaryIsThreadSanitized, "librdkafka's C11 threads are invisible to the TSan runtime, which crashes"))
struct PublishTests {
    /// Every message of `topic` (its `partitions` partitions), in partition and offset order.
    static func consume(_ cluster: KafkaMockCluster, topic: String, partitions: Int32) throws -> [KafkaMessage] {
        let consumer = try KafkaConsumer(brokers: cluster.bootstrap, group: "publish-tests-\(UUID().uuidString)")
        defer { consumer.close() }
        var ends: [Int32: Int64] = [:]
        for p in 0..<partitions { ends[p] = try consumer.watermarks(topic: topic, partition: p).high }
        try consumer.assign(topic: topic, offsets: Dictionary(uniqueKeysWithValues: (0..<partitions).map { ($0, Int64(-2)) }))
        var messages: [KafkaMessage] = []
        var idle = 0
        while messages.count < ends.values.reduce(0, +) && idle < 100 {
            if let m = try consumer.poll(timeout: 0.1) { messages.append(m) } else { idle += 1 }
        }
        return messages.sorted { ($0.partition, $0.offset) < ($1.partition, $1.offset) }
    }

    /// The messages as the JSON lines a live feed reads, in event-time order (partition, then offset, on ties).
    static func feed(_ messages: [KafkaMessage]) -> String {
        messages.sorted { ($0.timestampMs, $0.partition, $0.offset) < ($1.timestampMs, $1.partition, $1.offset) }
            .map { String(decoding: $0.value, as: UTF8.self) + "\n" }.joined()
    }

    @Test func everyAcceptedRowIsPublishedOnceAndReplaysToTheArchivesPanel() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        let cluster = try KafkaMockCluster()
        try cluster.createTopic("rows", partitions: 3)
        let published = try Harness.run(
            ["publish", outer.path, "--brokers", cluster.bootstrap, "--topic", "rows", "--partitions", "3", "--state", "p.state", "--quiet"], in: dir)
        #expect(published.status == 0, "\(published.stderr)")
        let archive = try Harness.run(
            ["run", outer.path, "--state", "a.state", "--out", "a.jsonl", "--thresholds", "expanding", "--summary-json", "a.json", "--quiet"], in: dir)
        #expect(archive.status == 0)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("a.json"))) as? [String: Any])
        let messages = try Self.consume(cluster, topic: "rows", partitions: 3)
        #expect(messages.count == summary["rows_accepted"] as? Int)
        for m in messages {
            let user = try #require(Int(String(decoding: m.key, as: UTF8.self)))
            #expect(Int32(user % 3) == m.partition, "user \(user) in partition \(m.partition)")
        }
        try Self.feed(messages).write(to: dir.appendingPathComponent("feed.jsonl"), atomically: true, encoding: .utf8)
        let live = try Harness.run(
            ["run", "-", "--input-format", "jsonl", "--allowed-lateness", "1d", "--state", "l.state", "--out", "l.jsonl", "--quiet"], in: dir,
            stdin: dir.appendingPathComponent("feed.jsonl"))
        #expect(live.status == 0, "\(live.stderr)")
        for (name, panel) in [("a", "a.jsonl"), ("l", "l.jsonl")] {
            #expect(try Harness.run(["export", panel, "--csv", "\(name).csv", "--quiet"], in: dir).status == 0)
        }
        #expect(try Data(contentsOf: dir.appendingPathComponent("l.csv")) == Data(contentsOf: dir.appendingPathComponent("a.csv")))
        // A second publish of the same state folder has nothing left to send.
        let again = try Harness.run(
            ["publish", outer.path, "--brokers", cluster.bootstrap, "--topic", "rows", "--partitions", "3", "--state", "p.state", "--quiet"], in: dir)
        #expect(again.status == 0)
        #expect(try Self.consume(cluster, topic: "rows", partitions: 3).count == messages.count)
    }

    @Test(.disabled(if: Harness.binaryIsSanitized, "a dozen killed publishes are slow under the sanitizers"))
    func killNineAnywhereThenRerunPublishesEachRowOnce() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        let cluster = try KafkaMockCluster()
        for topic in ["reference", "killed"] { try cluster.createTopic(topic, partitions: 3) }
        let common = ["publish", outer.path, "--brokers", cluster.bootstrap, "--partitions", "3", "--quiet"]
        #expect(try Harness.run(common + ["--topic", "reference", "--state", "r.state"], in: dir).status == 0)
        let reference = try Self.consume(cluster, topic: "reference", partitions: 3)
        // Paced so that a publish takes about four seconds: the kills land during the ingest and between messages.
        let seed = testSeed(default: 17)
        var rng = SeededGenerator(seed: seed)
        let rounds = try Harness.killRepeatedly(common + ["--topic", "killed", "--state", "k.state", "--speed", "300000"], in: dir, rounds: 40, kills: 10) { rng.unit() * 0.8 }
        let kills = rounds.kills
        if let ended = rounds.ended { #expect(ended.status == 0, "seed \(seed): round \(ended.round)") }
        let rest = try Harness.run(common + ["--topic", "killed", "--state", "k.state"], in: dir)
        #expect(rest.status == 0, "\(rest.stderr)")
        let got = try Self.consume(cluster, topic: "killed", partitions: 3)
        #expect(kills >= 5, "seed \(seed): \(kills) kills")
        #expect(got.map(\.value) == reference.map(\.value), "seed \(seed): \(got.count) messages, \(reference.count) expected")
    }

    @Test func refusalsSayWhatToDo() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        let cluster = try KafkaMockCluster()
        try cluster.createTopic("rows", partitions: 3)
        try cluster.createTopic("four", partitions: 4)
        let publish = ["publish", outer.path, "--brokers", cluster.bootstrap, "--quiet"]
        let wrongCount = try Harness.run(publish + ["--topic", "four", "--partitions", "3", "--state", "w.state"], in: dir)
        #expect(wrongCount.status == 6)
        #expect(wrongCount.stderr.contains("it has 4 partitions, not 3: publish keys users to partitions by that count — pass --partitions 4"), "\(wrongCount.stderr)")
        #expect(try Harness.run(publish + ["--topic", "rows", "--partitions", "3", "--state", "p.state"], in: dir).status == 0)
        let other = try Harness.run(publish + ["--topic", "rows", "--partitions", "3", "--state", "p.state", "--matrix", "big"], in: dir)
        #expect(other.status == 4)
        #expect(other.stderr.contains("state p.state: it records a publish of \(outer.path) (small matrix) into rows with 3 partitions; this one differs"), "\(other.stderr)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("d"), withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: dir.appendingPathComponent("d/notes.txt"))
        let foreign = try Harness.run(publish + ["--topic", "rows", "--partitions", "3", "--state", "d"], in: dir)
        #expect(foreign.status == 4)
        #expect(foreign.stderr.contains("state d: it is not a publish state folder (no publish.json)"), "\(foreign.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("d/notes.txt").path))
        let inside = try Harness.run(publish + ["--topic", "rows", "--partitions", "3", "--state", outer.path], in: dir)
        #expect(inside.status == 4)
        #expect(inside.stderr.contains("it is a file, not a folder; choose a folder for --state"), "\(inside.stderr)")
        let unreachable = try Harness.run(
            ["publish", outer.path, "--brokers", "127.0.0.1:1", "--topic", "rows", "--partitions", "3", "--state", "u.state"], in: dir)
        #expect(unreachable.status == 6)
        #expect(unreachable.stderr.hasPrefix("replay: reading the topics of 127.0.0.1:1: "), "\(unreachable.stderr)")
    }
}
