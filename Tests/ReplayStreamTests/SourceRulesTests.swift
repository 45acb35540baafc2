import Foundation
import Testing

/// Rules the compiler does not check, read from the package's own source files.
@Suite struct SourceRulesTests {
    /// The package's root: this file is `Tests/ReplayStreamTests/SourceRulesTests.swift`.
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Every `.swift` file under the package's `Sources`, `replay` and `Tests`, as paths from the root.
    private static func swiftFiles() throws -> [String] {
        var paths: [String] = []
        for folder in ["Sources", "replay", "Tests"] {
            let base = root.appendingPathComponent(folder)
            guard let walk = FileManager.default.enumerator(atPath: base.path) else { continue }
            while let path = walk.nextObject() as? String {
                if path.hasSuffix(".swift") { paths.append("\(folder)/\(path)") }
            }
        }
        return paths
    }

    /// Locks are `TracedMutex`, never Synchronization's `Mutex` used directly: ThreadSanitizer does not see a
    /// contended `Mutex` hand its value over on Linux and reports a race (TracedMutex.swift says why).
    @Test func locksAreTracedMutexes() throws {
        let files = try Self.swiftFiles()
        #expect(files.count > 100)
        // `Mutex` as a whole name, then `<` or `(`: a type or an initializer (Swift's Regex has no lookbehind).
        let bareMutex = try Regex(#"(^|[^A-Za-z0-9_])Mutex\s*[<(]"#)
        var uses: [String] = []
        for path in files where !path.hasSuffix("/TracedMutex.swift") {
            let text = try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = line.trimmingCharacters(in: .whitespaces)
                if code.hasPrefix("//") { continue }
                if line.contains(bareMutex) { uses.append("\(path):\(number + 1): \(code)") }
            }
        }
        #expect(uses.isEmpty, "use TracedMutex: \(uses.joined(separator: "; "))")
    }
}
