import ReplayStream

/// How panel records are written: JSON lines or CSV (`run --format`).
public enum PanelFormat: String, Sendable, CaseIterable, Codable {
    /// One JSON object per line.
    case jsonl
    /// A header line, then one comma-separated row per record.
    case csv
}

/// Which revisions of the records are written (`run --emit`).
public enum EmitPolicy: String, Sendable, CaseIterable, Codable {
    /// Every revision: the changelog (revision 0 when the day closes, then as its leads arrive).
    case all
    /// Each record once, when it is final (its last lead known, or at the end of the input). Under
    /// `--late-policy revise` a final record that a late row changes is written again, still final, with a
    /// higher revision: the last line per key is the panel.
    case final
}

/// Passes on only the final revisions of the records it is given (``EmitPolicy/final``).
public final class FinalRecordsOnly: RecordSink {
    private let sink: RecordSink

    /// Writes the final revisions to `sink`.
    public init(wrapping sink: RecordSink) { self.sink = sink }

    public func write(_ record: UserDayRecord) throws {
        if record.isFinal { try sink.write(record) }
    }

    public func flush() throws -> Int64 { try sink.flush() }

    public var durability: any OutputDurability { sink.durability }

    public var takesIntermediateRevisions: Bool { false }
}
