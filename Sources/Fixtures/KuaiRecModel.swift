import ReplayStream

/// The fixed "world" behind one generated archive: which users and videos exist, which
/// of them form the small matrix, per-video durations/popularity/upload days, and a
/// per-user activity profile. Everything is a pure function of the config, and every
/// random draw comes from a stream keyed by (seed, table, id), so any table can be
/// generated alone (and in any order) with identical results.
struct KuaiRecModel {
    let config: GeneratorConfig
    let days: Int
    let bigUsers: Int
    let bigVideos: Int
    /// Day number (since 1970-01-01) of the first date label, 2020-07-05.
    let firstDayNumber: Int
    /// YYYYMMDD for each day index 0..<days.
    let dateLabels: [Int]
    /// Epoch milliseconds of Beijing midnight starting each day index (index `days` included).
    let dayStartMs: [Int64]

    let smallUsers: [Int]
    let isSmallUser: [Bool]
    let smallVideos: [Int]
    let isSmallVideo: [Bool]

    /// Per big video.
    let videoDuration: [Int32]
    let videoRatioOffset: [Double]
    let uploadDay: [Int]
    /// Cumulative popularity over all big videos, and over the big videos that are not
    /// small videos (`nonSmallVideos`), for the small users' big rows.
    let popularityCDF: [Double]
    let nonSmallVideos: [Int32]
    let nonSmallCDF: [Double]

    /// The first date label, 2020-07-05.
    static let firstDay = CalendarDay(year: 2020, month: 7, day: 5)!

    init(config: GeneratorConfig) {
        self.config = config
        days = config.days
        bigUsers = config.effectiveBigUsers
        bigVideos = config.effectiveBigVideos
        firstDayNumber = Int(Self.firstDay.rawValue)
        let calendar = Self.dayCalendar(days: days, firstDayNumber: firstDayNumber)
        dateLabels = calendar.labels
        dayStartMs = calendar.starts

        var rng = SeededRandom(seed: config.seed, stream: .ids)
        smallUsers = rng.sample(config.users, from: bigUsers)
        smallVideos = rng.sample(config.videos, from: bigVideos)
        isSmallUser = Self.membership(of: smallUsers, count: bigUsers)
        isSmallVideo = Self.membership(of: smallVideos, count: bigVideos)

        let videos = Self.drawVideos(config: config, isSmallVideo: isSmallVideo)
        videoDuration = videos.durations
        videoRatioOffset = videos.offsets
        uploadDay = videos.uploads

        let popularity = Self.popularity(weights: videos.weights, isSmallVideo: isSmallVideo)
        popularityCDF = popularity.cdf
        nonSmallVideos = popularity.nonSmallVideos
        nonSmallCDF = popularity.nonSmallCDF
        let online = Self.onlineCounts(uploads: videos.uploads, nonSmallVideos: popularity.nonSmallVideos, days: days)
        onlineCount = online.all
        nonSmallOnlineCount = online.nonSmall
    }

    /// The YYYYMMDD label of each day index and the epoch ms of the Beijing midnight
    /// starting each day index (one more start than labels: index `days` is included).
    private static func dayCalendar(days: Int, firstDayNumber: Int) -> (labels: [Int], starts: [Int64]) {
        var labels: [Int] = []
        var starts: [Int64] = []
        for d in 0...days {
            if d < days { labels.append(firstDay.adding(d).yyyymmdd) }
            starts.append(Int64(firstDayNumber + d) * 86_400_000 - 8 * 3_600_000)
        }
        return (labels, starts)
    }

    /// A flag per id in 0..<count, true for the ids in `members`.
    private static func membership(of members: [Int], count: Int) -> [Bool] {
        var flags = [Bool](repeating: false, count: count)
        for m in members { flags[m] = true }
        return flags
    }

    /// The per-video attributes drawn from the `.videos` stream, indexed by big video id.
    private struct VideoDraws {
        var durations: [Int32]
        var offsets: [Double]
        var uploads: [Int]
        /// Relative popularity (not normalized).
        var weights: [Double]
    }

    /// Draws every big video's duration, ratio offset, upload day and popularity weight
    /// from one `.videos` stream, video by video in that order.
    private static func drawVideos(config: GeneratorConfig, isSmallVideo sv: [Bool]) -> VideoDraws {
        let bigVideos = sv.count
        let d = config.days
        var vr = SeededRandom(seed: config.seed, stream: .videos)
        var draws = VideoDraws(
            durations: [Int32](repeating: 0, count: bigVideos), offsets: [Double](repeating: 0, count: bigVideos),
            uploads: [Int](repeating: 0, count: bigVideos), weights: [Double](repeating: 0, count: bigVideos))
        for v in 0..<bigVideos {
            draws.durations[v] = drawDuration(isSmall: sv[v], rng: &vr)
            draws.offsets[v] = vr.normal(mean: 0, sd: 0.22)
            draws.uploads[v] = drawUploadDay(video: v, of: bigVideos, days: d, rng: &vr)
            draws.weights[v] = vr.logNormal(mu: 0, sigma: 1.0)
        }
        if bigVideos > 0 { draws.uploads[bigVideos - 1] = d - 1 }
        return draws
    }

    /// A video duration in ms: most 5-15 s (median ~9.6 s), 10% long (up to 315 s); small
    /// videos last at least 3,067 ms, and a few other videos are very short.
    private static func drawDuration(isSmall: Bool, rng vr: inout SeededRandom) -> Int32 {
        var dur: Double
        if vr.bernoulli(0.10) {
            dur = vr.logNormal(mu: detLog(38_000), sigma: 0.8)
        } else {
            dur = vr.logNormal(mu: detLog(9_500), sigma: 0.32)
        }
        let minDur = isSmall ? 3_067.0 : 140.0
        if !isSmall && vr.bernoulli(0.002) { dur = vr.uniform(140, 3_000) }
        dur = min(315_072, max(minDur, dur))
        return Int32(dur.rounded())
    }

    /// The upload day index of video `v`: growing with the id, before the window (negative)
    /// for the first 15% (or for all when there is one day).
    private static func drawUploadDay(video v: Int, of bigVideos: Int, days d: Int, rng vr: inout SeededRandom) -> Int {
        let frac = Double(v) / Double(bigVideos)
        // (Non-decreasing in v from 15% on, so the videos online on a day are a prefix.)
        if frac < 0.15 || d == 1 {
            return -1 - vr.int(below: 200)
        }
        let pos = (frac - 0.15) / 0.85 * Double(d)
        return min(d - 1, max(0, Int(pos)))
    }

    /// Cumulative popularity over all big videos, and over the big videos outside the
    /// small set (with those videos' ids).
    private static func popularity(weights: [Double], isSmallVideo sv: [Bool])
        -> (cdf: [Double], nonSmallVideos: [Int32], nonSmallCDF: [Double])
    {
        var cdf = [Double](repeating: 0, count: weights.count)
        var acc = 0.0
        var nsVideos: [Int32] = []
        var nsCDF: [Double] = []
        var nsAcc = 0.0
        for v in 0..<weights.count {
            acc += weights[v]
            cdf[v] = acc
            if !sv[v] {
                nsAcc += weights[v]
                nsVideos.append(Int32(v))
                nsCDF.append(nsAcc)
            }
        }
        return (cdf, nsVideos, nsCDF)
    }

    /// Per day, the prefix lengths of the big videos and of the non-small videos uploaded
    /// on or before that day (at least 1 each).
    private static func onlineCounts(uploads: [Int], nonSmallVideos nsVideos: [Int32], days d: Int)
        -> (all: [Int], nonSmall: [Int])
    {
        let bigVideos = uploads.count
        var online: [Int] = []
        var nsOnline: [Int] = []
        for day in 0..<d {
            var n = 0
            while n < bigVideos && uploads[n] <= day { n += 1 }
            online.append(max(1, n))
            var m = 0
            while m < nsVideos.count && uploads[Int(nsVideos[m])] <= day { m += 1 }
            nsOnline.append(max(1, m))
        }
        return (online, nsOnline)
    }

    /// Per day: how many of the first big videos (resp. non-small videos) are online.
    let onlineCount: [Int]
    let nonSmallOnlineCount: [Int]

    /// A video online on `day`, drawn by popularity; for small users only from videos
    /// outside the small set.
    @inline(__always)
    func popularVideo(forSmallUser small: Bool, day: Int, rng: inout SeededRandom) -> Int32 {
        let cdf = small ? nonSmallCDF : popularityCDF
        let limit = min(cdf.count, small ? nonSmallOnlineCount[day] : onlineCount[day])
        let x = rng.uniform() * cdf[limit - 1]
        var lo = 0, hi = limit - 1
        while lo < hi {
            let mid = (lo + hi) >> 1
            if cdf[mid] <= x { lo = mid + 1 } else { hi = mid }
        }
        return small ? nonSmallVideos[lo] : Int32(lo)
    }

    /// Day index of the Beijing date of an instant (may be -1 or `days`).
    @inline(__always)
    func beijingDayIndex(_ ms: Int64) -> Int {
        let local = ms + 8 * 3_600_000
        return Int(local >= 0 ? local / 86_400_000 : (local - 86_399_999) / 86_400_000) - firstDayNumber
    }

    // MARK: - User activity

    struct UserProfile {
        /// Active day indices, ascending.
        var activeDays: [Int]
        /// A relative intensity per active day (heavy-tailed, with rare binge days).
        var weights: [Double]
        /// Added to the log watch ratio of every play of this user.
        var ratioOffset: Double
        /// Target big_matrix rows (duplicates included).
        var bigRows: Int
    }

    /// The activity profile of a big user, shared by the user's small and big rows.
    /// Small users are active on nearly every day; other users start late / stop early
    /// more often and skip more days.
    func profile(user u: Int) -> UserProfile {
        var rng = SeededRandom(seed: config.seed, stream: .userProfile, index: u)
        let small = isSmallUser[u]
        let d = days
        var start = 0
        var end = d - 1
        if d >= 4 {
            if rng.bernoulli(small ? 0.04 : 0.25) { start = rng.int(in: 1...max(1, d / 2)) }
            if rng.bernoulli(small ? 0.04 : 0.25) {
                let lo = max(start + 1, (d - 1) / 2)
                if lo <= d - 2 { end = rng.int(in: lo...(d - 2)) }
            }
        }
        let p = small ? rng.uniform(0.92, 1.0) : rng.uniform(0.1, 0.62)
        var active: [Int] = []
        var weights: [Double] = []
        active.reserveCapacity(end - start + 1)
        for day in start...end {
            let isActive = day == start || day == end || rng.bernoulli(p)
            var w = rng.logNormal(mu: 0, sigma: small ? 0.45 : 0.7)
            if rng.bernoulli(0.03) { w *= rng.uniform(0.02, 0.25) } // a short visit
            let binge = rng.bernoulli(0.012) ? (small ? rng.uniform(1.5, 3.5) : rng.uniform(2, 5)) : 1
            if isActive {
                active.append(day)
                weights.append(w * binge)
            }
        }
        let offset = rng.normal(mean: 0, sd: 0.15)
        // Rows per big user (real, 63 days): min 100, quartiles 883/1846/2461,
        // mean ~1746, max 16015. Piecewise-linear quantile function, scaled by days/63.
        let q = rng.uniform()
        let knots: [(Double, Double)] = [(0, 100), (0.25, 883), (0.5, 1846), (0.75, 2461),
                                         (0.99, 3300), (0.999, 8000), (1.0, 16015)]
        var rows = 100.0
        for i in 1..<knots.count where q <= knots[i].0 || i == knots.count - 1 {
            let (q0, v0) = knots[i - 1], (q1, v1) = knots[i]
            rows = v0 + (v1 - v0) * (q - q0) / (q1 - q0)
            break
        }
        let scaled = max(5, Int((rows * Double(d) / 63).rounded()))
        return UserProfile(activeDays: active, weights: weights, ratioOffset: offset, bigRows: scaled)
    }

    /// Splits `total` over the days in proportion to `weights` (cumulative rounding:
    /// the counts sum exactly to `total`).
    static func apportion(_ total: Int, weights: [Double], into counts: inout [Int]) {
        counts.removeAll(keepingCapacity: true)
        let sum = weights.reduce(0, +)
        var acc = 0.0
        var prev = 0
        for w in weights {
            acc += w
            let cum = min(total, Int((Double(total) * acc / sum).rounded()))
            counts.append(cum - prev)
            prev = cum
        }
        if let last = counts.indices.last { counts[last] += total - prev }
    }

    // MARK: - Sessions and watch ratios

    /// Hour-of-day weights for session starts (Beijing), after the small matrix's
    /// hour histogram: hour 0 4.3%, 1-6 25.4%, 7-12 33.2%, 13-18 23.9%, 19-23 13.1%.
    static let hourCDF: [Double] = {
        var w: [Double] = [4.3]
        w += Array(repeating: 25.4 / 6, count: 6)
        w += Array(repeating: 33.2 / 6, count: 6)
        w += Array(repeating: 23.9 / 6, count: 6)
        w += Array(repeating: 13.1 / 5, count: 5)
        var acc = 0.0
        return w.map { acc += $0; return acc }
    }()

    struct Session {
        var startMs: Int64
        var count: Int
        /// Deliberately placed across a midnight (label != Beijing date).
        var shifted: Bool
    }

    /// Moves an ordinary session that ran past the midnight ending its label day back so
    /// it ends before midnight (otherwise ~0.4% of rows, not ~0.1%, would be mislabeled).
    func keepInDay(_ events: inout [PlayEvent], from first: Int, session: Session, day: Int, rng: inout SeededRandom) {
        guard !session.shifted, first < events.count else { return }
        let end = dayStartMs[day + 1]
        let last = events[events.count - 1].ts
        guard last >= end else { return }
        let shift = last - end + 1 + Int64(rng.int(below: 600_000))
        guard events[first].ts - shift >= dayStartMs[day] else { return }
        for i in first..<events.count { events[i].ts -= shift }
    }

    /// Splits a user-day's `count` plays into sessions with start instants. About 0.1%
    /// of sessions are moved across the midnight next to their label day (just after the
    /// following midnight, or late the evening before), so their `date` label differs
    /// from the Beijing date of their timestamps; labels themselves stay in range.
    func planSessions(day: Int, count: Int, rng: inout SeededRandom, into sessions: inout [Session]) {
        sessions.removeAll(keepingCapacity: true)
        guard count > 0 else { return }
        let k = min(count, 1 + rng.int(below: 1 + count / 25))
        var remaining = count
        for i in 0..<k {
            let n = i == k - 1 ? remaining : max(1, min(remaining - (k - 1 - i), Int((Double(remaining) / Double(k - i) * rng.uniform(0.4, 1.6)).rounded())))
            remaining -= n
            var start: Int64
            let shift = rng.uniform()
            let shifted = shift < 0.0012
            if shift < 0.0006 {
                // Just after the next midnight, still labelled with this day.
                start = dayStartMs[day + 1] + Int64(rng.int(below: 40 * 60_000))
            } else if shift < 0.0012 {
                // Late the evening before, already labelled with this day.
                start = dayStartMs[day] - Int64(5 * 60_000 + rng.int(below: 115 * 60_000))
            } else {
                let x = rng.uniform() * Self.hourCDF[23]
                var h = 0
                while h < 23 && Self.hourCDF[h] <= x { h += 1 }
                start = dayStartMs[day] + Int64(h) * 3_600_000 + Int64(rng.int(below: 3_600_000))
            }
            sessions.append(Session(startMs: start, count: n, shifted: shifted))
        }
    }

    /// Milliseconds from the start of one play to the start of the next.
    @inline(__always)
    static func advance(play: Int32, rng: inout SeededRandom) -> Int64 {
        var gap = Int64(150 + rng.int(below: 2_500))
        if rng.bernoulli(0.04) { gap += Int64(rng.exponential(mean: 45_000)) }
        return Int64(play) + gap
    }

    /// A watch ratio: a zero play now and then, skips (< 0.1), partial plays (0.1-0.6),
    /// a log-normal body, and a truncated Pareto tail (max in the hundreds; ~0.5% of small
    /// and ~0.9% of big plays >= 5, as in KuaiRec). Long videos are watched proportionally
    /// less, and the tail only occurs for videos under 20 s (so play_duration stays < 8e6 ms).
    /// Mixture weights were fitted to the published quartiles of both matrices.
    @inline(__always)
    static func sampleRatio(big: Bool, duration: Int32, offset: Double, rng: inout SeededRandom) -> Double {
        let u = rng.uniform()
        if u < 0.0004 { return 0 }
        let skip = big ? 0.09 : 0.05
        if u < skip { return rng.uniform(0.002, 0.1) }
        let partial = skip + (big ? 0.15 : 0.05)
        if u < partial { return rng.uniform(0.1, 0.6) }
        if u < partial + (big ? 0.012 : 0.009) && duration < 20_000 {
            return min(rng.truncatedPareto(xm: 2.6, alpha: 1.45, upper: 575), 8_000_000 / Double(duration))
        }
        let lengthEffect = duration > 15_000 ? -0.45 * detLog(Double(duration) / 15_000) : 0
        return rng.logNormal(mu: (big ? -0.05 : -0.15) + offset + lengthEffect, sigma: big ? 0.65 : 0.54)
    }

    @inline(__always)
    static func playDuration(videoDuration: Int32, ratio: Double) -> Int32 {
        let p = (Double(videoDuration) * ratio).rounded()
        return Int32(min(p, 2_000_000_000))
    }
}
