/// Generation of small_matrix.csv and big_matrix.csv.
///
/// Rows are grouped by user_id (ascending) and ordered by timestamp within the user
/// (ties keep generation order); in small_matrix each user's timeless rows (empty
/// time/date/timestamp, the "stage 2" exposures) follow the user's timed rows in random
/// video order. Exact duplicates in big_matrix are written as repeated adjacent lines.

/// Counts of one generated matrix.
public struct MatrixCSVSummary: Sendable, Equatable {
    /// Data lines (header excluded).
    public var rows: Int
    /// small_matrix rows with no time/date/timestamp.
    public var timelessRows: Int
    /// big_matrix lines that repeat the previous line exactly.
    public var duplicateRows: Int
    /// Rows whose `date` label is not the Beijing date of their timestamp.
    public var mislabeledRows: Int
    /// Bytes of the CSV text, header included.
    public var bytes: Int
}

struct PlayEvent {
    var ts: Int64
    var seq: Int32
    var video: Int32
    var play: Int32
    var duration: Int32
    var day: Int32
}

extension KuaiRecModel {
    static let matrixHeader: StaticString =
        "user_id,video_id,play_duration,video_duration,time,date,timestamp,watch_ratio\n"

    @inline(__always)
    private func writeRow(_ buf: inout CSVBuffer, user: Int, _ e: PlayEvent, day: Int, small: Bool) {
        buf.int(user); buf.comma()
        buf.int(Int(e.video)); buf.comma()
        buf.int(Int(e.play)); buf.comma()
        buf.int(Int(e.duration)); buf.comma()
        buf.beijingTime(milliseconds: e.ts); buf.comma()
        buf.int(dateLabels[day])
        if small { buf.byte(UInt8(ascii: ".")); buf.byte(UInt8(ascii: "0")) }
        buf.comma()
        buf.epochSeconds(milliseconds: e.ts); buf.comma()
        buf.double(Double(e.play) / Double(e.duration))
        buf.newline()
    }

    private static func sortEvents(_ events: inout [PlayEvent]) {
        events.sort { $0.ts != $1.ts ? $0.ts < $1.ts : $0.seq < $1.seq }
    }

    /// Writes small_matrix.csv (header included).
    ///
    /// Each small user gets one row for ~99.6% of the small videos (a few missing per
    /// user), ~3.9% of them timeless; the timed plays are spread over the user's active
    /// days in sessions.
    func writeSmallMatrix(into buf: inout CSVBuffer) throws -> MatrixCSVSummary {
        let start = buf.totalBytes
        buf.text(Self.matrixHeader)
        var summary = MatrixCSVSummary(rows: 0, timelessRows: 0, duplicateRows: 0, mislabeledRows: 0, bytes: 0)
        var events: [PlayEvent] = []
        var counts: [Int] = []
        var sessions: [Session] = []
        let videoCount = smallVideos.count
        var order = [Int32](repeating: 0, count: videoCount)
        for u in smallUsers {
            var rng = SeededRandom(seed: config.seed, stream: .smallUser, index: u)
            let prof = profile(user: u)
            for i in 0..<videoCount { order[i] = Int32(smallVideos[i]) }
            rng.shuffle(&order)
            let missing = min(videoCount - 1, rng.poisson(mean: Double(videoCount) * 0.0038 * rng.uniform(0, 2)))
            let available = videoCount - missing
            let timelessShare = 0.0389 * rng.uniform(0.35, 1.65)
            let timeless = min(available - 1, Int((Double(available) * timelessShare + rng.uniform()).rounded(.down)))
            let timed = available - timeless
            Self.apportion(timed, weights: prof.weights, into: &counts)

            events.removeAll(keepingCapacity: true)
            var next = missing
            var seq: Int32 = 0
            for (i, day) in prof.activeDays.enumerated() where counts[i] > 0 {
                planSessions(day: day, count: counts[i], rng: &rng, into: &sessions)
                playSessions(
                    sessions, day: day, big: false, ratioOffset: prof.ratioOffset, seq: &seq, rng: &rng, into: &events,
                    sessionStart: { _ in },
                    video: { _ in
                        defer { next += 1 }
                        return order[next]
                    })
            }
            Self.sortEvents(&events)
            for e in events {
                writeRow(&buf, user: u, e, day: Int(e.day), small: true)
                if beijingDayIndex(e.ts) != Int(e.day) { summary.mislabeledRows += 1 }
                try buf.maybeFlush()
            }
            summary.rows += events.count
            // Timeless rows, in the (random) order the videos were drawn.
            while next < videoCount {
                let v = order[next]
                next += 1
                let dur = videoDuration[Int(v)]
                let ratio = Self.sampleRatio(big: false, duration: dur, offset: prof.ratioOffset + videoRatioOffset[Int(v)], rng: &rng)
                let play = Self.playDuration(videoDuration: dur, ratio: ratio)
                buf.int(u); buf.comma()
                buf.int(Int(v)); buf.comma()
                buf.int(Int(play)); buf.comma()
                buf.int(Int(dur))
                buf.text(",,,,")
                buf.double(Double(play) / Double(dur))
                buf.newline()
                summary.rows += 1
                summary.timelessRows += 1
            }
            try buf.maybeFlush()
        }
        summary.bytes = buf.totalBytes - start
        return summary
    }

    /// Writes big_matrix.csv (header included).
    ///
    /// Users 0..<bigUsers, heavy-tailed row counts (mean ~1746 x days/63), videos drawn
    /// by popularity with immediate re-watches and rare "loop" sessions; small users
    /// never get a small video here. ~7.7% of lines are exact repeats of the previous
    /// line; ~0.02% of plays are logged again under the adjacent date label.
    func writeBigMatrix(into buf: inout CSVBuffer) throws -> MatrixCSVSummary {
        let start = buf.totalBytes
        buf.text(Self.matrixHeader)
        var summary = MatrixCSVSummary(rows: 0, timelessRows: 0, duplicateRows: 0, mislabeledRows: 0, bytes: 0)
        var events: [PlayEvent] = []
        var counts: [Int] = []
        var weights: [Double] = []
        var sessions: [Session] = []
        for u in 0..<bigUsers {
            var rng = SeededRandom(seed: config.seed, stream: .bigUser, index: u)
            let prof = profile(user: u)
            let small = isSmallUser[u]
            if small && nonSmallVideos.isEmpty { continue }
            let plays = max(1, Int((Double(prof.bigRows) / 1.0847).rounded()))
            weights.removeAll(keepingCapacity: true)
            for w in prof.weights { weights.append(w * rng.logNormal(mu: 0, sigma: 0.6)) }
            Self.apportion(plays, weights: weights, into: &counts)

            events.removeAll(keepingCapacity: true)
            var seq: Int32 = 0
            for (i, day) in prof.activeDays.enumerated() where counts[i] > 0 {
                planSessions(day: day, count: counts[i], rng: &rng, into: &sessions)
                var loopVideo: Int32 = -1
                var previous: Int32 = -1
                playSessions(
                    sessions, day: day, big: true, ratioOffset: prof.ratioOffset, seq: &seq, rng: &rng, into: &events,
                    sessionStart: { rng in
                        loopVideo = rng.bernoulli(0.0008) ? popularVideo(forSmallUser: small, day: day, rng: &rng) : -1
                        previous = -1
                    },
                    video: { rng in
                        let v: Int32
                        if loopVideo >= 0 {
                            v = loopVideo
                        } else if previous >= 0 && rng.bernoulli(0.07) {
                            v = previous
                        } else {
                            v = popularVideo(forSmallUser: small, day: day, rng: &rng)
                        }
                        previous = v
                        return v
                    })
            }
            Self.sortEvents(&events)
            for e in events {
                let rowStart = buf.bytes.count
                writeRow(&buf, user: u, e, day: Int(e.day), small: false)
                let mislabeled = beijingDayIndex(e.ts) != Int(e.day)
                if mislabeled { summary.mislabeledRows += 1 }
                summary.rows += 1
                let x = rng.uniform()
                var copies = 0
                if x < 0.08 {
                    copies = 1
                } else if x < 0.0815 {
                    copies = 3
                } else if x < 0.0817 && days > 1 {
                    // The same play logged under the neighbouring date partition.
                    let other = Int(e.day) + (Int(e.day) + 1 < days && (Int(e.day) == 0 || rng.bernoulli(0.5)) ? 1 : -1)
                    writeRow(&buf, user: u, e, day: other, small: false)
                    summary.rows += 1
                    if beijingDayIndex(e.ts) != other { summary.mislabeledRows += 1 }
                }
                if copies > 0 {
                    let rowEnd = rowStart + (buf.bytes.count - rowStart)
                    for _ in 0..<copies { buf.repeatBytes(from: rowStart, to: rowEnd) }
                    summary.rows += copies
                    summary.duplicateRows += copies
                    if mislabeled { summary.mislabeledRows += copies }
                }
                try buf.maybeFlush()
            }
        }
        summary.bytes = buf.totalBytes - start
        return summary
    }
}

extension KuaiRecModel {
    /// Plays `sessions` of `day`: for each session, `sessionStart` (its own draws first), then each play's
    /// video from `video` and its values (``appendPlay(of:big:ratioOffset:day:at:seq:rng:into:)``), then the
    /// session is kept inside its label day.
    @inline(__always)
    func playSessions(
        _ sessions: [Session], day: Int, big: Bool, ratioOffset: Double, seq: inout Int32, rng: inout SeededRandom,
        into events: inout [PlayEvent], sessionStart: (inout SeededRandom) -> Void,
        video: (inout SeededRandom) -> Int32
    ) {
        for s in sessions {
            let first = events.count
            var t = s.startMs
            sessionStart(&rng)
            for _ in 0..<s.count {
                let v = video(&rng)
                appendPlay(of: v, big: big, ratioOffset: ratioOffset, day: day, at: &t, seq: &seq, rng: &rng, into: &events)
            }
            keepInDay(&events, from: first, session: s, day: day, rng: &rng)
        }
    }

    /// One play of video `v` at `t` in a session: its watch ratio (drawn first) and play time, then the gap
    /// to the next play (drawn after), so both matrices draw in the same order.
    @inline(__always)
    func appendPlay(
        of v: Int32, big: Bool, ratioOffset: Double, day: Int, at t: inout Int64, seq: inout Int32,
        rng: inout SeededRandom, into events: inout [PlayEvent]
    ) {
        let dur = videoDuration[Int(v)]
        let ratio = Self.sampleRatio(big: big, duration: dur, offset: ratioOffset + videoRatioOffset[Int(v)], rng: &rng)
        let play = Self.playDuration(videoDuration: dur, ratio: ratio)
        events.append(PlayEvent(ts: t, seq: seq, video: v, play: play, duration: dur, day: Int32(day)))
        seq += 1
        t += Self.advance(play: play, rng: &rng)
    }
}
