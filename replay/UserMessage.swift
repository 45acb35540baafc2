import ArgumentParser
import Foundation
import ReplayRun
import ReplaySink
import ReplayState
import ReplayStream

/// The words the user reads for an error. Library errors carry facts; the command line says what to do,
/// naming its own options (`--fresh`, `--state`, `--max-bytes`).
enum UserMessage {
    /// The message for `error` (without the `replay: ` prefix), or nil when nothing is printed (an exit code
    /// thrown on purpose, a reader that went away).
    static func text(for error: Error) -> String? {
        switch error {
        case is ExitCode: return nil
        case let e as PanelExportError where e.kind == .outputClosed: return nil
        case let e as POSIXFileError where e.code == EPIPE: return nil
        case let e as FeedPositionError: return feedPosition(e)
        case let e as OutputOwnershipError: return outputOwnership(e)
        case let e as StateError: return "state \(e.directory): \(refusal(e.kind))"
        case let e as PathCollision: return collision(e)
        case let e as IngestLimitError: return beyondLimit(e)
        case let e as InflateUnavailable:
            return "--inflate isal: \(e); run with --inflate auto (ISA-L where it applies, libarchive elsewhere) or --inflate libarchive"
        case let e as DamagedFileError: return "\(e) — rerun with --fresh"
        case let e as PanelExportError: return exportFailure(e)
        case let e as LMDBError where e.isDiskFull || e.isMapFull:
            return "the state database could not grow: \(e); free some space and rerun the same command to resume"
        default: return "\(error)"
        }
    }

    /// Two paths of one command that are the same file, or an output inside the state folder: what would
    /// happen, and what to change.
    static func collision(_ e: PathCollision) -> String {
        switch (e.kind, e.other.role) {
        case (.folder, _):
            return "\(e); \(e.output.option) writes a file: give it a file name (\(e.output.path.hasSuffix("/") ? e.output.path : e.output.path + "/")NAME)"
        case (.bothStandardOutput, _):
            return "\(e): their bytes would be mixed — give one of them a file name"
        case (.insideStateFolder, _):
            return "\(e), which holds replay's own files (the next run would delete, cut back or refuse it) — "
                + "write \(e.output.option) outside the state folder"
        case (.sameFile, .read):
            return "\(e): \(e.output.option) would overwrite what replay reads — give \(e.output.option) another name"
        case (.sameFile, _):
            return "\(e): both would write it and one would destroy the other — give each its own file"
        }
    }

    /// The note for a panel file whose last line has no newline yet (`export` and `tail` ignore it).
    static func incompleteLastLine(of source: String, bytes: Int) -> String {
        "\(source): the last line is incomplete (\(bytes) bytes without a newline; a run may still be writing it): ignored"
    }

    /// An export that failed: what is wrong, and what `export` reads or writes when the paths were the wrong kind.
    static func exportFailure(_ error: PanelExportError) -> String {
        switch error.kind {
        case .inputIsFolder: return "\(error); pass the panel file that replay run --out wrote"
        case .outputIsFolder: return "\(error); --csv needs a file name (or - for standard output)"
        case .notARecord: return "\(error). replay reads the JSON lines that replay run --out writes"
        case .input, .output, .diskFull, .outputClosed: return "\(error)"
        }
    }

    /// An output that is not this run's to write: what is wrong and what to do.
    static func outputOwnership(_ error: OutputOwnershipError) -> String {
        switch error.kind {
        case .inUse: return "\(error); wait for that run to end, or give this one another --out"
        case .replaced, .committedBytesChanged:
            return "\(error), so the run cannot continue it. Rerun with --fresh to start the run anew (the file is "
                + "rewritten), or give --out the file the run wrote"
        case .notThisRunsFile: return "\(error). Rerun with --fresh to replace it, or give --out another file"
        }
    }

    /// A live feed's input that does not continue the rows consumed: what is wrong and what to do.
    static func feedPosition(_ error: FeedPositionError) -> String {
        switch error.kind {
        case .skipRowsMismatch(_, let consumed):
            return "\(error); re-send the feed from its start with --skip-rows \(consumed) (or without --skip-rows: a re-sent "
                + "feed is recognised), or send the rows after the first \(consumed)"
        case .resentFeedDiffers:
            return "\(error): it is another feed. Send this feed's rows, or use --fresh (or another --state) to start a new one"
        case .feedEnded:
            return "\(error); they were not taken. Use --fresh (or another --state) to start a new feed"
        }
    }

    /// A refused state folder: what is wrong and what to do.
    static func refusal(_ kind: StateError.Kind) -> String {
        let startOver = " — rerun with --fresh to start over"
        switch kind {
        case .notAFolder: return "\(kind); choose a folder for --state"
        case .unusablePath: return "\(kind); choose a --state folder replay can create (or an existing folder it made)"
        case .foreignEntries(let names):
            let shown = names.prefix(5).joined(separator: ", ") + (names.count > 5 ? ", …" : "")
            return "the folder holds files replay did not make (\(shown)); it is not a replay state folder. "
                + "Choose a new --state folder (or --fresh to start over in it anyway: replay deletes only its own "
                + "files, none of these)"
        case .notReplays(let names):
            let shown = names.prefix(5).joined(separator: ", ") + (names.count > 5 ? ", …" : "")
            return "the folder is not empty and replay did not make it (no \(StateStore.markerName) file); it holds "
                + "\(shown), which are not replay's. replay uses a new or empty folder, or one it made: choose another "
                + "--state (--fresh does not change this; nothing in the folder was touched)"
        case .madeByDifferentRun(let differences):
            return "it was made by a different run — \(differences.map(difference).joined(separator: "; ")). "
                + "Use the same options to resume, another --state, or --fresh to discard it"
        case .inUse: return "\(kind); wait for that run to end (or stop it) — two runs on one state folder would corrupt it"
        case .lockUnavailable: return "\(kind)"
        case .noDatabase: return "\(kind); was a run started with this --state?"
        case .noRunRecorded: return "\(kind); start one with replay run --state"
        case .unopenable: return "\(kind); it may be damaged or from another program\(startOver)"
        case .unreadableRecord: return "\(kind); it was written by another version or program — rerun the run with --fresh"
        case .formatVersion:
            return "\(kind). Rerun with --fresh to start over (the old state and output are discarded)"
        case .snapshotMissing, .snapshotDamaged: return "\(kind)\(startOver)"
        case .eventsDamaged: return "\(kind). Rerun with --fresh to start over"
        case .diskFullAtCheckpoint: return "\(kind) — free some space and rerun the same command to resume"
        case .diskFullAtOpen: return "\(kind) — free some space and rerun the same command"
        }
    }

    /// One way a state folder's run differs from this one, named by the option that differs.
    static func difference(_ difference: RunIdentity.Difference) -> String {
        func line(_ name: String, _ stored: String, _ current: String) -> String {
            "\(name): the state has \(stored), this run has \(current)"
        }
        switch difference {
        case .inputPath(let a, let b): return line("input", a, b)
        case .inputSize(let a, let b): return line("input size", "\(a) bytes", "\(b) bytes")
        case .inputModified(let a, let b):
            return line("input modification time", preciseTime(a), preciseTime(b))
        case .matrix(let a, let b): return line("--matrix", a, b)
        case .rowLimit(let a, let b):
            return line("--rows", a.map(String.init) ?? "all rows", b.map(String.init) ?? "all rows")
        case .thresholds(let a, let b): return line("--thresholds", a, b)
        case .timeZone(let a, let b): return line("--tz", a, b)
        case .output(let a, let b): return line("--out", a, b)
        case .outputForm(let a, let b):
            return line("--format/--emit", a ?? "jsonl, every revision", b ?? "jsonl, every revision")
        case .dedupe(let a, let b): return line("--dedupe", a ? "--dedupe" : "no --dedupe", b ? "--dedupe" : "no --dedupe")
        case .liveOptions(let a, let b):
            return line("live input options", a ?? "none (an archive)", b ?? "none (an archive)")
        case .inputContent(let a, let b): return line("input content", a, b)
        case .rejects(let a, let b): return line("--rejects", a, b)
        case .joins(let a, let b):
            return line("--with-user-features/--with-item-context", a ?? "no joined table", b ?? "no joined table")
        }
    }

    /// An input beyond the ingest's limits: what and which option changes the limit.
    static func beyondLimit(_ error: IngestLimitError) -> String {
        switch error.limit {
        case .statedSize(let stated, let maxBytes):
            return "\(error.input): the member says it expands to \(stated) bytes, more than --max-bytes \(maxBytes); "
                + "if the file is genuine, raise --max-bytes"
        case .expandedSize(let maxBytes, let rowsRead):
            return "\(error.input): the CSV expands beyond --max-bytes \(maxBytes) bytes (\(rowsRead) data rows read); "
                + "this looks like a zip bomb or not a KuaiRec file — if it is genuine, raise --max-bytes"
        case .panelSpan(let days, let first, let last, let users, let maxDays):
            return "\(error.input): the accepted rows span \(days) days (\(first) .. \(last)), more than \(maxDays); "
                + "KuaiRec spans 63. A few rows with stray dates would make a panel of \(users) users × \(days) days: "
                + "check the date labels, or cut the log with --rows"
        }
    }
}

/// A Unix time in UTC to the microsecond (`2026-11-30 11:23:04.123456 UTC`): two modification times a
/// fraction of a second apart print differently.
func preciseTime(_ seconds: Double) -> String {
    let whole = seconds.rounded(.down)
    var time = time_t(whole)
    var parts = tm()
    gmtime_r(&time, &parts)
    let micros = Int(((seconds - whole) * 1_000_000).rounded())
    return String(
        format: "%04d-%02d-%02d %02d:%02d:%02d.%06d UTC", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
        Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), min(micros, 999_999))
}
