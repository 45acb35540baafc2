import Foundation
import ReplaySink
import ReplayStream

/// What every run needs, over an archive or a live feed: where its state and output go and the options that
/// shape the panel.
public struct RunConfiguration: Sendable {
    /// The state folder (checkpoints, ordered events, the default rejects file).
    public var stateDirectory: String
    /// Where the panel's lines go (`-` for standard output).
    public var output: String
    /// How the panel is written: JSON lines or CSV.
    public var format: PanelFormat = .jsonl
    /// Which revisions are written: every one, or each record once when final.
    public var emit: EmitPolicy = .all
    /// Where rejected rows go as JSON lines; nil for ``RunFiles/defaultRejectsName`` in the state folder.
    public var rejects: String?
    /// How the treatment thresholds are chosen.
    public var thresholds: ThresholdsMode
    /// The zone whose calendar days rows without a date label fall on (and whose midnights close days).
    public var timeZone: NamedTimeZone
    /// How often a checkpoint is committed.
    public var checkpointPolicy: CheckpointPolicy = .auto
    /// Memory for the ordering step's write buffers, in bytes.
    public var memoryBudgetBytes = 32 << 20
    /// Drop exact duplicate rows (the notebook keeps them).
    public var dedupe = false
    /// Discard an existing state folder (replay's files in it) and the output, and start over.
    public var fresh = false
    /// The tables joined to every record.
    public var joins = JoinOptions()
    /// Records to messages (a Kafka topic) instead of the file ``output`` names; nil for the file.
    public var messageOutput: MessageOutputFactory?

    public init(stateDirectory: String, output: String, thresholds: ThresholdsMode, timeZone: NamedTimeZone) {
        self.stateDirectory = stateDirectory
        self.output = output
        self.thresholds = thresholds
        self.timeZone = timeZone
    }

    /// The output's form for the state's identity: nil for JSON lines of every revision (the default, which
    /// older state folders hold), else `csv`, `final` or `csv final`.
    var outputForm: String? {
        let words = (format == .jsonl ? [] : [format.rawValue]) + (emit == .all ? [] : [emit.rawValue])
        return words.isEmpty ? nil : words.joined(separator: " ")
    }

    /// The rejects file: the one asked for, or the default one in the state folder.
    public var rejectsPath: String {
        rejects ?? (stateDirectory as NSString).appendingPathComponent(RunFiles.defaultRejectsName)
    }
}

/// A run over an archive, a folder holding `KuaiRec 2.0/data/`, or an interactions CSV: ingest once, then
/// replay day by day.
public struct ArchiveRunConfiguration: Sendable {
    /// What every run needs.
    public var common: RunConfiguration
    /// The archive, folder or CSV.
    public var input: String
    /// Which interaction matrix.
    public var matrix: MatrixChoice = .small
    /// Which inflater reads the CSV (the output is the same with each).
    public var inflate: InflateChoice = .auto
    /// Keep only the first N data rows in file order (nil: all).
    public var rowLimit: Int?
    /// The most bytes the CSV may expand to (a zip bomb guard).
    public var maxBytes = ByteCount(bytes: IngestOptions.defaultMaxBytes)!
    /// Stop cleanly after this day closes (a later run continues).
    public var until: CalendarDay?
    /// Play the log at this many simulated seconds per wall second (nil: as fast as it goes).
    public var speed: Double?
    /// Keep an HTML report of the diagnostics fresh in a file during the run.
    public var report: LiveReport?

    /// A report file rewritten every `interval` during the run.
    public struct LiveReport: Sendable {
        /// The HTML file.
        public var path: String
        /// How often it is rewritten.
        public var interval: TimeSpan

        public init(path: String, interval: TimeSpan) {
            self.path = path
            self.interval = interval
        }
    }

    public init(common: RunConfiguration, input: String) {
        self.common = common
        self.input = input
    }
}

/// A live feed: rows in arrival order from a file descriptor (standard input), days closed by the watermark.
public struct LiveRunConfiguration: Sendable {
    /// What every run needs.
    public var common: RunConfiguration
    /// The descriptor the rows are read from.
    public var inputDescriptor: Int32 = STDIN_FILENO
    /// The input's name in messages.
    public var inputName = "stdin"
    /// CSV or JSON lines; nil to detect it from the first byte.
    public var inputFormat: LiveInputFormat?
    /// How far behind the newest event time a row may arrive and still count.
    public var allowedLateness = TimeSpan(seconds: 600)!
    /// Also close the open days after this long (wall time) without a row; nil: never.
    public var idleClose: TimeSpan?
    /// What happens to a row whose day has closed.
    public var latePolicy: LatePolicy = .reject
    /// Under ``LatePolicy/revise``: how many of the last closed days a late row may still revise.
    public var reviseWindowDays = 7
    /// Keep an HTML report of the diagnostics fresh in a file during the feed.
    public var report: ArchiveRunConfiguration.LiveReport?
    /// Skip this many data rows first (a feed re-sent from its start after an interrupted run); it must be the
    /// count the state consumed. Nil: a re-sent feed is recognised by its first row and skipped by itself.
    public var skipRows: Int?
    /// A feed from a partitioned log (a Kafka topic) instead of the descriptor; nil for the descriptor.
    public var positionedInput: PositionedInputFactory?
    /// A sharded job's barrier (expanding thresholds agreed with the other instances); nil for a lone run.
    public var thresholdsExchange: ThresholdsExchangeFactory?

    public init(common: RunConfiguration) { self.common = common }

    /// The live feed's options.
    var liveOptions: LiveOptions {
        var options = LiveOptions(timeZone: common.timeZone.zone)
        options.allowedLatenessMs = allowedLateness.milliseconds
        options.idleCloseSeconds = idleClose?.seconds
        options.latePolicy = latePolicy
        options.reviseWindowDays = reviseWindowDays
        options.dedupe = common.dedupe
        options.skipRows = skipRows
        options.inputKeepsItsPosition = positionedInput != nil
        return options
    }
}

/// How a live run makes an input that keeps its own position (``PositionedFeedInput``), from the position its last
/// checkpoint stored.
public struct PositionedInputFactory: Sendable {
    /// What messages call the input (`kafka://HOST:PORT/TOPIC`).
    public var name: String
    /// What identifies it in the state's identity (the topic and partitions; not the brokers' addresses).
    public var identity: String
    /// The checkpoint payload holding its position.
    public var payloadName: String
    /// Makes the input from the stored position (nil: from its start); returns its bytes, its position, and what
    /// closes it.
    public var make: @Sendable (_ stored: [UInt8]?) throws -> (bytes: LiveByteSource, position: PositionedFeedInput, close: () -> Void)

    public init(
        name: String, identity: String, payloadName: String,
        make: @escaping @Sendable (_ stored: [UInt8]?) throws -> (bytes: LiveByteSource, position: PositionedFeedInput, close: () -> Void)
    ) {
        self.name = name
        self.identity = identity
        self.payloadName = payloadName
        self.make = make
    }
}

/// The files a run keeps in its state folder beside the state store's own.
public enum RunFiles {
    /// The default rejects file.
    public static let defaultRejectsName = "rejects.jsonl"
    /// The state folder every command uses without `--state`.
    public static let defaultStateFolder = "replay.state"
    /// The names a run may leave in the state folder (the default rejects file and its partial form).
    static let names: Set<String> = [defaultRejectsName, defaultRejectsName + ".partial"]
}

/// The side tables joined to every record (`--with-user-features`, `--with-item-context`): read once, at the
/// start of a run, from the archive the interactions come from (an archive run) or `--side-tables` (a live feed).
public struct JoinOptions: Sendable, Equatable {
    /// The `user_features.csv` columns to join: nil for none, empty for every column but `user_id`.
    public var userFeatureColumns: [String]?
    /// Join the item context of each user-day's videos (``ItemContextTable``).
    public var itemContext = false
    /// Where a live feed's tables come from (an archive run reads its own input).
    public var sideTables: String?

    public init(userFeatureColumns: [String]? = nil, itemContext: Bool = false, sideTables: String? = nil) {
        self.userFeatureColumns = userFeatureColumns
        self.itemContext = itemContext
        self.sideTables = sideTables
    }

    /// True when some table is joined.
    public var joinsAnything: Bool { userFeatureColumns != nil || itemContext }

    /// The joins for the state's identity: nil when none (the notebook's panel).
    func identity(tablesFrom source: String?) -> String? {
        guard joinsAnything else { return nil }
        var words: [String] = []
        if let columns = userFeatureColumns {
            words.append("user_features=" + (columns.isEmpty ? "all" : columns.joined(separator: ",")))
        }
        if itemContext { words.append("item_context") }
        if let source { words.append("from=" + source) }
        return words.joined(separator: " ")
    }
}

/// How a run makes an output of messages (``PanelLineOutput``: a Kafka topic, one message a record line). After a
/// crash the records since the last checkpoint are sent again, with the same keys, revisions and bytes.
public struct MessageOutputFactory: Sendable {
    /// What messages call it (`kafka://HOST:PORT/TOPIC`).
    public var name: String
    /// Makes the output.
    public var make: @Sendable () throws -> any PanelLineOutput

    public init(name: String, make: @escaping @Sendable () throws -> any PanelLineOutput) {
        self.name = name
        self.make = make
    }
}

/// How a live run makes its sharded job's barrier (``ThresholdsExchange``), and what closes it.
public struct ThresholdsExchangeFactory: Sendable {
    public var make: @Sendable () throws -> (exchange: ThresholdsExchange, close: () -> Void)

    public init(make: @escaping @Sendable () throws -> (exchange: ThresholdsExchange, close: () -> Void)) {
        self.make = make
    }
}
