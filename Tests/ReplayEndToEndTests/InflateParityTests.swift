import Foundation
import Testing

/// ISA-L and libarchive read the same CSV: every output byte is the same with either inflater, and a run stopped
/// under one resumes under the other to the uninterrupted run's bytes.
@Suite struct InflateParityTests {
    /// The panel, the rejects and the summary's counts of one run.
    struct Outputs: Equatable {
        var panel: Data
        var rejects: Data
        var counts: [String: String]
    }

    static func outputs(_ input: String, _ extra: [String], inflate: String, in dir: URL) throws -> Outputs {
        let name = "\(inflate)-\(UUID().uuidString.prefix(8))"
        let r = try Harness.run(
            ["run", input, "--state", "\(name).state", "--out", "\(name).jsonl", "--rejects", "\(name).rejects",
             "--summary-json", "\(name).json", "--quiet", "--inflate", inflate] + extra,
            in: dir)
        #expect(r.status == 0, "\(inflate) \(extra): \(r.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("\(name).json")))
        var counts: [String: String] = [:]
        for (key, value) in try #require(summary as? [String: Any]) where !key.hasSuffix("_seconds") {
            let text = try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])
            counts[key] = String(decoding: text, as: UTF8.self)
        }
        return Outputs(
            panel: try Data(contentsOf: dir.appendingPathComponent("\(name).jsonl")),
            rejects: try Data(contentsOf: dir.appendingPathComponent("\(name).rejects")), counts: counts)
    }

    @Test func everyOutputIsTheSameWithEitherInflater() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        let inner = dir.appendingPathComponent("KuaiRec.zip")
        try Harness.unpack(outer, innerZip: inner, folder: dir.appendingPathComponent("x"))
        // Under the sanitizers (slow) each input and output form once, on the small matrix: the big matrix's
        // configurations check values, which the normal build does.
        let configurations: [(String, [String])] = Harness.binaryIsSanitized
            ? [(outer.path, []), (outer.path, ["--rows", "3000", "--format", "csv"]), (inner.path, ["--emit", "final"])]
            : [
                (outer.path, []), (outer.path, ["--matrix", "big"]), (outer.path, ["--matrix", "big", "--dedupe"]),
                (outer.path, ["--rows", "3000", "--format", "csv"]), (inner.path, ["--matrix", "big", "--emit", "final"]),
            ]
        for (input, extra) in configurations {
            let isal = try Self.outputs(input, extra, inflate: "isal", in: dir)
            let libarchive = try Self.outputs(input, extra, inflate: "libarchive", in: dir)
            #expect(!isal.panel.isEmpty, "\(extra)")
            #expect(isal == libarchive, "\((input as NSString).lastPathComponent) \(extra)")
        }
    }

    @Test func aRunStoppedUnderOneInflaterResumesUnderTheOther() throws {
        let dir = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outer = try Harness.archive()
        let reference = try Self.outputs(outer.path, ["--matrix", "big"], inflate: "auto", in: dir)
        for (first, second) in [("isal", "libarchive"), ("libarchive", "isal")] {
            let common = ["run", outer.path, "--matrix", "big", "--state", "\(first).state", "--out", "\(first).jsonl", "--quiet"]
            let stopped = try Harness.run(common + ["--until", "2020-07-10", "--inflate", first], in: dir)
            #expect(stopped.status == 0, "\(stopped.stderr)")
            let resumed = try Harness.run(common + ["--inflate", second], in: dir)
            #expect(resumed.status == 0, "\(resumed.stderr)")
            #expect(try Data(contentsOf: dir.appendingPathComponent("\(first).jsonl")) == reference.panel, "\(first) then \(second)")
        }
    }
}
