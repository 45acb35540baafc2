import Foundation
import ReplaySink
import ReplayState
import ReplayStream

/// Opens a run's output file so that it belongs to one run: a resumed run continues the file its checkpoint
/// names (checked by ``OutputFingerprint``); a first run writes a file that is new, empty, already its own, or
/// that `--fresh` allows it to start anew; never another run's file. Standard output, devices and FIFOs are
/// streams: nothing of this applies to them.
enum RunOutput {
    /// The payload holding the file a run of the state folder claimed before its first checkpoint.
    static let claimPayload = "output_claim"

    /// The output at `path` for a run resuming `checkpoint` (nil: a first run) of `store`'s folder. With
    /// `directWriteBytes` a regular file is written around the page cache where the filesystem allows it, that many
    /// bytes gathered to a write (``ByteOutput``, ``DirectAppender``; nil: through the page cache): an archive's run
    /// passes ``archiveDirectWriteBytes(emit:)``. A live run's lines go through the page cache, each as soon as its
    /// buffer is handed over.
    /// - Throws: ``OutputOwnershipError`` when the file is not this run's to write, and what opening it throws.
    static func open(
        path: String, checkpoint: PanelCheckpoint?, store: StateStore, fresh: Bool, messages: MessageOutputFactory? = nil,
        directWriteBytes: Int? = nil
    ) throws -> any PanelLineOutput {
        if let messages { return try messages.make() }
        if let checkpoint {
            return try ByteOutput(
                path: path, resumeAt: checkpoint.progress.outputBytes, expected: checkpoint.progress.outputFingerprint,
                directWriteBytes: directWriteBytes)
        }
        if !fresh, let existing = existingFile(path), existing.size > 0, try claimed(by: store) != existing.identity {
            throw OutputOwnershipError(path: path, kind: .notThisRunsFile(size: existing.size))
        }
        let output = try ByteOutput(path: path, resumeAt: nil, directWriteBytes: directWriteBytes)
        do {
            if let identity = output.fileIdentity, try claimed(by: store) != identity {
                try store.recordPayload(Array(try JSONEncoder().encode(identity)), named: claimPayload)
            }
        } catch {
            try? output.close()
            throw error
        }
        return output
    }

    /// The bytes an archive run's output gathers to each write around the page cache (the output is written once and
    /// not read back by the run; on a VM whose host takes back the pages a guest frees, copying it into page-cache
    /// pages is the run's largest system-time cost). Every revision: 4 MiB (the changelog is gigabytes; each write also
    /// pays for its tail page's write-back, ~750 of them for 3 GB). `--emit final`: 512 KiB, for an output a seventh
    /// of that: two 4 MiB buffers would raise the peak of a long log's replay, its largest, by 8 MiB (at 4x the big
    /// matrix's users, 105 against 112 MB; docs/DEVELOPING.md, "Performance").
    static func archiveDirectWriteBytes(emit: EmitPolicy) -> Int {
        switch emit {
        case .all: DirectAppender.defaultCoalescedBytes
        case .final: 512 << 10
        }
    }

    /// The claim a `--fresh` run records with its state folder's reset, before anything else: the file now at
    /// `path` (none for a new path, a stream or a message output), which the run will start anew. A run killed
    /// between the reset and ``open(path:checkpoint:store:fresh:messages:)`` thus leaves a state whose plain rerun
    /// may cut that file back, as the `--fresh` run asked, instead of refusing it as another run's.
    static func freshClaim(path: String, messages: MessageOutputFactory?) throws -> [String: [UInt8]] {
        guard messages == nil, let existing = existingFile(path) else { return [:] }
        return [claimPayload: Array(try JSONEncoder().encode(existing.identity))]
    }

    /// The regular file at `path` (following symlinks): its identity and size; nil for none, `-`, a device or
    /// a FIFO.
    private static func existingFile(_ path: String) -> (identity: FileIdentity, size: Int64)? {
        var st = stat()
        guard path != "-", stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return (FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)), Int64(st.st_size))
    }

    /// The file a run of the folder claimed before its first checkpoint, if any.
    private static func claimed(by store: StateStore) throws -> FileIdentity? {
        guard let bytes = try store.payload(named: claimPayload) else { return nil }
        return try? JSONDecoder().decode(FileIdentity.self, from: Data(bytes))
    }
}

/// The records' way to the output: the engine writes to ``sink``; lines of the run's format are rendered on a
/// second thread (``BackgroundRecordSink``) into the output, and under `--emit final` only final revisions pass.
struct RecordPipeline {
    /// Where the engine writes.
    let sink: RecordSink
    /// The rendering thread, stopped by ``stop()``.
    private let background: BackgroundRecordSink

    /// The pipeline into `output` for `configuration`, the `context` columns joined (a CSV output cut back to nothing gets its header here);
    /// `expectedUsers`: the users the ingest found (0: not known), for whom every revision's renderings are kept.
    /// - Throws: what writing the header throws, after closing `output`.
    init(
        into output: any PanelLineOutput, for configuration: RunConfiguration, context: PanelContextColumns = .none,
        expectedUsers: Int = 0
    ) throws {
        let lines: PanelLinesSink
        do {
            // Under `--emit final` no renderings are kept (each record is written once).
            lines = try PanelLinesSink(
                output: output, format: configuration.format, context: context,
                expectedUsers: configuration.emit == .final ? 0 : expectedUsers)
        } catch {
            try? output.close()
            throw error
        }
        let batches = Self.batches(configuration.format, configuration.emit)
        background = BackgroundRecordSink(wrapping: lines, maxBatchesInFlight: batches.inFlight, maxSpareBatches: batches.spare)
        sink = configuration.emit == .final ? FinalRecordsOnly(wrapping: background) : background
    }

    /// How many batches of 1,024 records (~440 KB each) may wait for the rendering thread, and how many rendered
    /// batches are kept for reuse. A day's close hands its records over in one burst, and with room for more of it
    /// the event loop goes on to the next day while they render instead of waiting for the renderer batch by
    /// batch. Under `--emit final` the burst is the records of the day seven days before (one a user: ~7 batches on
    /// the big matrix): 16 in flight, all kept. Every revision as CSV: 8 in flight, 4 kept (a batch beyond them is
    /// freed and allocated again; 16 in flight peaked at up to 131.7 MiB, over the 128 MiB bound); every revision as
    /// JSON lines 4 and 4: its larger kept renderings leave no room for more (16 peaked at 130.6 MiB).
    /// docs/DEVELOPING.md, "Performance", has the measurements.
    static func batches(_ format: PanelFormat, _ emit: EmitPolicy) -> (inFlight: Int, spare: Int) {
        if emit == .final { return (16, 16) }
        return format == .csv ? (8, 4) : (4, 4)
    }

    /// Ends the rendering thread (every record handed over is written first).
    func stop() { background.stop() }
}
