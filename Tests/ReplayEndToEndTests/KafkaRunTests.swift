import Foundation
import ReplayKafka
import ReplayTestSupport
import Testing

/// `replay run kafka://BOOTSTRAP/TOPIC`: the third driver of the engine, against librdkafka's mock cluster (in this
/// process; `replay` runs as its own process). The topic is filled by `replay publish`.
///
/// Not under ThreadSanitizer (librdkafka's C11 threads crash its runtime; see PublishTests).
@Suite(.serialized, .disabled(if: Harness.binaryIsThreadSanitized, "librdkafka's C11 threads are invisible to the TSan runtime, which crashes"))
struct KafkaRunTests {
    /// A mock cluster whose topic `rows` (3 partitions) holds the archive's accepted rows, published by replay.
    static func published(
        _ outer: URL, in dir: URL, cluster given: KafkaMockCluster? = nil, topic: String = "rows", partitions: Int = 3
    ) throws -> KafkaMockCluster {
        let cluster = try given ?? KafkaMockCluster()
        try cluster.createTopic(topic, partitions: partitions)
        let publish = try Harness.run(
            ["publish", outer.path, "--brokers", cluster.bootstrap, "--topic", topic, "--partitions", "\(partitions)", "--state", "p-\(topic).state",
             "--quiet"],
            in: dir)
        #expect(publish.status == 0, "\(publish.stderr)")
        return cluster
    }

    /// `panel`'s compacted CSV (`replay export`).
    static func exported(_ panel: String, in dir: URL) throws -> Data {
        let csv = panel + ".csv"
        let r = try Harness.run(["export", panel, "--csv", csv, "--quiet"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        return try Data(contentsOf: dir.appendingPathComponent(csv))
    }

    @Test func aTopicReadToItsEndGivesTheArchivesPanel() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        let cluster = try Self.published(outer, in: dir)
        let archive = try Harness.run(["run", outer.path, "--state", "a", "--out", "a.jsonl", "--thresholds", "expanding", "--quiet"], in: dir)
        #expect(archive.status == 0)
        let topic = "kafka://\(cluster.bootstrap)/rows"
        let run = try Harness.run(
            ["run", topic, "--exit-at-end", "--state", "k", "--out", "k.jsonl", "--allowed-lateness", "1h", "--summary-json", "k.json"], in: dir)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("late rows:        0"), "\(run.stderr)")
        #expect(try Self.exported("k.jsonl", in: dir) == Self.exported("a.jsonl", in: dir))
        // The run ended: a rerun has nothing to do; another partition list is another feed.
        #expect(try Harness.run(["run", topic, "--exit-at-end", "--state", "k", "--out", "k.jsonl", "--allowed-lateness", "1h", "--quiet"], in: dir).status == 0)
        let other = try Harness.run(
            ["run", topic, "--partitions", "0-1", "--exit-at-end", "--state", "k", "--out", "k.jsonl", "--allowed-lateness", "1h", "--quiet"], in: dir)
        #expect(other.status == 4)
        #expect(other.stderr.contains("input: the state has kafka topic=rows partitions=all, this run has kafka topic=rows partitions=0,1"), "\(other.stderr)")
    }

    @Test func partitionsAsShardsUniteIntoThePanelWithFixedThresholds() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        let cluster = try Self.published(outer, in: dir)
        let fixed = ["--thresholds", "fixed:14,0.5"]
        #expect(try Harness.run(["run", outer.path, "--state", "a", "--out", "a.jsonl", "--quiet"] + fixed, in: dir).status == 0)
        var union = Data()
        for (name, partitions) in [("s01", "0-1"), ("s2", "2")] {
            let r = try Harness.run(
                ["run", "kafka://\(cluster.bootstrap)/rows", "--partitions", partitions, "--exit-at-end", "--state", name, "--out", name + ".jsonl",
                 "--allowed-lateness", "1h", "--quiet"] + fixed, in: dir)
            #expect(r.status == 0, "\(r.stderr)")
            union += try Data(contentsOf: dir.appendingPathComponent(name + ".jsonl"))
        }
        try union.write(to: dir.appendingPathComponent("union.jsonl"))
        #expect(try Self.exported("union.jsonl", in: dir) == Self.exported("a.jsonl", in: dir))
    }

    @Test(.disabled(if: Harness.binaryIsSanitized, "killed runs are slow under the sanitizers"))
    func killNineAnywhereThenResumeGivesThePanel() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive(users: 60, videos: 300, days: 30, seed: 5)
        let cluster = try Self.published(outer, in: dir)
        let archive = try Harness.run(["run", outer.path, "--state", "a", "--out", "a.jsonl", "--thresholds", "expanding", "--quiet"], in: dir)
        #expect(archive.status == 0)
        let run = ["run", "kafka://\(cluster.bootstrap)/rows", "--exit-at-end", "--state", "k", "--out", "k.jsonl", "--allowed-lateness", "1h",
                   "--checkpoint-every", "2000ev", "--quiet"]
        let seed = testSeed(default: 23)
        var rng = SeededGenerator(seed: seed)
        let rounds = try Harness.killRepeatedly(run, in: dir, rounds: 30, kills: 8) { 0.05 + rng.unit() * 0.6 }
        let kills = rounds.kills
        if let ended = rounds.ended { #expect(ended.status == 0, "seed \(seed): round \(ended.round)") }
        let rest = try Harness.run(run, in: dir)
        #expect(rest.status == 0, "seed \(seed): \(rest.stderr)")
        #expect(kills >= 3, "seed \(seed): \(kills) kills")
        #expect(try Self.exported("k.jsonl", in: dir) == Self.exported("a.jsonl", in: dir), "seed \(seed): \(kills) kills")
    }

    /// Every message of `topic` by key: each key's values (a resumed run sends the records since its checkpoint again).
    static func messagesByKey(_ cluster: KafkaMockCluster, topic: String, partitions: Int32) throws -> [String: [String]] {
        var byKey: [String: [String]] = [:]
        for m in try PublishTests.consume(cluster, topic: topic, partitions: partitions) {
            byKey[String(decoding: m.key, as: UTF8.self), default: []].append(String(decoding: m.value, as: UTF8.self))
        }
        return byKey
    }

    /// Records to a topic, as CSV rows of final records (small messages: the mock cluster keeps ~1 MB a partition and
    /// drops older messages). Killed at random moments and resumed, the topic holds each key's row, every copy of it
    /// the same bytes, and those rows are the archive run's.
    @Test(.disabled(if: Harness.binaryIsSanitized, "killed runs are slow under the sanitizers"))
    func recordsToATopicAreThePanelAcrossKills() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        let cluster = try Self.published(outer, in: dir)
        try cluster.createTopic("user_day", partitions: 2)
        let form = ["--thresholds", "expanding", "--format", "csv", "--emit", "final", "--quiet"]
        #expect(try Harness.run(["run", outer.path, "--state", "a", "--out", "a.csv"] + form, in: dir).status == 0)
        let run = ["run", "kafka://\(cluster.bootstrap)/rows", "--exit-at-end", "--state", "k", "--out", "kafka://\(cluster.bootstrap)/user_day",
                   "--allowed-lateness", "1h", "--checkpoint-every", "300ev"] + form
        // The kills land within the first 30% of an uninterrupted run's time (timed here, into a topic of its own):
        // each resumed run has at least 70% of the work left, so it is killed too, however fast the machine.
        try cluster.createTopic("timed", partitions: 2)
        let started = Date()
        let timed = try Harness.run(
            ["run", "kafka://\(cluster.bootstrap)/rows", "--exit-at-end", "--state", "t", "--out", "kafka://\(cluster.bootstrap)/timed",
             "--allowed-lateness", "1h", "--checkpoint-every", "300ev"] + form, in: dir)
        #expect(timed.status == 0, "\(timed.stderr)")
        let uninterrupted = Date().timeIntervalSince(started)
        let seed = testSeed(default: 29)
        var rng = SeededGenerator(seed: seed)
        let rounds = try Harness.killRepeatedly(run, in: dir, rounds: 30, kills: 6) { 0.02 + rng.unit() * 0.3 * uninterrupted }
        let kills = rounds.kills
        if let ended = rounds.ended { #expect(ended.status == 0, "seed \(seed): round \(ended.round)") }
        let rest = try Harness.run(run, in: dir)
        #expect(rest.status == 0, "seed \(seed): \(rest.stderr)")
        #expect(kills >= 2, "seed \(seed): \(kills) kills")
        let topic = try Self.messagesByKey(cluster, topic: "user_day", partitions: 2)
        #expect(topic.values.allSatisfy { Set($0).count == 1 }, "seed \(seed): a key sent twice with other bytes")
        let rows = try String(contentsOf: dir.appendingPathComponent("a.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
        var file: [String: String] = [:]
        for row in rows {
            let fields = row.split(separator: ",", maxSplits: 2)
            file["\(fields[0])|\(fields[1])"] = String(row)
        }
        #expect(topic.mapValues { $0[0] } == file, "seed \(seed): \(kills) kills, \(topic.count) keys, \(file.count) expected")
    }

    /// Broker faults: retriable request errors on produce, fetch and offset listing are retried by librdkafka (the
    /// run ends 0 with the archive's rows); a broker that goes down mid-run and comes back is waited out, or the run
    /// ends with exit 6 and a rerun finishes; either way no key is missing or sent with other bytes.
    @Test(.disabled(if: Harness.binaryIsSanitized, "slow under the sanitizers"))
    func brokerFaultsAreRetriedOrEndInAClearError() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        let cluster = try Self.published(outer, in: dir)
        try cluster.createTopic("user_day", partitions: 2)
        let form = ["--thresholds", "expanding", "--format", "csv", "--emit", "final", "--quiet"]
        #expect(try Harness.run(["run", outer.path, "--state", "a", "--out", "a.csv"] + form, in: dir).status == 0)
        let run = ["run", "kafka://\(cluster.bootstrap)/rows", "--exit-at-end", "--state", "k", "--out", "kafka://\(cluster.bootstrap)/user_day",
                   "--allowed-lateness", "1h", "--checkpoint-every", "300ev"] + form
        // REQUEST_TIMED_OUT (7) and NOT_LEADER_OR_FOLLOWER (6): retriable.
        cluster.failNext(.produce, count: 4, code: 7)
        cluster.failNext(.fetch, count: 3, code: 6)
        cluster.failNext(.listOffsets, count: 2, code: 7)
        let process = Process()
        process.executableURL = Harness.binary
        process.arguments = run
        process.currentDirectoryURL = dir
        let stderr = Pipe()
        process.standardError = stderr
        try process.run()
        Thread.sleep(forTimeInterval: 0.15)
        cluster.setBroker(1, up: false)
        Thread.sleep(forTimeInterval: 1.5)
        cluster.setBroker(1, up: true)
        process.waitUntilExit()
        let said = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect([0, 6].contains(process.terminationStatus), "\(process.terminationStatus): \(said)")
        if process.terminationStatus == 6 { #expect(said.hasPrefix("replay: "), "\(said)") }
        let rest = try Harness.run(run, in: dir)
        #expect(rest.status == 0, "\(rest.stderr)")
        let topic = try Self.messagesByKey(cluster, topic: "user_day", partitions: 2)
        #expect(topic.values.allSatisfy { Set($0).count == 1 }, "a key sent twice with other bytes")
        let rows = try String(contentsOf: dir.appendingPathComponent("a.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
        var file: [String: String] = [:]
        for row in rows {
            let fields = row.split(separator: ",", maxSplits: 2)
            file["\(fields[0])|\(fields[1])"] = String(row)
        }
        #expect(topic.mapValues { $0[0] } == file, "\(topic.count) keys, \(file.count) expected; first run: \(process.terminationStatus) \(said)")
    }

    /// A job of three instances over two partitions each, with expanding thresholds agreed through the job's topic:
    /// their outputs together are the archive replay's panel, with no instance killed and after 20 kills spread over
    /// the three (each killed instance restarted at once; the others wait at the barrier meanwhile).
    @Test(.disabled(if: Harness.binaryIsSanitized, "killed runs are slow under the sanitizers"))
    func aJobsShardsAgreeOnExpandingThresholdsAcrossKills() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        let cluster = try KafkaMockCluster()
        try cluster.createTopic("rows", partitions: 6)
        for job in ["calm", "killed"] { try cluster.createTopic("replay-job-\(job)", partitions: 1) }
        let publish = try Harness.run(
            ["publish", outer.path, "--brokers", cluster.bootstrap, "--topic", "rows", "--partitions", "6", "--state", "p.state", "--quiet"], in: dir)
        #expect(publish.status == 0, "\(publish.stderr)")
        #expect(try Harness.run(["run", outer.path, "--state", "a", "--out", "a.jsonl", "--thresholds", "expanding", "--quiet"], in: dir).status == 0)
        let archive = try Self.exported("a.jsonl", in: dir)
        let seed = testSeed(default: 31)
        var rng = SeededGenerator(seed: seed)
        for (job, kills) in [("calm", 0), ("killed", 20)] {
            let shards = ["0-1", "2-3", "4-5"]
            func start(_ shard: String) throws -> Process {
                let process = Process()
                process.executableURL = Harness.binary
                process.arguments = [
                    "run", "kafka://\(cluster.bootstrap)/rows", "--partitions", shard, "--job", job, "--exit-at-end",
                    "--state", "\(job)-\(shard)", "--out", "\(job)-\(shard).jsonl", "--allowed-lateness", "1h", "--checkpoint-every", "100ev", "--quiet",
                ]
                process.currentDirectoryURL = dir
                process.standardError = FileHandle.nullDevice
                try process.run()
                return process
            }
            var running = try shards.map(start)
            var killed = 0
            while killed < kills {
                Thread.sleep(forTimeInterval: 0.05 + rng.unit() * 0.3)
                let i = Int(rng.unit() * 3) % 3
                guard running[i].isRunning else {
                    if running.allSatisfy({ !$0.isRunning }) { break }
                    continue
                }
                kill(running[i].processIdentifier, SIGKILL)
                running[i].waitUntilExit()
                killed += 1
                running[i] = try start(shards[i])
            }
            for process in running { process.waitUntilExit() }
            for (shard, process) in zip(shards, running) {
                #expect(process.terminationStatus == 0, "seed \(seed): \(job) \(shard) ended \(process.terminationStatus)")
            }
            #expect(killed == kills, "seed \(seed): \(killed) kills")
            var union = Data()
            for shard in shards { union += try Data(contentsOf: dir.appendingPathComponent("\(job)-\(shard).jsonl")) }
            try union.write(to: dir.appendingPathComponent("\(job).jsonl"))
            #expect(try Self.exported("\(job).jsonl", in: dir) == archive, "seed \(seed): \(job), \(killed) kills")
        }
    }

    /// Batch thresholds over a topic read to its end (`--exit-at-end`): no day closes before the input ends, then the
    /// whole log's distribution (a job's instances exchange theirs) gives the archive replay's batch panel, for one
    /// instance and for a job of three shards.
    @Test func batchThresholdsOverATopicReadToItsEndGiveTheArchivesPanel() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        let cluster = try Self.published(outer, in: dir, topic: "rows", partitions: 6)
        try cluster.createTopic("replay-job-b", partitions: 1)
        #expect(try Harness.run(["run", outer.path, "--state", "a", "--out", "a.jsonl", "--quiet"], in: dir).status == 0)
        let archive = try Self.exported("a.jsonl", in: dir)
        let topic = "kafka://\(cluster.bootstrap)/rows"
        let one = try Harness.run(["run", topic, "--thresholds", "batch", "--exit-at-end", "--state", "one", "--out", "one.jsonl", "--quiet"], in: dir)
        #expect(one.status == 0, "\(one.stderr)")
        #expect(try Self.exported("one.jsonl", in: dir) == archive)
        var running: [Process] = []
        for shard in ["0-1", "2-3", "4-5"] {
            let process = Process()
            process.executableURL = Harness.binary
            process.arguments = [
                "run", topic, "--partitions", shard, "--job", "b", "--thresholds", "batch", "--exit-at-end", "--state", "b\(shard)",
                "--out", "b\(shard).jsonl", "--quiet",
            ]
            process.currentDirectoryURL = dir
            try process.run()
            running.append(process)
        }
        var union = Data()
        for (shard, process) in zip(["0-1", "2-3", "4-5"], running) {
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "shard \(shard)")
            union += try Data(contentsOf: dir.appendingPathComponent("b\(shard).jsonl"))
        }
        try union.write(to: dir.appendingPathComponent("b.jsonl"))
        #expect(try Self.exported("b.jsonl", in: dir) == archive)
        let following = try Harness.run(["run", topic, "--thresholds", "batch", "--state", "f", "--out", "f.jsonl"], in: dir)
        #expect(following.status == 64, "batch needs the topic's end: \(following.stderr)")
    }

    @Test func refusalsSayWhatToDo() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        let cluster = try KafkaMockCluster()
        try cluster.createTopic("rows", partitions: 2)
        let missing = try Harness.run(["run", "kafka://\(cluster.bootstrap)/nope", "--state", "m", "--out", "m.jsonl", "--exit-at-end"], in: dir)
        #expect(missing.status == 6)
        #expect(missing.stderr.contains("the cluster has no topic nope"), "\(missing.stderr)")
        let partition = try Harness.run(
            ["run", "kafka://\(cluster.bootstrap)/rows", "--partitions", "5", "--state", "p", "--out", "p.jsonl", "--exit-at-end"], in: dir)
        #expect(partition.status == 6)
        #expect(partition.stderr.contains("it has 2 partitions, no partition 5"), "\(partition.stderr)")
        let noTopic = try Harness.run(["run", outer.path, "--state", "o", "--out", "kafka://\(cluster.bootstrap)/panel", "--quiet"], in: dir)
        #expect(noTopic.status == 6)
        #expect(noTopic.stderr.contains("writing records to panel on \(cluster.bootstrap): the cluster has no topic panel and did not create it"), "\(noTopic.stderr)")
        let noJob = try Harness.run(
            ["run", "kafka://\(cluster.bootstrap)/rows", "--partitions", "0", "--job", "j", "--state", "j", "--out", "j.jsonl", "--exit-at-end"], in: dir)
        #expect(noJob.status == 6)
        #expect(noJob.stderr.contains("joining job topic replay-job-j on \(cluster.bootstrap): the cluster has no topic replay-job-j"), "\(noJob.stderr)")
        // An instance alone in a job of two waits at its first day for partition 1's instance; a stop ends the wait.
        let published = try Self.published(outer, in: dir, cluster: cluster, topic: "two", partitions: 2)
        try cluster.createTopic("replay-job-w", partitions: 1)
        let alone = Process()
        alone.executableURL = Harness.binary
        alone.arguments = ["run", "kafka://\(published.bootstrap)/two", "--partitions", "0", "--job", "w", "--state", "w", "--out", "w.jsonl",
                           "--allowed-lateness", "1h", "--exit-at-end"]
        alone.currentDirectoryURL = dir
        let said = Pipe()
        alone.standardError = said
        try alone.run()
        Thread.sleep(forTimeInterval: 6)
        #expect(alone.isRunning, "it waits for the other instance")
        let status = try Harness.run(["status", "--state", "w"], in: dir)
        #expect(status.stdout.contains("waits for job w's partitions 1 (for "), "\(status.stdout)")
        #expect(status.stdout.contains("kafka topic=two partitions=0 job=w"), "\(status.stdout)")
        kill(alone.processIdentifier, SIGINT)
        alone.waitUntilExit()
        let text = String(decoding: said.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(alone.terminationStatus == 130, "\(text)")
        #expect(text.contains("waits for job w's partitions 1 (their instance is behind or down)"), "\(text)")
        #expect(text.contains("waited for the job's partitions 1; the last checkpoint stands: rerun the same command to go on"), "\(text)")
        let empty = try Harness.run(["run", "kafka://\(cluster.bootstrap)/rows", "--state", "e", "--out", "e.jsonl", "--exit-at-end", "--quiet"], in: dir)
        #expect(empty.status == 0, "an empty topic read to its end is an empty feed: \(empty.stderr)")
    }
}
