import Foundation
import ReplayStream

/// What produced a state folder: the input and every option that changes the output.
/// A rerun with a different identity is refused, naming the difference.
public struct RunIdentity: Codable, Sendable, Equatable {
    /// The state folder's format version this program writes and reads.
    public static let currentFormatVersion = 3

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
    /// `--dedupe` (nil when not given, so that folders written before the option existed still match).
    public var dedupe: Bool?
    /// Live input's options (`--allowed-lateness`, `--late-policy`, ...) as text; nil for an archive.
    public var live: String?

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
            && timeZone == other.timeZone && (dedupe ?? false) == (other.dedupe ?? false)
    }

    /// Human-readable differences between a stored identity and this one (empty when equal).
    public func differences(from stored: RunIdentity) -> [String] {
        var out: [String] = []
        func check<T: Equatable>(_ name: String, _ a: T, _ b: T, _ show: (T) -> String) {
            if a != b { out.append("\(name): the state has \(show(a)), this run has \(show(b))") }
        }
        check("input", stored.inputPath, inputPath) { $0 }
        check("input size", stored.inputSize, inputSize) { "\($0) bytes" }
        check("input modification time", stored.inputModified, inputModified) { "\(Date(timeIntervalSince1970: $0))" }
        check("--matrix", stored.matrix, matrix) { $0 }
        check("--rows", stored.rowLimit, rowLimit) { $0.map(String.init) ?? "all rows" }
        check("--thresholds", stored.thresholds, thresholds) { $0 }
        check("--tz", stored.timeZone, timeZone) { $0 }
        check("--out", stored.output, output) { $0 }
        check("--dedupe", stored.dedupe ?? false, dedupe ?? false) { $0 ? "--dedupe" : "no --dedupe" }
        check("live input options", stored.live, live) { $0 ?? "none (an archive)" }
        return out
    }
}

/// A state folder cannot be used as asked.
public struct StateError: Error, CustomStringConvertible, Sendable {
    /// The state folder.
    public var directory: String
    /// What is wrong and what to do.
    public var message: String
    /// True when the disk (or the file-size limit) was full: exit code 5, not 4.
    public var isDiskFull: Bool

    public init(directory: String, message: String, isDiskFull: Bool = false) {
        self.directory = directory
        self.message = message
        self.isDiskFull = isDiskFull
    }

    public var description: String { "state \(directory): \(message)" }
}
