/// One accepted row of the interaction log, in the compact form the ordering step stores.
///
/// The event's day is not stored here: events are kept in per-day buckets (see ``DayBuckets``).
/// The layout is fixed (40 bytes, no padding): the day files' side files (``DayFileRecords``) and the live feed's
/// diagnostics rows hold it as raw memory.
public struct Interaction: Equatable, Sendable {
    /// Event time in Unix milliseconds, or `Interaction.missingTimestamp` when the row has none
    /// (such rows sort last within their day, as pandas sorts `NaT` last).
    public var timestampMs: Int64
    /// `user_id`.
    public var userID: Int32
    /// `video_id`.
    public var videoID: Int32
    /// `play_duration` in milliseconds.
    public var playDurationMs: Int64
    /// `video_duration` in milliseconds.
    public var videoDurationMs: Int64
    /// `watch_ratio` as written in the file (the notebook trusts the column).
    public var watchRatio: Double

    /// The timestamp value used for rows without one.
    public static let missingTimestamp = Int64.max

    /// Creates an interaction.
    public init(
        timestampMs: Int64, userID: Int32, videoID: Int32, playDurationMs: Int64, videoDurationMs: Int64,
        watchRatio: Double
    ) {
        self.timestampMs = timestampMs
        self.userID = userID
        self.videoID = videoID
        self.playDurationMs = playDurationMs
        self.videoDurationMs = videoDurationMs
        self.watchRatio = watchRatio
    }

    /// The replay order within a day: timestamp (rows without one last), then user, then video, then
    /// file order (`a` is the `aPosition`-th event of the day's file, `b` the `bPosition`-th). A strict total order.
    @inline(__always)
    static func replayPrecedes(_ a: Interaction, _ aPosition: Int, _ b: Interaction, _ bPosition: Int) -> Bool {
        if a.timestampMs != b.timestampMs { return a.timestampMs < b.timestampMs }
        if a.userID != b.userID { return a.userID < b.userID }
        if a.videoID != b.videoID { return a.videoID < b.videoID }
        return aPosition < bPosition
    }

    /// The user order within a day (``DayEventOrder/user``): user, then timestamp (rows without one last), video and
    /// file order. One user's events come in the same order as in ``replayPrecedes(_:_:_:_:)``.
    @inline(__always)
    static func userPrecedes(_ a: Interaction, _ aPosition: Int, _ b: Interaction, _ bPosition: Int) -> Bool {
        if a.userID != b.userID { return a.userID < b.userID }
        if a.timestampMs != b.timestampMs { return a.timestampMs < b.timestampMs }
        if a.videoID != b.videoID { return a.videoID < b.videoID }
        return aPosition < bPosition
    }

    /// True when two events share the replay order's first keys (timestamp, user, video): only such events can
    /// be exact duplicates of each other, and they are neighbours in replay order.
    @inline(__always)
    func sharesReplayKey(with other: Interaction) -> Bool {
        timestampMs == other.timestampMs && userID == other.userID && videoID == other.videoID
    }

    /// True when two events are the same row of the log (every column equal).
    @inline(__always)
    func isExactDuplicate(of other: Interaction) -> Bool {
        sharesReplayKey(with: other) && playDurationMs == other.playDurationMs
            && videoDurationMs == other.videoDurationMs && watchRatio.bitPattern == other.watchRatio.bitPattern
    }

    /// True when `events[i]` (events of one day, in replay order) is an exact duplicate of an earlier event
    /// of the day: every column equal (the `time` text, derived from the timestamp, is not kept). Equal
    /// events share (timestamp, user, video) and so are neighbours in replay order: only the run of such
    /// events before `i` is searched. The count of such events is pandas' `duplicated().sum()`.
    @inline(__always)
    static func isExactDuplicateOfEarlier(_ events: [Interaction], at i: Int) -> Bool {
        let e = events[i]
        var j = i - 1
        while j >= 0 {
            let p = events[j]
            if !p.sharesReplayKey(with: e) { return false }
            if p.isExactDuplicate(of: e) { return true }
            j -= 1
        }
        return false
    }
}
