/// Parameters of a synthetic KuaiRec 2.0 archive (`replay generate`).
///
/// `users`/`videos` are the small-matrix sizes (real KuaiRec: 1,411 / 3,327); the big
/// matrix sizes default to the same proportions as the real data
/// (`bigUsers = round(users * 7176 / 1411)`, `bigVideos = round(videos * 10728 / 3327)`,
/// never fewer than the small sizes). `days` is the number of date labels, starting at
/// 2020-07-05 (real: 63, up to 2020-09-05).
public struct GeneratorConfig: Sendable, Equatable {
    /// Small-matrix users (a subset of the big users).
    public var users: Int
    /// Small-matrix videos (a subset of the big videos).
    public var videos: Int
    /// Number of date labels (20200705 ... 20200705 + days - 1).
    public var days: Int
    /// PRNG seed; the same config gives byte-identical CSVs (and, with the same zlib,
    /// byte-identical archives).
    public var seed: UInt64
    /// Big-matrix users; `nil` = scaled from `users`.
    public var bigUsers: Int?
    /// Big-matrix videos; `nil` = scaled from `videos`.
    public var bigVideos: Int?
    /// Deflate level for the inner zip's members and the outer CSVs, 1...9 (default 6).
    public var compressionLevel: Int
    /// How the outer zip stores `KuaiRec.zip` (default `.store`: the inner zip is already
    /// compressed, and a stored member can be read as a nested stream cheaply).
    public var outerCompression: ArchiveWriter.Compression

    public init(users: Int, videos: Int, days: Int, seed: UInt64) {
        self.users = users
        self.videos = videos
        self.days = days
        self.seed = seed
        self.bigUsers = nil
        self.bigVideos = nil
        self.compressionLevel = 6
        self.outerCompression = .store
    }

    /// The real KuaiRec 2.0 sizes: 1,411 x 3,327 small, 7,176 x 10,728 big, 63 days.
    public static func fullSize(seed: UInt64 = 7) -> GeneratorConfig {
        GeneratorConfig(users: 1411, videos: 3327, days: 63, seed: seed)
    }

    /// Big-matrix user count actually used.
    public var effectiveBigUsers: Int {
        max(users, bigUsers ?? Int((Double(users) * 7176.0 / 1411.0).rounded()))
    }

    /// Big-matrix video count actually used.
    public var effectiveBigVideos: Int {
        max(videos, bigVideos ?? Int((Double(videos) * 10728.0 / 3327.0).rounded()))
    }

    /// Throws a `GeneratorError` if the configuration cannot be generated.
    public func validate() throws {
        func fail(_ m: String) -> GeneratorError { GeneratorError(message: m) }
        if users < 1 { throw fail("users must be >= 1 (got \(users))") }
        if videos < 1 { throw fail("videos must be >= 1 (got \(videos))") }
        if days < 1 || days > 3650 { throw fail("days must be in 1...3650 (got \(days))") }
        if let b = bigUsers, b < users { throw fail("bigUsers (\(b)) must be >= users (\(users))") }
        if let b = bigVideos, b < videos { throw fail("bigVideos (\(b)) must be >= videos (\(videos))") }
        if effectiveBigVideos == videos && effectiveBigUsers == users && users > 0 {
            // Small users could get no big rows at all (all big videos are small videos).
            // That is allowed, but every big user then has no rows; refuse it.
            throw fail("big matrix would be empty: bigVideos must exceed videos")
        }
        if !(1...9).contains(compressionLevel) {
            throw fail("compressionLevel must be in 1...9 (got \(compressionLevel))")
        }
        if users > 10_000_000 || videos > 10_000_000 { throw fail("users/videos too large") }
    }
}

/// A configuration problem or I/O failure of the generator.
public struct GeneratorError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { "generator error: \(message)" }
}

/// What ``KuaiRecGenerator/write(_:to:)`` produced.
public struct GeneratorSummary: Sendable, Equatable {
    /// Small users / videos (`config.users`, `config.videos`).
    public var users: Int
    public var videos: Int
    public var bigUsers: Int
    public var bigVideos: Int
    public var days: Int
    /// First and last date labels (e.g. 20200705, 20200905).
    public var firstDate: Int
    public var lastDate: Int
    /// Data rows of small_matrix.csv, and how many of them have no time/date/timestamp.
    public var smallRows: Int
    public var smallTimelessRows: Int
    /// Data rows of big_matrix.csv, and how many are extra copies of the previous line
    /// (exact duplicates: `rows - drop_duplicates()`).
    public var bigRows: Int
    public var bigDuplicateRows: Int
    /// Rows whose `date` label is not the Beijing date of `timestamp` (small + big).
    public var mislabeledRows: Int
    public var itemDailyRows: Int
    public var socialRows: Int
    /// Uncompressed sizes of the matrices.
    public var smallCSVBytes: Int
    public var bigCSVBytes: Int
    /// Size of the inner KuaiRec.zip and of the outer archive.
    public var innerArchiveBytes: Int
    public var outputBytes: Int
}
