import ArgumentParser
import Foundation
import Logging
import ReplayState

/// The `replay` command line: a thin layer that parses options and puts the library pieces together.
@main
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a KuaiRec interaction log into the notebook's user-day causal panel, streamed as JSON lines.",
        discussion: """
            Exit codes: 0 done (or stopped at --until); 1 unexpected failure; 64 bad usage (also an output that is \
            an input, another output or inside the state folder); 3 unusable input \
            (missing, unreadable, empty, damaged or cut short, no such matrix, beyond --max-bytes, bad header, \
            changed while read); 4 state folder refused (in use, made by another run or version, damaged: \
            --fresh recovers; a folder replay did not make, --fresh included); 5 disk full; 6 the Kafka cluster failed or \
            refused (publish); 130 stopped by \
            SIGINT/SIGTERM with a checkpoint committed; 141 run --out - stopped because its reader went away \
            (| head), its last checkpoint standing. \
            Every message: docs/ERRORS.md.
            """,
        version: Replay.version,
        subcommands: Replay.commands
    )

    /// The subcommands, in the order `--help` lists them.
    static let commands: [any ParsableCommand.Type] = [
        RunCommand.self, GenerateCommand.self, StatusCommand.self, TailCommand.self, ReportCommand.self,
        InspectCommand.self, ExportCommand.self, PublishCommand.self, KafkaMockCommand.self,
    ]

    /// `replay --version`: the program's version and the state format it reads and writes.
    static let version = "replay 0.9.0 (state format version \(RunIdentity.currentFormatVersion))"

    /// Parses and runs the command; a mistyped subcommand gets the nearest one suggested, and every
    /// subcommand's `--help` ends with its examples.
    static func main() {
        if let status = runReturningStatus() { Foundation.exit(status) }
    }

    /// Does what ``main()`` says; the status to exit with when it is not the end of `main` (a mistyped
    /// subcommand, a help request), or nil.
    ///
    /// Its own function, never inlined, so that its strings and arrays are released when it returns, before
    /// `exit`: in an optimized build, the releases before a call that never returns are left out, and
    /// LeakSanitizer (the end-to-end suite's AddressSanitizer pass) would report the memory they held.
    @inline(never)
    private static func runReturningStatus() -> Int32? {
        let arguments = JoinOptionsGroup.expandingOptionalValues(Array(CommandLine.arguments.dropFirst()))
        if let typo = arguments.first, let message = CommandSuggestion.message(for: typo) {
            printError("Error: \(message)\nUsage: \(Replay.usageString())\n  See 'replay --help' for the subcommands.")
            return ExitCode.validationFailure.rawValue
        }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            return nil
        } catch {
            // Only a help request is asked for its exit code here: other errors go to exit(withError:) untouched.
            let asksForHelp = arguments.first == "help" || arguments.contains("--help") || arguments.contains("-h")
            if asksForHelp, exitCode(for: error) == .success, let examples = CommandSuggestion.examples(for: arguments) {
                print(String(fullMessage(for: error).reversed().drop { $0 == "\n" }.reversed()))
                print("\nEXAMPLES:\n" + examples.map { "  \($0)" }.joined(separator: "\n"))
                return 0
            }
            exit(withError: error)
        }
    }
}

/// Sets up logging to stderr once, at the requested level.
func bootstrapLogging(level: Logger.Level) -> Logger {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
    return Logger(label: "replay")
}

/// Prints a line to stderr.
func printError(_ text: String) {
    FileHandle.standardError.write((text + "\n").data(using: .utf8)!)
}
