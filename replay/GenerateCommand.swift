import ArgumentParser
import Foundation
import KuaiRecFixtures
import ReplayRun
import ReplayStream

extension Replay {
    /// `replay generate`: writes a synthetic archive in KuaiRec's exact layout.
    struct GenerateCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "generate",
            abstract: "Write a deterministic synthetic KuaiRec 2.0 archive (18164998.zip layout).")

        @Option(name: .long, help: "The archive to write (- for stdout).")
        var out: String = "data/Kuairec/18164998.zip"
        @Option(name: .long, help: ArgumentHelp("Users in small_matrix (at least 1).", valueName: "users"))
        var users = PositiveCount(1411)
        @Option(name: .long, help: ArgumentHelp("Videos in small_matrix (at least 1).", valueName: "videos"))
        var videos = PositiveCount(3327)
        @Option(name: .long, help: ArgumentHelp("Days in the log (at least 1).", valueName: "days"))
        var days = PositiveCount(63)
        @Option(name: .long, help: "Random seed.")
        var seed: UInt64 = 7

        /// The generator's own limits, and an `--out` that names a folder, are bad usage (exit 64).
        func validate() throws {
            try refuseEmptyPaths(["--out": out])
            do {
                try config.validate()
            } catch let error as GeneratorError {
                throw ValidationError("\(error.message)")
            }
            var isDirectory: ObjCBool = false
            if out != "-", FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory), isDirectory.boolValue {
                throw ValidationError("--out \(out) is a folder; give the archive a file name (\(out)/18164998.zip)")
            }
        }

        private var config: GeneratorConfig {
            GeneratorConfig(users: users.value, videos: videos.value, days: days.value, seed: seed)
        }

        func run() throws {
            try runReportingErrors {
                let started = Date()
                if out != "-" {
                    let folder = AtomicFile.folder(containing: out)
                    if !FileManager.default.fileExists(atPath: folder) { printError("replay: creating the folder \(folder)") }
                }
                let summary = try write(config)
                printError(Self.describe(summary, to: OutputFile.name(out), seconds: Date().timeIntervalSince(started)))
            }
        }

        /// Writes the archive to `out`; for `-`, to a temporary file first (the generator writes a file and
        /// reads its size back), then copied to standard output.
        private func write(_ config: GeneratorConfig) throws -> GeneratorSummary {
            guard out == "-" else { return try KuaiRecGenerator.write(config, to: out) }
            let temporary = FileManager.default.temporaryDirectory
                .appendingPathComponent("replay-generate-\(getpid())-\(UUID().uuidString).zip").path
            defer { unlink(temporary) }
            let summary = try KuaiRecGenerator.write(config, to: temporary)
            guard let data = FileManager.default.contents(atPath: temporary) else {
                throw POSIXFileError(path: temporary, operation: "read", code: errno)
            }
            try OutputFile.write(Array(data), to: "-")
            return summary
        }
    }
}

extension Replay.GenerateCommand {
    /// What `generate` made, in a few lines: the matrices' rows and sizes, the archive's size, the time.
    static func describe(_ s: GeneratorSummary, to name: String, seconds: Double) -> String {
        func date(_ label: Int) -> String { String(format: "%04d-%02d-%02d", label / 10000, label / 100 % 100, label % 100) }
        return [
            "replay: wrote \(name) (\(ByteCount.human(Int64(s.outputBytes)))) in \(String(format: "%.1f", seconds)) s",
            "  small_matrix.csv: \(grouped(s.smallRows)) rows (\(grouped(s.smallTimelessRows)) without a time), \(grouped(s.users)) users × \(grouped(s.videos)) videos, \(ByteCount.human(Int64(s.smallCSVBytes)))",
            "  big_matrix.csv:   \(grouped(s.bigRows)) rows (\(grouped(s.bigDuplicateRows)) exact duplicates), \(grouped(s.bigUsers)) users × \(grouped(s.bigVideos)) videos, \(ByteCount.human(Int64(s.bigCSVBytes)))",
            "  days:             \(s.days) (\(date(s.firstDate)) .. \(date(s.lastDate))); \(grouped(s.mislabeledRows)) rows dated unlike their timestamp",
        ].joined(separator: "\n")
    }
}

extension Replay.GenerateCommand: CommandSuggestion.Examples {
    static let examples = [
        "replay generate                                  # full size: data/Kuairec/18164998.zip",
        "replay generate --users 60 --videos 200 --days 14 --seed 3 --out small.zip",
        "replay generate --out - | wc -c",
    ]
}
