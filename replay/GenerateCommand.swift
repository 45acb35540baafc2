import ArgumentParser
import Foundation
import KuaiRecFixtures

extension Replay {
    /// `replay generate`: writes a synthetic archive in KuaiRec's exact layout.
    struct GenerateCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "generate",
            abstract: "Write a deterministic synthetic KuaiRec 2.0 archive (18164998.zip layout).")

        @Option(name: .long, help: "The archive to write.")
        var out: String = "data/Kuairec/18164998.zip"
        @Option(name: .long, help: ArgumentHelp("Users in small_matrix (at least 1).", valueName: "users"))
        var users = PositiveCount(1411)
        @Option(name: .long, help: ArgumentHelp("Videos in small_matrix (at least 1).", valueName: "videos"))
        var videos = PositiveCount(3327)
        @Option(name: .long, help: ArgumentHelp("Days in the log (at least 1).", valueName: "days"))
        var days = PositiveCount(63)
        @Option(name: .long, help: "Random seed.")
        var seed: UInt64 = 7

        func run() throws {
            try runReportingErrors {
                let started = Date()
                let config = GeneratorConfig(users: users.value, videos: videos.value, days: days.value, seed: seed)
                let summary = try KuaiRecGenerator.write(config, to: out)
                printError("replay: wrote \(out) in \(String(format: "%.1f", Date().timeIntervalSince(started))) s: \(summary)")
            }
        }
    }
}
