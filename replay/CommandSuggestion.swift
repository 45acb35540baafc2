import ArgumentParser

/// What the command line says about a first argument that is no subcommand, and the examples that end each
/// subcommand's `--help`.
enum CommandSuggestion {
    /// A command line's examples, shown at the end of its help.
    protocol Examples {
        /// Two or three real command lines, each with a short comment.
        static var examples: [String] { get }
    }

    /// The subcommands' names.
    static var names: [String] { Replay.commands.map { ($0.configuration.commandName ?? "") } + ["help"] }

    /// The error for a first argument that looks like a mistyped subcommand (a word, not an option or a path),
    /// naming the nearest subcommand when one is close; nil when `word` is a subcommand or not a word.
    static func message(for word: String) -> String? {
        guard !word.hasPrefix("-"), !names.contains(word), word.allSatisfy({ $0.isLetter }) else { return nil }
        let nearest = names.map { ($0, distance(word, $0)) }.min { $0.1 < $1.1 }!
        if nearest.1 <= max(1, nearest.0.count / 3) {
            return "'\(word)' is not a replay subcommand. Did you mean '\(nearest.0)'?"
        }
        return "'\(word)' is not a replay subcommand; the subcommands are \(names.dropLast().joined(separator: ", "))."
    }

    /// The examples of the subcommand `arguments` ask help for (`run --help`, `help run`); nil for the root.
    static func examples(for arguments: [String]) -> [String]? {
        let words = arguments.filter { !$0.hasPrefix("-") && $0 != "help" }
        guard let name = words.first, let command = Replay.commands.first(where: { ($0.configuration.commandName ?? "") == name }),
            let documented = command as? any Examples.Type
        else { return nil }
        return documented.examples
    }

    /// The edit distance between `a` and `b` (insertions, deletions, substitutions and adjacent swaps).
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var rows = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { rows[i][0] = i }
        for j in 0...b.count { rows[0][j] = j }
        for i in stride(from: 1, through: a.count, by: 1) {
            for j in stride(from: 1, through: b.count, by: 1) {
                rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1) }
            }
        }
        return rows[a.count][b.count]
    }
}
