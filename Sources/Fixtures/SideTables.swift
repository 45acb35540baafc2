import ReplayStream

/// The smaller KuaiRec tables: user_features.csv, item_categories.csv,
/// item_daily_features.csv, social_network.csv, kuairec_caption_category.csv and the
/// two extra CSVs of the outer zip (whose real formats are unknown: placeholders).
extension KuaiRecModel {
    // MARK: user_features.csv

    static let userFeaturesHeader =
        "user_id,user_active_degree,is_lowactive_period,is_live_streamer,is_video_author,"
        + "follow_user_num,follow_user_num_range,fans_user_num,fans_user_num_range,"
        + "friend_user_num,friend_user_num_range,register_days,register_days_range,"
        + (0..<18).map { "onehot_feat\($0)" }.joined(separator: ",") + "\n"

    static let userFeaturesRawHeader =
        "user_id,user_active_degree,is_lowactive_period,is_live_streamer,is_video_author,"
        + "follow_user_num,fans_user_num,friend_user_num,register_days,"
        + (0..<18).map { "onehot_feat\($0)" }.joined(separator: ",") + "\n"

    private static func followRange(_ n: Int) -> String {
        switch n {
        case 0: return "0"
        case 1...10: return "\"(0,10]\""
        case 11...50: return "\"(10,50]\""
        case 51...100: return "\"(50,100]\""
        case 101...150: return "\"(100,150]\""
        case 151...250: return "\"(150,250]\""
        case 251...500: return "\"(250,500]\""
        default: return "500+"
        }
    }

    private static func fansRange(_ n: Int) -> String {
        switch n {
        case 0: return "0"
        case 1..<10: return "\"[1,10)\""
        case 10..<100: return "\"[10,100)\""
        case 100..<1000: return "\"[100,1k)\""
        case 1000..<5000: return "\"[1k,5k)\""
        case 5000..<10000: return "\"[5k,1w)\""
        default: return "\"[1w,10w)\""
        }
    }

    private static func friendRange(_ n: Int) -> String {
        switch n {
        case 0: return "0"
        case 1..<5: return "\"[1,5)\""
        case 5..<30: return "\"[5,30)\""
        case 30..<60: return "\"[30,60)\""
        case 60..<120: return "\"[60,120)\""
        case 120..<250: return "\"[120,250)\""
        default: return "250+"
        }
    }

    private static func registerRange(_ n: Int) -> String {
        switch n {
        case ..<31: return "15-30"
        case 31...60: return "31-60"
        case 61...90: return "61-90"
        case 91...180: return "91-180"
        case 181...365: return "181-365"
        case 366...730: return "366-730"
        default: return "730+"
        }
    }

    /// user_features.csv (`raw == false`, 31 columns) or the outer zip's
    /// user_features_raw.csv (`raw == true`: the same users without the *_range columns).
    func writeUserFeatures(into buf: inout CSVBuffer, raw: Bool) throws {
        buf.text(raw ? Self.userFeaturesRawHeader : Self.userFeaturesHeader)
        let onehotMax = [1, 7, 29, 1075, 11, 9, 2, 46, 339, 6, 4, 2, 1, 1, 1, 1, 1, 1]
        for u in 0..<bigUsers {
            var rng = SeededRandom(seed: config.seed, stream: .userFeatures, index: u)
            buf.int(u); buf.comma()
            let a = rng.uniform()
            let degree: String
            if isSmallUser[u] {
                degree = a < 0.93 ? "full_active" : "high_active"
            } else {
                degree = a < 0.849 ? "full_active" : a < 0.98 ? "high_active" : a < 0.996 ? "UNKNOWN" : "middle_active"
            }
            buf.text(degree); buf.comma()
            buf.int(rng.bernoulli(0.0004) ? 1 : 0); buf.comma()
            buf.int(rng.bernoulli(0.0068) ? 1 : 0); buf.comma()
            buf.int(rng.bernoulli(0.1696) ? 1 : 0); buf.comma()
            let follow = rng.bernoulli(0.04) ? 0 : min(5_000, Int(rng.logNormal(mu: detLog(70), sigma: 1.1)))
            let fans = rng.bernoulli(0.45) ? 0 : min(99_999, Int(rng.logNormal(mu: detLog(3), sigma: 1.6)))
            let friends = rng.bernoulli(0.3) ? 0 : min(2_000, Int(rng.logNormal(mu: detLog(6), sigma: 1.2)))
            let register = 15 + Int(rng.logNormal(mu: detLog(300), sigma: 0.9).rounded())
            buf.int(follow); buf.comma()
            if !raw { buf.text(Self.followRange(follow)); buf.comma() }
            buf.int(fans); buf.comma()
            if !raw { buf.text(Self.fansRange(fans)); buf.comma() }
            buf.int(friends); buf.comma()
            if !raw { buf.text(Self.friendRange(friends)); buf.comma() }
            buf.int(register); buf.comma()
            if !raw { buf.text(Self.registerRange(register)); buf.comma() }
            for f in 0..<18 {
                let missing = (f == 4 && rng.bernoulli(0.028)) || (f >= 12 && rng.bernoulli(0.0105))
                if !missing {
                    // Skewed towards small category indices.
                    let x = rng.uniform()
                    buf.int(min(onehotMax[f], Int(x * x * Double(onehotMax[f] + 1))))
                }
                if f < 17 { buf.comma() }
            }
            buf.newline()
            try buf.maybeFlush()
        }
    }

    // MARK: item_categories.csv

    /// Tags (0..30) of a video: 1-4 distinct tags, mean ~1.18.
    func videoTags(_ v: Int) -> [Int] {
        var rng = SeededRandom(seed: config.seed, stream: .itemCategories, index: v)
        let x = rng.uniform()
        let n = x < 0.83 ? 1 : x < 0.985 ? 2 : x < 0.998 ? 3 : 4
        var tags: [Int] = []
        while tags.count < n {
            let y = rng.uniform()
            let t = min(30, Int(y * y * 31))
            if !tags.contains(t) { tags.append(t) }
        }
        return tags
    }

    func writeItemCategories(into buf: inout CSVBuffer) throws {
        buf.text("video_id,feat\n")
        for v in 0..<bigVideos {
            let tags = videoTags(v)
            buf.int(v); buf.comma()
            if tags.count > 1 { buf.byte(UInt8(ascii: "\"")) }
            buf.byte(UInt8(ascii: "["))
            for (i, t) in tags.enumerated() {
                if i > 0 { buf.text(", ") }
                buf.int(t)
            }
            buf.byte(UInt8(ascii: "]"))
            if tags.count > 1 { buf.byte(UInt8(ascii: "\"")) }
            buf.newline()
            try buf.maybeFlush()
        }
    }

    // MARK: social_network.csv

    /// ~6.6% of the big users (472 of 7,176), in random order, 1-5 friends each.
    func writeSocialNetwork(into buf: inout CSVBuffer) throws -> Int {
        buf.text("user_id,friend_list\n")
        guard bigUsers >= 2 else { return 0 }
        var rng = SeededRandom(seed: config.seed, stream: .social)
        let n = max(1, Int((Double(bigUsers) * 472.0 / 7176.0).rounded()))
        var users = rng.sample(n, from: bigUsers)
        rng.shuffle(&users)
        for u in users {
            let x = rng.uniform()
            let k = min(bigUsers - 1, x < 0.72 ? 1 : x < 0.9 ? 2 : x < 0.97 ? 3 : x < 0.99 ? 4 : 5)
            var friends: [Int] = []
            while friends.count < k {
                let f = rng.int(below: bigUsers)
                if f != u && !friends.contains(f) { friends.append(f) }
            }
            buf.int(u); buf.comma()
            if k > 1 { buf.byte(UInt8(ascii: "\"")) }
            buf.byte(UInt8(ascii: "["))
            for (i, f) in friends.enumerated() {
                if i > 0 { buf.text(", ") }
                buf.int(f)
            }
            buf.byte(UInt8(ascii: "]"))
            if k > 1 { buf.byte(UInt8(ascii: "\"")) }
            buf.newline()
        }
        try buf.maybeFlush()
        return users.count
    }

    // MARK: kuairec_caption_category.csv

    static let captionWords = [
        "精神小伙", "路难走", "程哥", "你狗粮慢点撒", "今天", "分享", "一下", "生活", "日常", "美食",
        "教程", "搞笑", "挑战", "记录", "旅行", "萌宠", "舞蹈", "音乐", "好看", "推荐",
        "家人们", "太难了", "哈哈哈", "加油", "晚安", "早安", "周末", "夏天", "回家", "朋友",
    ]
    static let categoryNames = [
        "颜值", "搞笑", "美食", "游戏", "音乐", "舞蹈", "宠物", "生活", "运动", "汽车",
        "影视", "时尚", "旅行", "教育", "科技", "亲子", "情感", "三农", "健身", "动漫",
    ]
    static let topicWords = ["热门", "搞笑", "美食", "日常", "正能量", "萌宠", "音乐", "舞蹈"]

    func writeCaptionCategory(into buf: inout CSVBuffer) throws {
        buf.text("video_id,manual_cover_text,caption,topic_tag,first_level_category_id,first_level_category_name,"
                 + "second_level_category_id,second_level_category_name,third_level_category_id,third_level_category_name\n")
        // A few captions span lines (10,732 physical lines for 10,728 records in the real file).
        let multiline = max(2, Int((Double(bigVideos) * 4.0 / 10728.0).rounded()))
        let stride = max(1, bigVideos / multiline)
        for v in 0..<bigVideos {
            var rng = SeededRandom(seed: config.seed, stream: .captions, index: v)
            buf.int(v); buf.comma()
            if rng.bernoulli(0.6) {
                buf.text("UNKNOWN")
            } else {
                buf.text(Self.captionWords[rng.int(below: Self.captionWords.count)])
                buf.text(Self.captionWords[rng.int(below: Self.captionWords.count)])
            }
            buf.comma()
            let hasNewline = v % stride == stride / 2 && v / stride < multiline
            if hasNewline || !rng.bernoulli(0.05) {
                if hasNewline { buf.byte(UInt8(ascii: "\"")) }
                let words = 1 + rng.int(below: 4)
                for i in 0..<words {
                    if i > 0 { buf.text(hasNewline && i == 1 ? "\n" : " ") }
                    buf.text(Self.captionWords[rng.int(below: Self.captionWords.count)])
                }
                if hasNewline {
                    if words == 1 { buf.text("\n") ; buf.text(Self.captionWords[0]) }
                    buf.byte(UInt8(ascii: "\""))
                }
            }
            buf.comma()
            let topics = rng.bernoulli(0.6) ? 0 : 1 + rng.int(below: 2)
            if topics > 1 { buf.byte(UInt8(ascii: "\"")) }
            buf.byte(UInt8(ascii: "["))
            for i in 0..<topics {
                if i > 0 { buf.comma() }
                buf.text(Self.topicWords[rng.int(below: Self.topicWords.count)])
            }
            buf.byte(UInt8(ascii: "]"))
            if topics > 1 { buf.byte(UInt8(ascii: "\"")) }
            buf.comma()
            let c1 = rng.int(below: Self.categoryNames.count)
            buf.int(c1 + 1); buf.comma(); buf.text(Self.categoryNames[c1]); buf.comma()
            if rng.bernoulli(0.05) {
                buf.text("-124,UNKNOWN,")
            } else {
                buf.int(600 + c1 * 7 + rng.int(below: 7)); buf.comma()
                buf.text(Self.categoryNames[c1]); buf.text("随拍"); buf.comma()
            }
            if rng.bernoulli(0.7) {
                buf.text("-124,UNKNOWN")
            } else {
                buf.int(2000 + rng.int(below: 400)); buf.comma()
                buf.text(Self.categoryNames[rng.int(below: Self.categoryNames.count)])
            }
            buf.newline()
            try buf.maybeFlush()
        }
    }

    /// video_raw_categories_multi.csv (outer zip; real format unknown): 1-4 category
    /// rows per video, ~2.5 on average.
    func writeRawCategoriesMulti(into buf: inout CSVBuffer) throws {
        buf.text("video_id,category_level,category_id,category_name\n")
        for v in 0..<bigVideos {
            var rng = SeededRandom(seed: config.seed, stream: .rawCategories, index: v)
            let n = 1 + rng.int(below: 4)
            for level in 1...n {
                let c = rng.int(below: Self.categoryNames.count)
                buf.int(v); buf.comma()
                buf.int(level); buf.comma()
                buf.int(level * 1000 + c); buf.comma()
                buf.text(Self.categoryNames[c])
                buf.newline()
            }
            try buf.maybeFlush()
        }
    }

    // MARK: item_daily_features.csv

    static let itemDailyHeader =
        "video_id,date,author_id,video_type,upload_dt,upload_type,visible_status,video_duration,video_width,"
        + "video_height,music_id,video_tag_id,video_tag_name,show_cnt,show_user_num,play_cnt,play_user_num,"
        + "play_duration,complete_play_cnt,complete_play_user_num,valid_play_cnt,valid_play_user_num,"
        + "long_time_play_cnt,long_time_play_user_num,short_time_play_cnt,short_time_play_user_num,"
        + "play_progress,comment_stay_duration,like_cnt,like_user_num,click_like_cnt,double_click_cnt,"
        + "cancel_like_cnt,cancel_like_user_num,comment_cnt,comment_user_num,direct_comment_cnt,"
        + "reply_comment_cnt,delete_comment_cnt,delete_comment_user_num,comment_like_cnt,"
        + "comment_like_user_num,follow_cnt,follow_user_num,cancel_follow_cnt,cancel_follow_user_num,"
        + "share_cnt,share_user_num,download_cnt,download_user_num,report_cnt,report_user_num,"
        + "reduce_similar_cnt,reduce_similar_user_num,collect_cnt,collect_user_num,cancel_collect_cnt,"
        + "cancel_collect_user_num\n"

    static let uploadTypes = ["ShortImport", "LongImport", "ShortCamera", "LongCamera", "PictureSet", "Web"]
    static let resolutions: [(Int, Int)] = [(720, 1280), (720, 1280), (720, 1280), (576, 1024), (1080, 1920),
                                            (540, 960), (368, 640), (720, 720), (1280, 720), (270, 480)]

    /// One row per (video, date) from the video's upload day (or the first date) to the
    /// last date, sorted by (video_id, date). collect_* are empty before 20200728.
    func writeItemDailyFeatures(into buf: inout CSVBuffer) throws -> Int {
        buf.text(Self.itemDailyHeader)
        var rows = 0
        for v in 0..<bigVideos {
            var rng = SeededRandom(seed: config.seed, stream: .itemDaily, index: v)
            let video = itemDailyVideo(v, rng: &rng)
            let prefix = video.prefixBytes()
            for day in max(0, video.upload)..<days {
                try writeItemDailyRow(video: v, day: day, attributes: video, prefix: prefix, rng: &rng, into: &buf)
                rows += 1
            }
        }
        return rows
    }

    /// The attributes of one video that item_daily_features.csv repeats on every date.
    struct ItemDailyVideo {
        var author: Int
        var isAd: Bool
        var upload: Int
        var uploadType: String
        var visible: String
        var hasDuration: Bool
        var duration: Int32
        var width: Int
        var height: Int
        var music: Int
        var tagID: Int
        var tagName: String?
        /// Typical show count on the upload day (decays with age).
        var base: Double
        /// Typical play_progress.
        var progressBase: Double

        /// The row bytes after `video_id,date`, from the comma before author_id through the
        /// comma after video_tag_name.
        func prefixBytes() -> [UInt8] {
            let (uy, um, ud) = KuaiRecModel.firstDay.adding(upload).civil
            var prefix = CSVBuffer(sink: nil)
            prefix.comma()
            prefix.int(author); prefix.comma()
            prefix.text(isAd ? "AD" : "NORMAL"); prefix.comma()
            prefix.int(uy); prefix.byte(UInt8(ascii: "-")); prefix.twoDigits(um)
            prefix.byte(UInt8(ascii: "-")); prefix.twoDigits(ud); prefix.comma()
            prefix.text(uploadType); prefix.comma()
            prefix.text(visible); prefix.comma()
            if hasDuration { prefix.int(Int(duration)); prefix.text(".0") }
            prefix.comma()
            prefix.int(width); prefix.comma(); prefix.int(height); prefix.comma()
            prefix.int(music); prefix.comma()
            prefix.int(tagID); prefix.comma()
            if let tagName { prefix.text(tagName) }
            prefix.comma()
            return prefix.bytes
        }
    }

    /// Draws video `v`'s per-video attributes: the first draws of its `.itemDaily` stream.
    func itemDailyVideo(_ v: Int, rng: inout SeededRandom) -> ItemDailyVideo {
        let author = rng.int(below: max(1, bigVideos * 78 / 100))
        let isAd = rng.bernoulli(0.03)
        let ut = rng.uniform()
        let uploadType = Self.uploadTypes[ut < 0.6 ? 0 : ut < 0.75 ? 1 : ut < 0.95 ? 2 : 3 + rng.int(below: 3)]
        let vs = rng.uniform()
        let visible = vs < 0.9925 ? "public" : vs < 0.997 ? "friend" : "private"
        let hasDuration = !rng.bernoulli(0.03)
        let (w, h) = Self.resolutions[rng.int(below: Self.resolutions.count)]
        let music = Int(rng.uniform() * 4_431_043_509)
        let hasTag = !rng.bernoulli(0.094)
        let tagID = hasTag ? 1 + rng.int(below: 2891) : -124
        let tagName = Self.categoryNames[tagID >= 0 ? tagID % Self.categoryNames.count : 0]
        let base = rng.logNormal(mu: detLog(1_400), sigma: 1.8)
        let progressBase = rng.uniform(0.35, 0.95)
        return ItemDailyVideo(
            author: author, isAd: isAd, upload: uploadDay[v], uploadType: uploadType, visible: visible,
            hasDuration: hasDuration, duration: videoDuration[v], width: w, height: h, music: music,
            tagID: tagID, tagName: hasTag ? tagName : nil, base: base, progressBase: progressBase)
    }

    /// The play and engagement counts of one (video, date) row that later columns derive from.
    struct ItemDailyCounts {
        var show, showUsers, play, playUsers, complete, valid, long, short, like, comment: Int
    }

    /// Draws one day's base counts of a video, decaying with the days since its upload.
    static func drawItemDailyCounts(_ video: ItemDailyVideo, day: Int, rng: inout SeededRandom) -> ItemDailyCounts {
        let age = Double(day - video.upload)
        let decay = video.upload >= 0 ? 1.0 / (1.0 + age * 0.15) : 0.25
        let show = Int(video.base * decay * rng.logNormal(mu: 0, sigma: 0.35))
        let showUsers = Int(Double(show) * rng.uniform(0.7, 0.85))
        let play = Int(Double(show) * rng.uniform(0.4, 0.8))
        let playUsers = Int(Double(play) * rng.uniform(0.65, 0.8))
        let complete = Int(Double(play) * rng.uniform(0.3, 0.6))
        let valid = Int(Double(play) * rng.uniform(0.4, 0.7))
        let long = Int(Double(valid) * rng.uniform(0.8, 1.0))
        let short = Int(Double(play) * rng.uniform(0.1, 0.3))
        let like = Int(Double(play) * rng.uniform(0.01, 0.06))
        let comment = Int(Double(play) * rng.uniform(0, 0.004))
        return ItemDailyCounts(show: show, showUsers: showUsers, play: play, playUsers: playUsers, complete: complete,
                               valid: valid, long: long, short: short, like: like, comment: comment)
    }

    /// Writes the row of video `v` on day index `day` (the video's static `prefix` included).
    func writeItemDailyRow(
        video v: Int, day: Int, attributes video: ItemDailyVideo, prefix: [UInt8],
        rng: inout SeededRandom, into buf: inout CSVBuffer
    ) throws {
        let counts = Self.drawItemDailyCounts(video, day: day, rng: &rng)
        buf.int(v); buf.comma()
        buf.int(dateLabels[day])
        buf.bytesAppend(prefix)
        Self.writeItemDailyPlayColumns(counts, video: video, rng: &rng, into: &buf)
        Self.writeItemDailyInteractionColumns(counts, rng: &rng, into: &buf)
        Self.writeItemDailyCollectColumns(counts, date: dateLabels[day], rng: &rng, into: &buf)
        buf.newline()
        try buf.maybeFlush()
    }

    /// Writes show_cnt through comment_stay_duration, each followed by a comma.
    static func writeItemDailyPlayColumns(
        _ n: ItemDailyCounts, video: ItemDailyVideo, rng: inout SeededRandom, into buf: inout CSVBuffer
    ) {
        let dur = Double(video.duration)
        let c: [Int] = [
            n.show, n.showUsers, n.play, n.playUsers, Int(Double(n.play) * dur * rng.uniform(0.6, 1.1)),
            n.complete, Int(Double(n.complete) * 0.85), n.valid, Int(Double(n.valid) * 0.87),
            n.long, Int(Double(n.long) * 0.87), n.short, Int(Double(n.short) * 0.76),
        ]
        for x in c { buf.int(x); buf.comma() }
        buf.double(n.play > 0 ? min(1.0, video.progressBase * rng.uniform(0.9, 1.1)) : 0.0); buf.comma()
        buf.int(Int(Double(n.comment) * rng.uniform(5_000, 600_000))); buf.comma()
    }

    /// Writes like_cnt through reduce_similar_user_num, each followed by a comma.
    static func writeItemDailyInteractionColumns(
        _ n: ItemDailyCounts, rng: inout SeededRandom, into buf: inout CSVBuffer
    ) {
        let (play, like, comment) = (n.play, n.like, n.comment)
        let likeUsers = Int(Double(like) * 0.99)
        let clickLike = Int(Double(like) * rng.uniform(0.4, 0.6))
        let rest: [Int] = [
            like, likeUsers, clickLike, like - clickLike, Int(Double(like) * 0.15), Int(Double(like) * 0.15),
            comment, Int(Double(comment) * 0.95), Int(Double(comment) * 0.7), comment - Int(Double(comment) * 0.7),
            0, 0, Int(Double(comment) * rng.uniform(0, 10)), Int(Double(comment) * rng.uniform(0, 5)),
            Int(Double(play) * rng.uniform(0, 0.03)), Int(Double(play) * rng.uniform(0, 0.03)),
            0, 0, Int(Double(play) * rng.uniform(0, 0.001)), Int(Double(play) * rng.uniform(0, 0.001)),
            Int(Double(play) * rng.uniform(0, 0.002)), Int(Double(play) * rng.uniform(0, 0.002)),
            0, 0, Int(Double(play) * rng.uniform(0, 0.0005)), Int(Double(play) * rng.uniform(0, 0.0005)),
        ]
        for x in rest { buf.int(x); buf.comma() }
    }

    /// Writes the four collect_* columns (the last ones): drawn from 20200728 on, empty before.
    static func writeItemDailyCollectColumns(
        _ n: ItemDailyCounts, date: Int, rng: inout SeededRandom, into buf: inout CSVBuffer
    ) {
        let collectFrom = 20_200_728
        if date >= collectFrom {
            let collect = Int(Double(n.play) * rng.uniform(0, 0.003))
            buf.int(collect); buf.text(".0,")
            buf.int(Int(Double(collect) * 0.98)); buf.text(".0,")
            buf.int(collect / 20); buf.text(".0,")
            buf.int(collect / 20); buf.text(".0")
        } else {
            buf.text(",,,")
        }
    }
}
