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
        @Option(name: .long, help: "Users in small_matrix.")
        var users: Int = 1411
        @Option(name: .long, help: "Videos in small_matrix.")
        var videos: Int = 3327
        @Option(name: .long, help: "Days in the log.")
        var days: Int = 63
        @Option(name: .long, help: "Random seed.")
        var seed: UInt64 = 7

        func validate() throws {
            guard users >= 1, videos >= 1, days >= 1 else { throw ValidationError("--users, --videos and --days must be positive") }
        }

        func run() throws {
            let started = Date()
            let config = GeneratorConfig(users: users, videos: videos, days: days, seed: seed)
            let summary = try KuaiRecGenerator.write(config, to: out)
            printError("replay: wrote \(out) in \(String(format: "%.1f", Date().timeIntervalSince(started))) s: \(summary)")
        }
    }
}
