/// Sees every data row of the ingest pass, accepted or rejected, in file order.
///
/// The notebook's interaction-level tables (coverage, missingness, engagement, repeated measures,
/// metadata join) are computed over every row it reads, rows without a date included, so the
/// observer is told about rejected rows too.
public protocol IngestObserver: AnyObject {
    /// Called once with the header, before any row.
    func begin(columns: InteractionColumns) throws
    /// Called for every data row (blank lines excepted) after it is decoded, in file order: the row as the
    /// notebook reads it (``NotebookRow``, read from the row's text where the row was split).
    func observe(_ row: NotebookRow) throws
    /// ``observe(_:)``, told also the video of a row a few rows later in the same block (the ingest pass
    /// knows it), so that the observer can start loading what that row will touch while it works on this one.
    /// By default, ``observe(_:)``.
    func observe(_ row: NotebookRow, videoAhead: Int32) throws
    /// ``observe(_:videoAhead:)`` for each of `rows[run]` in order (the ingest pass hands its rows over a run at a
    /// time, so that an observer can keep its running sums in registers for the run); the rows after `run` in
    /// `rows` are the ones that come next, for looking ahead. By default, one call each, told the video of the
    /// row ``Ingest/observerLookahead`` rows later (of `rows`' last row near its end).
    func observe(_ rows: UnsafeBufferPointer<NotebookRow>, run: Range<Int>) throws
}

extension IngestObserver {
    public func observe(_ row: NotebookRow, videoAhead: Int32) throws { try observe(row) }

    public func observe(_ rows: UnsafeBufferPointer<NotebookRow>, run: Range<Int>) throws {
        let last = rows.count - 1
        for i in run {
            try observe(rows[i], videoAhead: rows[Swift.min(i + Ingest.observerLookahead, last)].event.videoID)
        }
    }
}

/// Sees every record revision the replay emits, on the replay thread, in emission order.
///
/// Revision 0 of a user-day carries its aggregates, lags and treatment flags (they never change
/// afterwards); revision 1 its `next_day_*`; the final revision every lead.
public protocol PanelObserver: AnyObject {
    /// Called for each emitted revision, right after the sink took it. Under a sink that takes no intermediate
    /// revisions (``RecordSink/takesIntermediateRevisions``) only first (revision 0) and final revisions are
    /// built and shown: the others are counted only.
    func recordEmitted(_ record: UserDayRecord)
    /// Called instead of ``recordEmitted(_:)`` for a revision a late row caused (a live feed under
    /// `--late-policy revise`): `previous` is the record as it stood before (its values as last emitted), so
    /// that what it counted can be taken back. By default, ``recordEmitted(_:)``.
    func recordRevised(_ record: UserDayRecord, replacing previous: UserDayRecord)
    /// The name the observer's state is stored under in a checkpoint (one name per feature).
    var payloadName: String { get }
    /// The observer's state as of now, for the checkpoint being taken: opaque bytes the observer reads
    /// back on resume.
    /// - Throws: when the state cannot be encoded.
    func checkpointPayload() throws -> [UInt8]
}

extension PanelObserver {
    public func recordRevised(_ record: UserDayRecord, replacing previous: UserDayRecord) { recordEmitted(record) }
}

/// An ``IngestObserver`` of a live feed: sees every data row the feed takes, in arrival order, with the outcome
/// the feed gave it (a row rejected as late or outside the panel's span is shown as rejected; a late row revised
/// in, as accepted), and stores its state in every checkpoint of the feed.
public protocol LiveRowObserver: IngestObserver {
    /// The name the observer's state is stored under in a checkpoint.
    var payloadName: String { get }
    /// The observer's state as of now, for the checkpoint being taken (called on the feed's thread before the
    /// checkpoint is committed: whatever the state refers to must be durable when this returns).
    /// - Throws: when the state cannot be encoded or made durable.
    func checkpointPayload() throws -> [UInt8]
}
