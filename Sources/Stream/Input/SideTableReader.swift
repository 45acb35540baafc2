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
    /// ASCII text (every KuaiRec list) is read from its bytes; other text through Foundation's trimming.
    public static func parseCategoryList(_ text: String) -> [Int] {
        var text = text
        if let parsed = text.withUTF8({ asciiCategoryList($0) }) { return parsed }
        return categoryListThroughFoundation(text)
    }

    /// ``parseCategoryList(_:)`` of ASCII bytes: spaces and tabs (the ASCII of `CharacterSet.whitespaces`)
    /// trimmed around the list and each item, items as `Int(_:)` reads them (an optional sign, then digits that
    /// fit). Nil when a byte is not ASCII. Hand-written: Foundation's trimming made the 10,728 lists of
    /// `item_categories.csv` a tenth of the metadata thread's time.
    static func asciiCategoryList(_ bytes: UnsafeBufferPointer<UInt8>) -> [Int]? {
        for b in bytes where b >= 0x80 { return nil }
        @inline(__always) func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }
        func trimmed(_ range: Range<Int>) -> Range<Int> {
            var lower = range.lowerBound, upper = range.upperBound
            while lower < upper, isSpace(bytes[lower]) { lower += 1 }
            while upper > lower, isSpace(bytes[upper - 1]) { upper -= 1 }
            return lower..<upper
        }
        let list = trimmed(0..<bytes.count)
        guard list.count >= 2, bytes[list.lowerBound] == 0x5B, bytes[list.upperBound - 1] == 0x5D else { return [] }
        let inner = trimmed((list.lowerBound + 1)..<(list.upperBound - 1))
        if inner.isEmpty { return [] }
        var values: [Int] = []
        var start = inner.lowerBound
        while start <= inner.upperBound {
            var end = start
            while end < inner.upperBound, bytes[end] != 0x2C { end += 1 }
            let item = trimmed(start..<end)
            start = end + 1
            if item.isEmpty { continue }  // a trailing comma: [1, 2,]
            guard let v = integer(bytes, item) else { return [] }
            values.append(v)
        }
        return values
    }

    /// `Int(_:)` of ASCII bytes: an optional `+` or `-`, then at least one digit, in range.
    private static func integer(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int? {
        var i = range.lowerBound
        let negative = bytes[i] == 0x2D
        if negative || bytes[i] == 0x2B { i += 1 }
        guard i < range.upperBound else { return nil }
        var value = 0
        while i < range.upperBound {
            let digit = Int(bytes[i]) - 0x30
            guard (0...9).contains(digit) else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = negative ? times10.subtractingReportingOverflow(digit) : times10.addingReportingOverflow(digit)
            guard !overflow1, !overflow2 else { return nil }
            value = next
            i += 1
        }
        return value
    }

    /// ``parseCategoryList(_:)`` through Foundation's trimming (any text; the oracle of the ASCII path's tests).
    static func categoryListThroughFoundation(_ text: String) -> [Int] {
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
