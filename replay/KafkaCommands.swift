import ArgumentParser
import Foundation
import ReplayKafka
import ReplayRun
import ReplayStream

extension Replay {
    /// `replay publish`: plays an archive into a Kafka topic as a simulated live feed.
    struct PublishCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "publish",
            abstract: "Play an archive's interactions into a Kafka topic, in replay order, keyed by user_id.",
            discussion: """
                Each accepted row becomes one message: key user_id, value the row as the JSON line replay run - reads, \
                timestamp its event time; partition user_id mod --partitions, so every user's rows are in one partition, \
                in order. Rejected rows are not sent (replay run on the archive lists them). The position is kept in \
                --state after every acknowledged batch: a stopped or killed publish, rerun, sends each row exactly once \
                (it is the topic's only writer while it runs).
                """)

        @Argument(help: "The KuaiRec download (18164998.zip), KuaiRec.zip, a folder or an interactions CSV.")
        var input: String
        @Option(name: .long, help: ArgumentHelp("Kafka bootstrap servers.", valueName: "host:port,..."))
        var brokers: String
        @Option(name: .long, help: "The topic (created with --partitions partitions when it does not exist).")
        var topic: String = "interactions"
        @Option(name: .long, help: "The topic's partitions (an existing topic must have as many).")
        var partitions = PositiveCount(6)
        @Option(name: .long, help: "Which interaction matrix.")
        var matrix: MatrixChoice = .small
        @Option(name: .long, help: ArgumentHelp("IANA time zone of the days and of the time text.", valueName: "zone"))
        var tz = NamedTimeZone("Asia/Shanghai")!
        @Option(name: .long, help: ArgumentHelp("Simulated seconds per wall second (default: as fast as the cluster takes them).", valueName: "x"))
        var speed: PlaybackSpeed?
        @Option(name: .long, help: "Publish's own state folder (its ordered events and position).")
        var state: String = "publish.state"
        @Flag(name: .long, help: "Start over (the topic keeps what it holds).")
        var fresh = false
        @Flag(name: .long, help: "No progress lines.")
        var quiet = false

        func validate() throws {
            try refuseEmptyPaths(["INPUT": input, "--state": state, "--brokers": brokers, "--topic": topic])
        }

        func run() throws {
            installStopHandlers()
            try runReportingErrors {
                var c = PublishConfiguration(
                    input: input, timeZone: tz.zone, brokers: brokers, topic: topic, partitions: partitions.value,
                    stateDirectory: state)
                c.matrix = matrix
                c.speed = speed?.factor
                c.fresh = fresh
                let started = Date()
                let position = try Publisher.run(c, shouldStop: { stopSignalReceived }) { p in
                    if !quiet { printError("replay: published \(grouped(Int(p.published))) of \(grouped(Int(p.total))) rows (through \(p.day))") }
                }
                let sent = position.sent.values.reduce(0, +)
                let seconds = String(format: "%.1f", Date().timeIntervalSince(started))
                if position.finished {
                    printError("replay: \(topic): \(grouped(Int(sent))) rows published into \(position.partitions) partitions in \(seconds) s (\(grouped(position.rowsRejected)) rejected rows not sent)")
                } else {
                    printError("replay: stopped after \(grouped(Int(sent))) rows; rerun the same command to continue")
                    throw ExitCode(ExitStatus.interrupted.rawValue)
                }
            }
        }
    }

    /// `replay kafka-mock`: a real-protocol Kafka in this process, for trying replay without a cluster.
    struct KafkaMockCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "kafka-mock",
            abstract: "Run librdkafka's mock Kafka cluster (localhost listeners) until stopped; print its bootstrap address.")

        @Option(name: .long, help: "Brokers in the cluster.")
        var brokers = PositiveCount(1)
        @Option(name: .long, help: ArgumentHelp("A topic to create, NAME:PARTITIONS (repeatable).", valueName: "name:partitions"))
        var topic: [String] = []

        func run() throws {
            installStopHandlers()
            try runReportingErrors {
                let cluster = try KafkaMockCluster(brokers: brokers.value)
                for spec in topic {
                    let parts = spec.split(separator: ":")
                    guard parts.count == 2, let count = Int(parts[1]), count > 0 else {
                        throw ValidationError("--topic \(spec): expected NAME:PARTITIONS, such as interactions:6")
                    }
                    try cluster.createTopic(String(parts[0]), partitions: count)
                }
                try OutputFile.write(Array((cluster.bootstrap + "\n").utf8), to: "-")
                while !stopSignalReceived { usleep(100_000) }
            }
        }
    }
}

/// `replay run kafka://BOOTSTRAP/TOPIC`: a live feed read from a Kafka topic's partitions.
struct KafkaInputOptions: ParsableArguments {
    @Option(
        name: .customLong("partitions"),
        help: ArgumentHelp("Kafka input: the partitions to read (0-1,4; default every partition).", valueName: "list"))
    var partitions: PartitionList?

    @Flag(name: .long, help: "Kafka input: read each partition up to the end offset it had when the run started, then close the days and exit (like kcat -e); without it the run follows the topic.")
    var exitAtEnd = false

    @Option(name: .long, help: ArgumentHelp("Kafka input: the consumer group progress is committed under, for lag tools (default replay-STATE).", valueName: "name"))
    var group: String?

    @Option(name: .long, help: ArgumentHelp("Kafka input, expanding thresholds: the sharded job this instance belongs to; each day's thresholds wait for every instance's active user-days through the topic replay-job-NAME (create it, 1 partition).", valueName: "name"))
    var job: String?

    /// The job's barrier for an instance reading `input`'s topic (nil without `--job`).
    func barrier(input: String, state: String, shouldStop: @escaping @Sendable () -> Bool) -> ThresholdsExchangeFactory? {
        guard let job, let (brokers, topic) = Self.address(input) else { return nil }
        let asked = partitions?.values
        return ThresholdsExchangeFactory {
            let probe = try KafkaConsumer(brokers: brokers, group: "replay-job-\(job)")
            guard let count = try probe.partitionCount(topic: topic) else {
                throw KafkaError(operation: "reading \(topic) from \(brokers)", message: "the cluster has no topic \(topic)")
            }
            let own = asked ?? (0..<Int32(count)).map { $0 }
            let barrier = try KafkaThresholdsBarrier(
                brokers: brokers, topic: "replay-job-\(job)", partitions: own, partitionCount: count,
                group: "replay-job-\(job)-" + own.map(String.init).joined(separator: ","), shouldStop: shouldStop
            ) { day, missing in
                JobWait.record(in: state, job: job, day: day, missing: missing)
                guard !missing.isEmpty else { return }
                printError("replay: \(day) waits for job \(job)'s partitions \(missing.map(String.init).joined(separator: ",")) (their instance is behind or down)")
            }
            return (barrier, { barrier.close() })
        }
    }

    /// `kafka://BOOTSTRAP/TOPIC` split into its brokers and topic; nil for another input.
    static func address(_ input: String) -> (brokers: String, topic: String)? {
        guard input.hasPrefix("kafka://") else { return nil }
        let rest = input.dropFirst("kafka://".count)
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        let brokers = String(rest[..<slash]), topic = String(rest[rest.index(after: slash)...])
        return brokers.isEmpty || topic.isEmpty || topic.contains("/") ? nil : (brokers, topic)
    }

    /// How the run makes its Kafka input, reading `input`'s topic from the position a checkpoint stored.
    func factory(input: String, state: String, idleClose: Double?) -> PositionedInputFactory? {
        guard let (brokers, topic) = Self.address(input) else { return nil }
        let partitions = partitions?.values
        let group = group ?? "replay-" + ((state as NSString).standardizingPath as NSString).lastPathComponent
        let exitAtEnd = exitAtEnd
        let listed = partitions.map { $0.map(String.init).joined(separator: ",") } ?? "all"
        return PositionedInputFactory(
            name: input, identity: "kafka topic=\(topic) partitions=\(listed)" + (job.map { " job=\($0)" } ?? ""),
            payloadName: KafkaFeedPosition.payloadName
        ) { stored in
            let source = try KafkaFeedSource(
                brokers: brokers, topic: topic, partitions: partitions, group: group,
                resume: try KafkaFeedSource.position(from: stored), exitAtEnd: exitAtEnd, idleClose: idleClose)
            return (source, source, { source.close() })
        }
    }
}

/// A list of partitions, `0-1,4`.
struct PartitionList: ExpressibleByArgument, Sendable {
    /// The partitions, ascending, each once.
    let values: [Int32]

    init?(argument: String) {
        var set = Set<Int32>()
        for part in argument.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), let low = Int32(bounds[0]), let high = Int32(bounds.last!), low >= 0, low <= high
            else { return nil }
            for p in low...high { set.insert(p) }
        }
        guard !set.isEmpty else { return nil }
        values = set.sorted()
    }
}

/// `--out kafka://BOOTSTRAP/TOPIC`: the run's records as messages (`KafkaLineOutput`); nil for a file.
func kafkaOutput(_ out: String) -> MessageOutputFactory? {
    guard let (brokers, topic) = KafkaInputOptions.address(out) else { return nil }
    return MessageOutputFactory(name: out) { try KafkaLineOutput(brokers: brokers, topic: topic) }
}

/// What a job's instance waits for, kept in its state folder (`events/job-wait.json`) while it waits, for `replay
/// status`: the job, the day, the partitions whose instance has not sent it, and since when.
struct JobWait: Codable {
    var job: String
    var day: String
    var partitions: [Int32]
    var since: Double

    static func path(in state: String) -> String { (state as NSString).appendingPathComponent("events/job-wait.json") }

    /// Records the wait (kept from its first note), or removes the record when `missing` is empty.
    static func record(in state: String, job: String, day: CalendarDay, missing: [Int32]) {
        let path = path(in: state)
        guard !missing.isEmpty else {
            try? FileManager.default.removeItem(atPath: path)
            return
        }
        let earlier = read(in: state).flatMap { $0.day == "\(day)" ? $0.since : nil }
        let wait = JobWait(job: job, day: "\(day)", partitions: missing, since: earlier ?? Date().timeIntervalSince1970)
        if let bytes = try? JSONEncoder().encode(wait) { try? AtomicFile.write(Array(bytes), to: path) }
    }

    static func read(in state: String) -> JobWait? {
        guard let data = FileManager.default.contents(atPath: path(in: state)) else { return nil }
        return try? JSONDecoder().decode(JobWait.self, from: data)
    }
}
