import ArgumentParser
import Foundation
import ReplaySink
import ReplayStream
import SystemPackage

extension Replay {
    /// `replay tail FILE`: prints the records of a panel file as JSON lines, optionally following a run.
    struct TailCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "tail",
            abstract: "Print the records of a panel file as JSON lines (--follow to keep printing as a run writes).",
            discussion: """
                With --follow, a partly written last line is held back until complete, and a resumed run that \
                cuts the file back to its checkpoint is followed without printing a line twice; when another run \
                replaces or rewrites the file (a --fresh rerun), tail says so on stderr and starts again from its top \
                (--no-restart: exits with status 4). --latest prints \
                each key once it is final; without --follow it prints, at the end, the latest revision of every \
                key (a compacted view), ordered by event_date then user_id.
                """)

        @Argument(help: "The panel file (replay run --out).")
        var file: String
        @Flag(name: .long, help: "Keep printing as the file grows; stop with Ctrl-C.")
        var follow = false
        @Flag(name: .long, help: "With --follow: exit (status 4) instead of starting again from the top when another run replaces or rewrites the file.")
        var noRestart = false
        @Option(name: .long, parsing: .upToNextOption, help: "Only these user ids.")
        var user: [Int64] = []
        @Option(name: .long, parsing: .upToNextOption, help: ArgumentHelp("Only these days (YYYY-MM-DD).", valueName: "date"))
        var date: [CalendarDay] = []
        @Flag(name: .long, help: "Only final revisions.")
        var finalOnly = false
        @Flag(name: .long, help: "Each key once: when final (with --follow), or its latest revision at the end.")
        var latest = false
        @Option(name: .long, help: ArgumentHelp("How long to wait between polls with --follow (a positive duration: 100ms, 1s; a bare number is seconds).", valueName: "duration"))
        var pollInterval = PositiveTimeSpan(seconds: 0.1)!

        func validate() throws {
            try refuseEmptyPaths(["FILE": file])
        }

        func run() throws {
            signal(SIGPIPE, SIG_IGN)
            installStopHandlers()
            try runReportingErrors {
                try printRecords(of: try CompactedPanel.openReader(path: file))
            }
        }

        /// Prints the file's records through the filters, following it when asked.
        private func printRecords(of reader: ChangelogReader) throws {
            let users = Set(user), dates = Set(date)
            let out = StandardOutput()
            var latestLines: [RecordKey: [UInt8]] = [:]
            let records = PanelRecordLines(source: file)
            let deliver: (UnsafeRawBufferPointer) throws -> Bool = { line in
                guard let info = try records.info(of: line) else { return true }
                if !users.isEmpty && !users.contains(info.userID) { return true }
                if !dates.isEmpty && !dates.contains(info.eventDate) { return true }
                if finalOnly && !info.isFinal { return true }
                if latest {
                    if follow {
                        if info.isFinal { return out.write(line) }
                    } else {
                        latestLines[RecordKey(day: info.eventDate, user: info.userID)] = Array(line)
                    }
                    return true
                }
                return out.write(line)
            }
            var open = true
            while open {
                if follow, try startAgainIfRewritten(reader) { records.startAgain() }
                var stopped = false
                try reader.readAvailable { line in
                    let keep = try deliver(line)
                    if !keep { stopped = true }
                    return keep
                }
                if stopped || !out.flush() { return }  // closed pipe: a clean stop
                if !follow || stopSignalReceived { open = false } else { Thread.sleep(forTimeInterval: pollInterval.span.seconds) }
            }
            if !follow && reader.heldBackBytes > 0 {
                printError("replay: \(UserMessage.incompleteLastLine(of: file, bytes: reader.heldBackBytes))")
            }
            if latest && !follow {
                let ordered = latestLines.sorted { ($0.key.day, $0.key.user) < ($1.key.day, $1.key.user) }
                for (_, line) in ordered {
                    let ok = line.withUnsafeBytes { out.write($0) }
                    if !ok { return }
                }
            }
            _ = out.flush()
        }
    }
}

extension Replay.TailCommand {
    /// When another run replaced or rewrote the followed file (a `--fresh` rerun, a new file), says so and
    /// starts again from its top (returns true), or, with `--no-restart`, ends with exit 4: lines of two runs
    /// are never spliced.
    func startAgainIfRewritten(_ reader: ChangelogReader) throws -> Bool {
        let change = reader.change()
        guard change != .none else { return false }
        let what = change == .replaced ? "was replaced by another file" : "was rewritten by another run (the bytes already printed changed)"
        if noRestart {
            printError("replay: \(file) \(what); stopping (--no-restart)")
            throw ExitCode(ExitStatus.state.rawValue)
        }
        printError("replay: \(file) \(what): starting again from its top")
        try reader.restart()
        return true
    }
}

/// A record's key: the day and the user.
private struct RecordKey: Hashable {
    var day: CalendarDay
    var user: Int64
}

/// Buffered standard output that reports a closed pipe instead of dying of SIGPIPE.
final class StandardOutput {
    private var buffer: [UInt8] = []
    private var closed = false

    /// Appends a line (adds the newline); false once the reader has gone away.
    func write(_ line: UnsafeRawBufferPointer) -> Bool {
        if closed { return false }
        buffer.append(contentsOf: line)
        buffer.append(0x0A)
        if buffer.count >= 1 << 16 { return flush() }
        return true
    }

    /// Writes the buffer; false when the pipe is closed (EPIPE).
    @discardableResult
    func flush() -> Bool {
        if closed { return false }
        do {
            try buffer.withUnsafeBytes { try FileDescriptor.standardOutput.writeAll($0, path: "standard output") }
        } catch {
            closed = true
            return false
        }
        buffer.removeAll(keepingCapacity: true)
        return true
    }
}

extension Replay.TailCommand: CommandSuggestion.Examples {
    static let examples = [
        "replay tail panel.jsonl --follow --final-only    # records as days close",
        "replay tail panel.jsonl --latest --user 14       # one user's latest revisions",
        "replay tail panel.jsonl --date 2020-07-05 | jq .interactions",
    ]
}
