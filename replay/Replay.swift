import ArgumentParser
import Foundation
import Logging

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
            --fresh recovers; a folder replay did not make, --fresh included); 5 disk full; 130 stopped by \
            SIGINT/SIGTERM with a checkpoint committed; 141 run --out - stopped because its reader went away \
            (| head), its last checkpoint standing. \
            Every message: docs/ERRORS.md.
            """,
        subcommands: [
            RunCommand.self, GenerateCommand.self, StatusCommand.self, TailCommand.self, ReportCommand.self,
            InspectCommand.self, ExportCommand.self,
        ]
    )
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
