import ArgumentParser
import Foundation
import KuaiRecFixtures
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
                let summary = try write(config)
                printError("replay: wrote \(OutputFile.name(out)) in \(String(format: "%.1f", Date().timeIntervalSince(started))) s: \(summary)")
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

extension Replay.GenerateCommand: CommandSuggestion.Examples {
    static let examples = [
        "replay generate                                  # full size: data/Kuairec/18164998.zip",
        "replay generate --users 60 --videos 200 --days 14 --seed 3 --out small.zip",
        "replay generate --out - | wc -c",
    ]
}
