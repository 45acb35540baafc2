import Foundation
import Logging
import KuaiRecFixtures
import ReplayRun
import ReplayStream

/// Archives and folders for the run tests, made in the test.
enum RunFixtures {
    private static let generationLock = TracedMutex(())

    /// A small generated archive, made once per test process (generation is deterministic).
    static func archive() throws -> URL {
        try generationLock.withLock { _ in try generate() }
    }

    private static func generate() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("replay-run-tests-\(getpid()).zip")
        if !FileManager.default.fileExists(atPath: url.path) {
            _ = try KuaiRecGenerator.write(GeneratorConfig(users: 20, videos: 120, days: 9, seed: 5), to: url.path)
        }
        return url
    }

    /// The archive's `small_matrix.csv`, extracted into `folder`.
    static func smallMatrixCSV(in folder: URL) throws -> URL {
        let inner = folder.appendingPathComponent("KuaiRec.zip")
        try extract("KuaiRec.zip", from: try archive(), to: inner)
        let csv = folder.appendingPathComponent("small_matrix.csv")
        try extract("KuaiRec 2.0/data/small_matrix.csv", from: inner, to: csv)
        return csv
    }

    /// Copies the member `path` of the archive at `archive` into `url`.
    private static func extract(_ path: String, from archive: URL, to url: URL) throws {
        let reader = try ArchiveReader(path: archive.path)
        while let entry = try reader.nextEntry(), entry.path != path {}
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        while let block = try reader.readBlock() { handle.write(Data(block)) }
    }

    /// A logger that prints only errors (the runs log their phases at info).
    static let quietLogger: Logger = {
        var logger = Logger(label: "replay-run-tests")
        logger.logLevel = .error
        return logger
    }()

    /// A fresh temporary folder.
    static func temporaryDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("replay-run-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// An archive run's configuration writing into `folder` (state `s`, output `p.jsonl`).
    static func archiveConfiguration(in folder: URL, state: String = "s", output: String = "p.jsonl") throws
        -> ArchiveRunConfiguration
    {
        var common = RunConfiguration(
            stateDirectory: folder.appendingPathComponent(state).path,
            output: folder.appendingPathComponent(output).path, thresholds: .batch,
            timeZone: NamedTimeZone("Asia/Shanghai")!)
        common.checkpointPolicy = .events(2000)
        return ArchiveRunConfiguration(common: common, input: try archive().path)
    }
}
