import Foundation
import ReplayStream

/// Writes synthetic KuaiRec 2.0 archives in KuaiRec's exact layout: a test fixture and a demo tool
/// (`replay generate`, the tests, the benchmark and the differential test), not part of the engine.
///
/// The archive has the layout of the Zenodo "download all" zip: an outer zip with
/// `KuaiRec.zip`, `kuairec_caption_category.csv`, `video_raw_categories_multi.csv`,
/// `user_features_raw.csv` (in that order); `KuaiRec.zip` holds `KuaiRec 2.0/` with
/// LICENSE, a tiny notebook, `data/` (big_matrix, item_categories, item_daily_features,
/// kuairec_caption_category, small_matrix, social_network, user_features), `figs/`
/// and loaddata.py. Text formats follow the real files (see
/// shared/research/kuairec_facts.md); numbers are statistically KuaiRec-like, not real.
///
/// Output is a pure function of the config: the CSV bytes are identical for a seed on
/// every platform, and the archive bytes are identical for the same zlib/libarchive.
public enum KuaiRecGenerator {
    /// Which interaction matrix.
    public enum Matrix: Sendable, Equatable {
        case small, big
    }

    /// Every CSV the generator can produce, named by its file name.
    public enum Table: String, CaseIterable, Sendable {
        case smallMatrix = "small_matrix.csv"
        case bigMatrix = "big_matrix.csv"
        case userFeatures = "user_features.csv"
        case itemCategories = "item_categories.csv"
        case itemDailyFeatures = "item_daily_features.csv"
        case socialNetwork = "social_network.csv"
        case captionCategory = "kuairec_caption_category.csv"
        /// Outer-zip extra (real format unknown; placeholder columns).
        case videoRawCategoriesMulti = "video_raw_categories_multi.csv"
        /// Outer-zip extra (user_features without the *_range columns).
        case userFeaturesRaw = "user_features_raw.csv"
    }

    /// The inner zip's member names, in archive order (directories end with "/").
    public static let innerMembers: [String] = [
        "KuaiRec 2.0/",
        "KuaiRec 2.0/LICENSE",
        "KuaiRec 2.0/Statistics_KuaiRec.ipynb",
        "KuaiRec 2.0/data/",
        "KuaiRec 2.0/data/big_matrix.csv",
        "KuaiRec 2.0/data/item_categories.csv",
        "KuaiRec 2.0/data/item_daily_features.csv",
        "KuaiRec 2.0/data/kuairec_caption_category.csv",
        "KuaiRec 2.0/data/small_matrix.csv",
        "KuaiRec 2.0/data/social_network.csv",
        "KuaiRec 2.0/data/user_features.csv",
        "KuaiRec 2.0/figs/",
        "KuaiRec 2.0/figs/KuaiRec.png",
        "KuaiRec 2.0/figs/colab-badge.svg",
        "KuaiRec 2.0/loaddata.py",
    ]

    /// The outer zip's member names, in archive order.
    public static let outerMembers: [String] = [
        "KuaiRec.zip", "kuairec_caption_category.csv", "video_raw_categories_multi.csv", "user_features_raw.csv",
    ]

    /// Writes the two-level archive to `path`.
    ///
    /// Parent directories are created. The inner zip is first written to
    /// `path + ".inner.tmp"` (removed on success and failure) and the outer one replaces `path`
    /// whole through ``AtomicFile`` (`path + ".partial"`, fsynced, renamed).
    /// The matrices and item_daily_features.csv are streamed with unknown size (Zip64
    /// local extra + Zip64 data descriptor); all other members have their size in the
    /// local header (plus a 16-byte data descriptor, libarchive always writes one).
    ///
    /// - Throws: `GeneratorError` for an invalid config or file-system failure,
    ///   `ArchiveWriteError` for libarchive failures.
    public static func write(_ config: GeneratorConfig, to path: String) throws -> GeneratorSummary {
        try config.validate()
        try createParentDirectory(of: path)
        let innerPath = path + ".inner.tmp"
        defer { unlink(innerPath) }

        let model = KuaiRecModel(config: config)
        var summary = emptySummary(config, model: model)
        let captions = try render { try model.writeCaptionCategory(into: &$0) }
        try writeInnerArchive(model, captions: captions, to: innerPath, summary: &summary)
        summary.innerArchiveBytes = try fileSize(innerPath)
        try AtomicFile.replace(path) { try writeOuterArchive(model, captions: captions, innerPath: innerPath, to: $0) }
        summary.outputBytes = try fileSize(path)
        return summary
    }

    /// Creates the directory that will hold `path` (and its parents) if missing.
    private static func createParentDirectory(of path: String) throws {
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        } catch {
            throw GeneratorError(message: "cannot create directory \(parent.path): \(error)")
        }
    }

    /// The summary's config-derived fields, with every count and byte size still zero.
    private static func emptySummary(_ config: GeneratorConfig, model: KuaiRecModel) -> GeneratorSummary {
        GeneratorSummary(
            users: config.users, videos: config.videos, bigUsers: model.bigUsers, bigVideos: model.bigVideos,
            days: config.days, firstDate: model.dateLabels[0], lastDate: model.dateLabels[config.days - 1],
            smallRows: 0, smallTimelessRows: 0, bigRows: 0, bigDuplicateRows: 0, mislabeledRows: 0,
            itemDailyRows: 0, socialRows: 0, smallCSVBytes: 0, bigCSVBytes: 0, innerArchiveBytes: 0, outputBytes: 0)
    }

    /// Writes the inner KuaiRec.zip (members in ``innerMembers`` order) to `innerPath`,
    /// recording the data tables' row and byte counts in `summary`.
    private static func writeInnerArchive(
        _ model: KuaiRecModel, captions: [UInt8], to innerPath: String, summary: inout GeneratorSummary
    ) throws {
        let inner = try ArchiveWriter(path: innerPath, compressionLevel: model.config.compressionLevel)
        let root = "KuaiRec 2.0/"
        try inner.addDirectory(root)
        try inner.addFile(path: root + "LICENSE", contents: Array(Placeholders.license.utf8))
        try inner.addFile(path: root + "Statistics_KuaiRec.ipynb", contents: Array(Placeholders.notebook.utf8))
        try inner.addDirectory(root + "data/")
        try addDataMembers(model, captions: captions, to: inner, under: root + "data/", summary: &summary)
        try inner.addDirectory(root + "figs/")
        try inner.addFile(path: root + "figs/KuaiRec.png", contents: Placeholders.png)
        try inner.addFile(path: root + "figs/colab-badge.svg", contents: Array(Placeholders.svg.utf8))
        try inner.addFile(path: root + "loaddata.py", contents: Array(Placeholders.loaddata.utf8))
        try inner.close()
    }

    /// Adds the seven CSVs of `KuaiRec 2.0/data/` to `inner` in name order, streaming the
    /// large ones, and records their row and byte counts in `summary`.
    private static func addDataMembers(
        _ model: KuaiRecModel, captions: [UInt8], to inner: ArchiveWriter, under data: String,
        summary: inout GeneratorSummary
    ) throws {
        let big = try stream(to: inner, path: data + "big_matrix.csv") { try model.writeBigMatrix(into: &$0) }
        summary.bigRows = big.rows
        summary.bigDuplicateRows = big.duplicateRows
        summary.bigCSVBytes = big.bytes

        try inner.addFile(path: data + "item_categories.csv",
                          contents: try render { try model.writeItemCategories(into: &$0) })
        summary.itemDailyRows = try stream(to: inner, path: data + "item_daily_features.csv") {
            try model.writeItemDailyFeatures(into: &$0)
        }
        try inner.addFile(path: data + "kuairec_caption_category.csv", contents: captions)

        let small = try stream(to: inner, path: data + "small_matrix.csv") { try model.writeSmallMatrix(into: &$0) }
        summary.smallRows = small.rows
        summary.smallTimelessRows = small.timelessRows
        summary.smallCSVBytes = small.bytes
        summary.mislabeledRows = small.mislabeledRows + big.mislabeledRows

        var socialRows = 0
        let social = try render { socialRows = try model.writeSocialNetwork(into: &$0) }
        summary.socialRows = socialRows
        try inner.addFile(path: data + "social_network.csv", contents: social)
        try inner.addFile(path: data + "user_features.csv",
                          contents: try render { try model.writeUserFeatures(into: &$0, raw: false) })
    }

    /// Writes the outer zip (members in ``outerMembers`` order) to `outerPath`, embedding
    /// the finished inner archive at `innerPath` as KuaiRec.zip.
    private static func writeOuterArchive(
        _ model: KuaiRecModel, captions: [UInt8], innerPath: String, to outerPath: String
    ) throws {
        let config = model.config
        let outer = try ArchiveWriter(path: outerPath, compressionLevel: config.compressionLevel)
        try outer.addFile(path: "KuaiRec.zip", contentsOf: URL(fileURLWithPath: innerPath),
                          compression: config.outerCompression)
        try outer.addFile(path: "kuairec_caption_category.csv", contents: captions)
        try outer.addFile(path: "video_raw_categories_multi.csv",
                          contents: try render { try model.writeRawCategoriesMulti(into: &$0) })
        try outer.addFile(path: "user_features_raw.csv",
                          contents: try render { try model.writeUserFeatures(into: &$0, raw: true) })
        try outer.close()
    }

    /// Writes one matrix as a bare CSV file (no zip), exactly the bytes that
    /// ``write(_:to:)`` puts in the archive for the same config.
    public static func writeMatrixCSV(_ config: GeneratorConfig, matrix: Matrix, to path: String) throws
        -> MatrixCSVSummary
    {
        try config.validate()
        let model = KuaiRecModel(config: config)
        return try withFile(path) { buf in
            switch matrix {
            case .small: return try model.writeSmallMatrix(into: &buf)
            case .big: return try model.writeBigMatrix(into: &buf)
            }
        }
    }

    /// Writes any table as a bare CSV file (the bytes the archive holds for it).
    /// - Returns: the number of bytes written.
    @discardableResult
    public static func writeTableCSV(_ config: GeneratorConfig, table: Table, to path: String) throws -> Int {
        try config.validate()
        let model = KuaiRecModel(config: config)
        return try withFile(path) { buf in
            let start = buf.totalBytes
            switch table {
            case .smallMatrix: _ = try model.writeSmallMatrix(into: &buf)
            case .bigMatrix: _ = try model.writeBigMatrix(into: &buf)
            case .userFeatures: try model.writeUserFeatures(into: &buf, raw: false)
            case .itemCategories: try model.writeItemCategories(into: &buf)
            case .itemDailyFeatures: _ = try model.writeItemDailyFeatures(into: &buf)
            case .socialNetwork: _ = try model.writeSocialNetwork(into: &buf)
            case .captionCategory: try model.writeCaptionCategory(into: &buf)
            case .videoRawCategoriesMulti: try model.writeRawCategoriesMulti(into: &buf)
            case .userFeaturesRaw: try model.writeUserFeatures(into: &buf, raw: true)
            }
            return buf.totalBytes - start
        }
    }

    // MARK: - Helpers

    private static func render(_ body: (inout CSVBuffer) throws -> Void) throws -> [UInt8] {
        var buf = CSVBuffer(sink: nil)
        try body(&buf)
        return buf.bytes
    }

    /// Streams a member of unknown size into `archive`, in 1 MiB blocks. The CSV is
    /// generated on a second thread while this thread compresses (see `BlockPipe`).
    private static func stream<R>(
        to archive: ArchiveWriter, path: String, _ body: @escaping (inout CSVBuffer) throws -> R
    ) throws -> R {
        try archive.addFile(path: path, size: nil)
        let result = try BlockPipe.run(
            produce: { pipe in
                var buf = CSVBuffer(sink: { try pipe.put(Array($0)) })
                let result = try body(&buf)
                try buf.flush()
                return result
            },
            consume: { try archive.write($0) })
        try archive.finishEntry()
        return result
    }

    private static func withFile<R>(_ path: String, _ body: (inout CSVBuffer) throws -> R) throws -> R {
        guard let fp = fopen(path, "wb") else {
            throw GeneratorError(message: "cannot create \(path): errno \(errno)")
        }
        var closed = false
        defer { if !closed { fclose(fp) } }
        var buf = CSVBuffer(sink: { bytes in
            if fwrite(bytes.baseAddress, 1, bytes.count, fp) != bytes.count {
                throw GeneratorError(message: "write to \(path) failed: errno \(errno)")
            }
        })
        let result = try body(&buf)
        try buf.flush()
        closed = true
        if fclose(fp) != 0 {
            throw GeneratorError(message: "closing \(path) failed: errno \(errno)")
        }
        return result
    }

    private static func fileSize(_ path: String) throws -> Int {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw GeneratorError(message: "cannot stat \(path): errno \(errno)")
        }
        return Int(st.st_size)
    }
}
