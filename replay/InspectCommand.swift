import ArgumentParser
import Foundation
import ReplayDiagnostics
import ReplayRun
import ReplaySink
import ReplayStream

extension Replay {
    /// `replay inspect INPUT`: the notebook's archive inventory, from the archives' directories only.
    struct InspectCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "inspect",
            abstract: "List the archive's outer and inner members with their sizes (the notebook's inventory).")

        @Argument(help: "The KuaiRec download (18164998.zip) or the inner KuaiRec.zip.")
        var input: String

        @Option(
            name: .long,
            help: "Also write the inventory as JSON (outer_inventory, inner_inventory) to this file (- for stdout, instead of the listing).")
        var json: String?

        func validate() throws {
            try refuseEmptyPaths(["INPUT": input, "--json": json])
        }

        func run() throws {
            try runReportingErrors {
                var claims = PathClaims()
                claims.reads(input, as: "INPUT")
                claims.writes(json, as: "--json")
                try claims.check()
                try MatrixSource.preflight(input: input)
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory), isDirectory.boolValue {
                    throw InputError(input: input, message: "it is a folder; inspect lists an archive's members: pass the KuaiRec download (18164998.zip) or KuaiRec.zip")
                }
                try show(try ArchiveInventory.read(input: input))
            }
        }

        /// Prints the inventory in the notebook's order, and writes it as JSON when asked.
        private func show(_ inventory: ArchiveInventory) throws {
            // The notebook's order: outer by size (largest first), inner by member name.
            let outer = inventory.outer.enumerated().sorted {
                ($0.element.bytes ?? -1, -$0.offset) > ($1.element.bytes ?? -1, -$1.offset)
            }.map(\.element)
            let inner = inventory.inner.sorted { $0.path < $1.path }
            func megabytes(_ m: ArchiveInventory.Member) -> String {
                m.bytes.map { String(format: "%.4f", Double($0) / 1_000_000) } ?? "unknown"
            }
            if json != "-" {  // stdout carries the JSON instead
                print("Outer archive contents")
                for m in outer { print("  \(megabytes(m).leftPadded(12)) MB  \(m.path)") }
                print("Inner KuaiRec data files")
                for m in inner { print("  \(megabytes(m).leftPadded(12)) MB  \(m.path)") }
            }
            if let json {
                func table(_ name: String, _ members: [ArchiveInventory.Member]) -> DiagnosticTable {
                    DiagnosticTable(
                        name: name, columns: ["member", "size_mb"],
                        rows: members.map { [.string($0.path), $0.bytes.map { .number(Double($0) / 1_000_000) } ?? .null] })
                }
                let report = DiagnosticsReport(
                    status: .init(phase: "inspect"),
                    tables: [table("outer_inventory", outer), table("inner_inventory", inner)])
                try OutputFile.write(DiagnosticsJSON.render(report), to: json)
            }
        }
    }
}

extension String {
    /// The string right-aligned in `width` columns.
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}

extension Replay.InspectCommand: CommandSuggestion.Examples {
    static let examples = [
        "replay inspect data/Kuairec/18164998.zip",
        "replay inspect KuaiRec.zip --json inventory.json",
    ]
}
