import Foundation

/// Reads one of KuaiRec's side tables (`user_features.csv`, `item_categories.csv`,
/// `item_daily_features.csv`) from the same kind of input as the interaction log: an archive, a folder
/// holding `KuaiRec 2.0/data/`, or (for none of them) a bare CSV.
public enum SideTableReader {
    /// Calls `body` for each data row of `fileName` inside `input` with a lookup of the chosen columns'
    /// values (by position in what `columns` returned; nil for an empty field) as text and as numbers.
    /// `columns` gets the header's names and returns the ones to read; it throws to refuse the header.
    /// Stops after `rowLimit` data rows when given.
    /// - Throws: ``InputError`` when the file is absent or lacks a chosen column, what `columns` throws,
    ///   archive and CSV errors.
    public static func forEachRow(
        input: String, fileName: String, columns choose: ([String]) throws -> [String], rowLimit: Int? = nil,
        _ body: (_ value: (Int) -> String?, _ number: (Int) -> Double?) throws -> Void
    ) throws {
        let source = try MatrixSource.open(input: input, fileName: fileName)
        var assembler = CSVRecordAssembler()
        var splitter = CSVFieldSplitter()
        var positions: [Int]?
        var scratch = [CChar](repeating: 0, count: 64)
        var rows = 0
        let limit = rowLimit ?? Int.max
        let onRecord: (UnsafeRawBufferPointer, Int64) throws -> Bool = { record, _ in
            _ = splitter.split(record)
            guard let cols = positions else {
                let fields = (0..<splitter.fieldCount).map { i in
                    splitter.withField(i, in: record) { String(decoding: $0, as: UTF8.self) }
                        .trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "\u{FEFF}", with: "")
                }
                var index: [String: Int] = [:]
                for (i, name) in fields.enumerated() where index[name] == nil { index[name] = i }
                let required = try choose(fields)
                let missing = required.filter { index[$0] == nil }
                guard missing.isEmpty else {
                    throw InputError(input: source.location, message: "no column(s) \(missing.joined(separator: ", "))")
                }
                positions = required.map { index[$0]! }
                return true
            }
            if record.isEmpty { return true }
            if rows >= limit { return false }
            rows += 1
            // Only the asked-for fields become Strings (item_daily_features has 50-odd columns, 10 used).
            let count = splitter.fieldCount
            try body(
                { i in
                    let p = cols[i]
                    guard p < count else { return nil }
                    return splitter.withField(p, in: record) { $0.isEmpty ? nil : String(decoding: $0, as: UTF8.self) }
                },
                { i in
                    // Straight from the bytes (the decimal fast path, else strtod): no String per number.
                    let p = cols[i]
                    guard p < count else { return nil }
                    return splitter.withField(p, in: record) { $0.isEmpty ? nil : InteractionDecoder.parseDouble($0, scratch: &scratch) }
                })
            return true
        }
        var stopped = false
        while let block = try source.nextBlock() {
            if try !assembler.feed(block, onRecord) {
                stopped = true
                break
            }
        }
        if !stopped { try assembler.finish(onRecord) }
    }

    /// The notebook's `parse_category_list`: `ast.literal_eval` of `"[27, 9]"`, `[]` when it is not a
    /// list. Lists of integers are understood; anything else counts as `[]`.
    public static func parseCategoryList(_ text: String) -> [Int] {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("["), trimmed.hasSuffix("]") else { return [] }
        let inner = trimmed.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
        if inner.isEmpty { return [] }
        var values: [Int] = []
        for part in inner.split(separator: ",", omittingEmptySubsequences: false) {
            let p = part.trimmingCharacters(in: .whitespaces)
            if p.isEmpty { continue }  // a trailing comma: [1, 2,]
            guard let v = Int(p) else { return [] }
            values.append(v)
        }
        return values
    }
}
