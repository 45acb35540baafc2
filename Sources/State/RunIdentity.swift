import Foundation
import ReplayStream

/// What produced a state folder: the input and every option that changes the output.
/// A rerun with a different identity is refused, naming the difference.
public struct RunIdentity: Codable, Sendable, Equatable {
    /// The state folder's format version this program writes and reads.
    public static let currentFormatVersion = 5

    /// Format version of the folder.
    public var formatVersion: Int
    /// The input path as given, its size and modification time (seconds).
    public var inputPath: String
    public var inputSize: Int64
    public var inputModified: Double
    /// `small` or `big`.
    public var matrix: String
    /// `--rows`, or nil for all rows.
    public var rowLimit: Int?
    /// The thresholds mode as given (`batch`, `expanding`, `fixed:A,B`).
    public var thresholds: String
    /// The IANA time zone.
    public var timeZone: String
    /// The output path (`-` for stdout).
    public var output: String
    /// Exact duplicate rows are dropped.
    public var dedupe: Bool {
        get { storedDedupe ?? false }
        set { storedDedupe = newValue ? true : nil }
    }
    /// Stored under `dedupe` only when true: an identity without it is one that keeps duplicates.
    private var storedDedupe: Bool?
    /// Live input's options (`--allowed-lateness`, `--late-policy`, ...) as text; nil for an archive.
    public var live: String?
    /// The input's content where it is known before reading it: a zip's central directory (every member's
    /// CRC-32 and sizes; ``ZipDirectory/fingerprint(path:)``). Nil for a bare file (CSV, gzip, ...), whose
    /// bytes are hashed by the ingest (``IngestSummary/content``), for a live feed, and in a state made before
    /// replay recorded it (such a state resumes as before; `--fresh` does not reuse its ingest).
    public var inputContent: String?
    /// The output's format and the revisions written (`csv`, `final`, `csv final`); nil for JSON lines of every
    /// revision, the default (a state folder made before other forms existed holds none).
    public var outputForm: String?
    /// The tables joined to the panel (`--with-user-features`, `--with-item-context`, and for a live feed the
    /// `--side-tables` archive they come from) as text; nil when none is joined.
    public var joins: String?

    private enum CodingKeys: String, CodingKey {
        case formatVersion, inputPath, inputSize, inputModified, matrix, rowLimit, thresholds, timeZone, output
        case storedDedupe = "dedupe"
        case live, inputContent, outputForm, joins
    }

    public init(
        inputPath: String, inputSize: Int64, inputModified: Double, matrix: String, rowLimit: Int?,
        thresholds: String, timeZone: String, output: String
    ) {
        formatVersion = RunIdentity.currentFormatVersion
        self.inputPath = inputPath
        self.inputSize = inputSize
        self.inputModified = inputModified
        self.matrix = matrix
        self.rowLimit = rowLimit
        self.thresholds = thresholds
        self.timeZone = timeZone
        self.output = output
    }

    /// True when `other` ingests the same rows the same way (input, matrix, rows, time zone, `--dedupe`, format):
    /// its ordered event log and ingest summary can be reused.
    public func hasSameIngest(as other: RunIdentity) -> Bool {
        formatVersion == other.formatVersion && inputPath == other.inputPath && inputSize == other.inputSize
            && inputModified == other.inputModified && matrix == other.matrix && rowLimit == other.rowLimit
            && timeZone == other.timeZone && dedupe == other.dedupe && inputContent == other.inputContent
    }

    /// One way a stored identity differs from this run's.
    public enum Difference: Sendable, Equatable {
        /// Another input path.
        case inputPath(stored: String, current: String)
        /// The input's size changed (bytes).
        case inputSize(stored: Int64, current: Int64)
        /// The input's modification time changed (seconds since 1970).
        case inputModified(stored: Double, current: Double)
        /// Another matrix.
        case matrix(stored: String, current: String)
        /// Another row limit (nil: all rows).
        case rowLimit(stored: Int?, current: Int?)
        /// Another thresholds mode.
        case thresholds(stored: String, current: String)
        /// Another time zone.
        case timeZone(stored: String, current: String)
        /// Another output path.
        case output(stored: String, current: String)
        /// Another output format or emit policy (nil: JSON lines, every revision).
        case outputForm(stored: String?, current: String?)
        /// Exact duplicates dropped in one run and kept in the other.
        case dedupe(stored: Bool, current: Bool)
        /// Other live input options (nil: an archive).
        case liveOptions(stored: String?, current: String?)
        /// The input's content differs (a zip's central directory, or a bare file's bytes as the ingest read them).
        case inputContent(stored: String, current: String)
        /// Other joined tables (nil: none).
        case joins(stored: String?, current: String?)
        /// Another rejects file than the one the state's ingest wrote.
        case rejects(stored: String, current: String)
    }

    /// How `stored` differs from this identity, in field order (empty when a run of this identity may resume it).
    public func differences(from stored: RunIdentity) -> [Difference] {
        var out: [Difference] = []
        func check<T: Equatable>(_ a: T, _ b: T, _ difference: (T, T) -> Difference) {
            if a != b { out.append(difference(a, b)) }
        }
        check(stored.inputPath, inputPath, Difference.inputPath)
        check(stored.inputSize, inputSize, Difference.inputSize)
        check(stored.inputModified, inputModified, Difference.inputModified)
        check(stored.matrix, matrix, Difference.matrix)
        check(stored.rowLimit, rowLimit, Difference.rowLimit)
        check(stored.thresholds, thresholds, Difference.thresholds)
        check(stored.timeZone, timeZone, Difference.timeZone)
        check(stored.output, output, Difference.output)
        check(stored.dedupe, dedupe, Difference.dedupe)
        check(stored.live, live, Difference.liveOptions)
        check(stored.outputForm, outputForm, Difference.outputForm)
        check(stored.joins, joins, Difference.joins)
        // A state made before the content was recorded has none: it resumes as before.
        if let content = stored.inputContent, content != inputContent {
            out.append(.inputContent(stored: content, current: inputContent ?? "not a zip"))
        }
        return out
    }
}

/// A state folder cannot be used as asked: what is wrong, as facts. Which option or command fixes it is
/// for the caller to say (the command line words each ``Kind``).
public struct StateError: Error, CustomStringConvertible, Sendable {
    /// What is wrong with the folder.
    public enum Kind: Sendable, Equatable {
        /// The path names a file, not a folder.
        case notAFolder
        /// The folder cannot be made or entered: a part of its path is a file, or the system refuses
        /// (`reason` says which, in plain words).
        case unusablePath(reason: String)
        /// The folder holds entries replay did not make (sorted names).
        case foreignEntries([String])
        /// The folder is not replay's: it has entries (sorted names) but no marker and no replay state.
        case notReplays([String])
        /// The folder was made by a run with another input or other options.
        case madeByDifferentRun([RunIdentity.Difference])
        /// Another process holds the folder's lock (`holder` names it: `pid 1234`).
        case inUse(holder: String)
        /// The lock file cannot be opened (`reason` is the system's).
        case lockUnavailable(reason: String)
        /// There is no state database (a read-only open of a folder no run used).
        case noDatabase
        /// No run is recorded in the folder yet.
        case noRunRecorded
        /// The database cannot be opened: damaged, truncated or another program's.
        case unopenable(cause: String)
        /// A stored record does not decode (another version or program wrote it).
        case unreadableRecord(name: String, cause: String)
        /// The folder was written by another state format version.
        case formatVersion(found: Int, supported: Int)
        /// The checkpoint's timelines file is missing.
        case snapshotMissing(file: String)
        /// The checkpoint's timelines file has the wrong size or hash.
        case snapshotDamaged(file: String, size: Int, expected: Int)
        /// The ordered events (`events/`) are damaged or truncated.
        case eventsDamaged(detail: String)
        /// The disk (or the file-size limit) filled while committing a checkpoint; the previous one is intact.
        case diskFullAtCheckpoint(cause: String)
        /// The disk is full: the state database cannot be created or opened.
        case diskFullAtOpen(cause: String)
    }

    /// The state folder.
    public var directory: String
    /// What is wrong.
    public var kind: Kind

    public init(directory: String, kind: Kind) {
        self.directory = directory
        self.kind = kind
    }

    /// True when the disk (or the file-size limit) was full.
    public var isDiskFull: Bool {
        switch kind {
        case .diskFullAtCheckpoint, .diskFullAtOpen: return true
        default: return false
        }
    }

    /// What is wrong, as facts without advice (the command line words its own message with what to do).
    public var description: String { "state \(directory): \(kind)" }
}

extension StateError.Kind: CustomStringConvertible {
    /// The facts, in plain words.
    public var description: String {
        switch self {
        case .notAFolder: return "it is a file, not a folder"
        case .unusablePath(let reason): return "the folder cannot be made: \(reason)"
        case .foreignEntries(let names): return "the folder holds files replay did not make (\(names.joined(separator: ", ")))"
        case .notReplays(let names):
            return "the folder is not empty and replay did not make it (no \(StateStore.markerName) file): it holds \(names.joined(separator: ", "))"
        case .madeByDifferentRun(let differences):
            return "it was made by a different run (\(differences.map(\.field).joined(separator: ", ")) differ)"
        case .inUse(let holder): return "it is in use by \(holder)"
        case .lockUnavailable(let reason): return "cannot open the lock file: \(reason)"
        case .noDatabase: return "no state here (no lmdb/data.mdb)"
        case .noRunRecorded: return "no run recorded here yet"
        case .unopenable(let cause): return "the state database cannot be opened (\(cause))"
        case .unreadableRecord(let name, let cause): return "the state's \(name) record cannot be read (\(cause))"
        case .formatVersion(let found, let supported):
            return "it was written by state format version \(found); this replay reads version \(supported) only"
        case .snapshotMissing(let file): return "the checkpoint's timelines (snapshots/\(file)) are missing"
        case .snapshotDamaged(let file, let size, let expected):
            return "the checkpoint's timelines (snapshots/\(file)) are damaged (\(size) bytes, \(expected) expected, or a wrong hash)"
        case .eventsDamaged(let detail): return "its ordered events (events/) are damaged or truncated: \(detail)"
        case .diskFullAtCheckpoint(let cause):
            return "the disk is full while committing a checkpoint (\(cause)); the previous checkpoint is intact"
        case .diskFullAtOpen(let cause): return "the disk is full: the state database cannot be opened or created (\(cause))"
        }
    }
}

extension RunIdentity.Difference {
    /// The identity field that differs, in plain words (`input size`, `thresholds`).
    public var field: String {
        switch self {
        case .inputPath: return "input"
        case .inputSize: return "input size"
        case .inputModified: return "input modification time"
        case .matrix: return "matrix"
        case .rowLimit: return "row limit"
        case .thresholds: return "thresholds"
        case .timeZone: return "time zone"
        case .output: return "output"
        case .outputForm: return "output format"
        case .dedupe: return "dedupe"
        case .liveOptions: return "live input options"
        case .inputContent: return "input content"
        case .rejects: return "rejects file"
        case .joins: return "joined tables"
        }
    }
}
