import ArgumentParser
import Foundation
import ReplayKafka
import ReplayRun
import ReplaySink
import ReplayState
import ReplayStream

/// The documented exit statuses (README, docs/ERRORS.md, the command's discussion), and the one map from an
/// error to its status.
enum ExitStatus: Int32 {
    /// Done, or stopped at `--until`; also a reader that went away (`| head`).
    case done = 0
    /// An unexpected failure (a bug, or an I/O error not listed here).
    case failure = 1
    /// Unusable input: the file, the archive, or the CSV's header or structure.
    case input = 3
    /// The state folder is refused, or the output or the input it would take belongs to another run.
    case state = 4
    /// The disk is full (output, state, rejects).
    case diskFull = 5
    /// The Kafka cluster failed or refused: brokers unreachable, a topic of another shape, a message not delivered.
    case kafka = 6
    /// Bad usage (printed by the argument parser).
    case usage = 64
    /// Stopped by SIGINT/SIGTERM, with a checkpoint committed.
    case interrupted = 130
    /// `run --out -` stopped because standard output's reader went away (`| head`); the last checkpoint
    /// stands, and the same command resumes from it. 128 + SIGPIPE, the status a shell shows for a pipe
    /// writer that the signal stopped.
    case readerGone = 141

    /// The status `error` ends the command with.
    init(for error: Error) {
        switch error {
        case let code as ExitCode: self = ExitStatus(rawValue: code.rawValue) ?? .failure
        case is IngestInterrupted, is StoppedWhileWaiting: self = .interrupted
        case let e as POSIXFileError where e.code == EPIPE: self = .readerGone
        case is PathCollision, is InflateUnavailable, is ValidationError: self = .usage
        case is FeedPositionError, is OutputOwnershipError, is PublishStateError: self = .state
        case is KafkaError: self = .kafka
        case is InputError, is ArchiveReadError, is CSVFormatError, is IngestLimitError, is UnusableInput: self = .input
        case let e as StateError: self = e.isDiskFull ? .diskFull : .state
        case let e as POSIXFileError where e.isDiskFull: self = .diskFull
        case let e as LMDBError where e.isDiskFull || e.isMapFull: self = .diskFull
        case let e as PanelExportError:
            switch e.kind {
            case .input, .inputIsFolder, .notARecord: self = .input
            case .output, .outputIsFolder: self = .failure
            case .diskFull: self = .diskFull
            case .outputClosed: self = .done
            }
        default: self = .failure
        }
    }

    /// The argument parser's form, to throw from `run()`.
    var code: ExitCode { ExitCode(rawValue) }
}

/// An error about the command's input file whatever its type (a file that cannot be opened is exit 3 when it is
/// the input, 1 when it is an output).
struct UnusableInput: Error, CustomStringConvertible {
    /// What went wrong.
    var cause: Error
    var description: String { "\(cause)" }
}

/// Prints what `error` means for the user (nothing for a clean stop) and returns the exit code to throw.
func exitCode(for error: Error) -> ExitCode {
    if let message = UserMessage.text(for: error) { printError("replay: \(message)") }
    return ExitStatus(for: error).code
}

/// Runs a command's body, turning any error it throws into its message and documented exit code.
func runReportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch {
        throw exitCode(for: error)
    }
}
