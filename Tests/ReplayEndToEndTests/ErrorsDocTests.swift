import Foundation
import Testing

/// docs/ERRORS.md and the binary agree, row by row: every row of its tables is either triggered here (the
/// command the row describes is run, and its exit code and message must be the row's) or named with the test
/// that triggers it elsewhere (a full disk, a kill, a race between two processes). A row added to the document
/// without either fails this test, as does a message or an exit code that drifts from the document.
///
/// A row's message is the first example in backticks in its last cell. It matches stderr when its fragments
/// (the example split at `…`) appear in order, each with its digits standing for any number and a lone capital
/// (`N`, `M`, `R`, `S`) for any word: the examples use the file names the triggers here create.
@Suite(.serialized) struct ErrorsDocTests {
    /// A row of one of the document's tables.
    struct Row: CustomStringConvertible {
        var section: String
        var cells: [String]
        var line: Int
        /// The failure, reason or situation the row describes (its first cell), with `export: ` before it in
        /// export's section (whose rows repeat the input's: `file not found`).
        var subject: String { section.hasPrefix("`replay export") ? "export: " + cells[0] : cells[0] }
        var description: String { "docs/ERRORS.md:\(line) (\(section)): \(subject)" }

        /// The exit code the row states: its `exit` column, an `exit N` in its text, or its section's.
        func exitCode(columns: [String]) -> Int32? {
            if let column = columns.firstIndex(of: "exit"), column < cells.count, let code = Int32(cells[column]) { return code }
            let text = cells.dropFirst().joined(separator: " ")
            if let code = Self.firstNumber(after: ["exit **", "exit "], in: text) { return code }
            return Self.firstNumber(after: ["(exit "], in: section)
        }

        /// The row's example message: the first span in backticks in its last cell that is not an option.
        var example: String? {
            let spans = cells.last!.components(separatedBy: "`").enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
            return spans.first { !$0.hasPrefix("--") && !$0.hasPrefix("replay ") && $0.count > 12 }
        }

        private static func firstNumber(after prefixes: [String], in text: String) -> Int32? {
            for prefix in prefixes {
                guard let range = text.range(of: prefix) else { continue }
                let digits = text[range.upperBound...].prefix { $0.isNumber }
                if let code = Int32(digits) { return code }
            }
            return nil
        }
    }

    /// The tables of docs/ERRORS.md: each row with its section and its table's column names.
    static func tables() throws -> [(columns: [String], row: Row)] {
        let text = try String(contentsOf: Harness.packageRoot.appendingPathComponent("docs/ERRORS.md"), encoding: .utf8)
        var section = "", columns: [String] = []
        var rows: [(columns: [String], row: Row)] = []
        var previousWasTable = false
        for (index, line) in text.components(separatedBy: "\n").enumerated() {
            if line.hasPrefix("## ") { section = String(line.dropFirst(3)) }
            guard line.hasPrefix("|") else {
                previousWasTable = false
                continue
            }
            let cells = splitRow(line)
            defer { previousWasTable = true }
            if !previousWasTable {
                columns = cells
                continue
            }
            if cells.allSatisfy({ $0.allSatisfy { $0 == "-" } }) { continue }
            rows.append((columns, Row(section: section, cells: cells, line: index + 1)))
        }
        return rows
    }

    /// The cells of a table line (`\|` is a bar inside a cell).
    static func splitRow(_ line: String) -> [String] {
        let marker = "\u{1}"
        let cells = line.replacingOccurrences(of: "\\|", with: marker).split(separator: "|", omittingEmptySubsequences: false)
        return cells.dropFirst().dropLast().map {
            $0.replacingOccurrences(of: marker, with: "|").trimmingCharacters(in: .whitespaces)
        }
    }

    /// True when `example`'s fragments appear in `text` in order (see the suite's comment).
    static func matches(_ example: String, in text: String) -> Bool {
        var rest = Substring(text)
        for fragment in example.components(separatedBy: "…") {
            let trimmed = fragment.trimmingCharacters(in: CharacterSet(charactersIn: " .;,"))
            guard trimmed.count >= 3 else { continue }
            var pattern = NSRegularExpression.escapedPattern(for: trimmed)
            pattern = pattern.replacingOccurrences(of: "[0-9]+", with: "[0-9]+", options: .regularExpression)
            pattern = pattern.replacingOccurrences(of: "\\b[NMRSABU]\\b", with: "[^ ]+", options: .regularExpression)
            guard let regex = try? Regex(pattern), let match = rest.firstMatch(of: regex) else { return false }
            rest = rest[match.range.upperBound...]
        }
        return true
    }

    @Test func matchingReadsPlaceholdersAndEllipses() {
        #expect(Self.matches("state s: it is in use by process N; wait", in: "replay: state s: it is in use by process 4711; wait for it"))
        #expect(Self.matches("cut.zip: cut short at 879085 bytes. … download it again", in: "cut.zip: cut short at 12 bytes. The file … download it again"))
        #expect(!Self.matches("cut.zip: cut short at 879085 bytes", in: "cut.zip: cut at 12 bytes"))
        #expect(!Self.matches("bbb … aaa", in: "aaa then bbb"))
        #expect(Self.splitRow("| a `x \\| y` | 3 | m |") == ["a `x | y`", "3", "m"])
    }

    @Test(.disabled(if: Harness.binaryIsSanitized, "messages and exit codes: checked once, on the normal build (a hundred runs are slow under the sanitizers)"))
    func everyRowIsTriggeredOrNamesItsTest() throws {
        let rows = try Self.tables()
        #expect(rows.count > 80, "the tables were not read: \(rows.count) rows")
        var triggered = 0
        for (columns, row) in rows {
            if columns.first == "code" { continue }  // the table of exit codes itself
            let trigger = DocumentedFailures.triggers.first { row.subject.hasPrefix($0.key) }
            let elsewhere = DocumentedFailures.testedElsewhere.first { row.subject.hasPrefix($0.key) }
            guard let trigger else {
                #expect(elsewhere != nil, "\(row): no trigger here and no test named for it in DocumentedFailures")
                continue
            }
            let dir = Harness.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let result = try trigger.value(dir)
            triggered += 1
            if columns.first == "reason" {
                let reason = row.cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
                #expect(result.stdout.contains("\"reason\":\"\(reason)\""), "\(row): the rejects hold no such row: \(result.stdout)")
                continue
            }
            if let code = row.exitCode(columns: columns) {
                #expect(result.status == code, "\(row): exit \(result.status), the document says \(code); stderr: \(result.stderr)")
            } else {
                Issue.record("\(row): the row states no exit code")
            }
            if let example = row.example {
                #expect(Self.matches(example, in: result.stderr), "\(row):\n  document: \(example)\n  stderr:   \(result.stderr)")
            }
            #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("NSCocoaErrorDomain"), "\(row): \(result.stderr)")
        }
        #expect(triggered > 50)
    }
}
