import Foundation
import ReplayStream

/// Learning a panel file's joined columns (`run --with-user-features`, `--with-item-context`) from its first
/// line, and the conversions of a joined text between JSON, CSV and TSV.
extension PanelCSVWriter {
    /// The joined columns of the panel file whose first line (not blank) is `line`: for the header of a CSV
    /// panel the names between `treatment_high_watch_exposure` and `revision`; for a JSON line its keys that
    /// are no key of the notebook's panel (``recordKeys``), in order, each once. None for anything else (a CSV
    /// row without its header, a line that is no JSON object), which is then read as a line of the notebook's
    /// panel.
    public static func joinedColumns(inFirstLine line: UnsafeRawBufferPointer) -> [String] {
        if let names = joinedColumns(inCSVHeader: line) { return names }
        guard line.first(where: { $0 != 0x20 && $0 != 0x09 }) == 0x7B else { return [] }
        var names: [String] = []
        var seen = Set<String>()
        var object = FlatJSONObject(line)
        while let member = try? object.next() {
            guard !member.keyHasEscapes else { continue }  // refused when the line is read: no column holds one
            let key = String(decoding: UnsafeRawBufferPointer(rebasing: line[member.keyStart..<member.keyEnd]), as: UTF8.self)
            if !panelKeys.contains(key), seen.insert(key).inserted { names.append(key) }
        }
        return names
    }

    /// The joined columns named by a CSV panel's header line (`user_id,…,treatment_high_watch_exposure,`
    /// joined names `,revision,final`, a CR before the newline allowed), or nil when `line` is no such header.
    public static func joinedColumns(inCSVHeader line: UnsafeRawBufferPointer) -> [String]? {
        var count = line.count
        if count > 0, line[count - 1] == 0x0D { count -= 1 }
        let prefix = csvHeaderPrefix, suffix = csvHeaderSuffix
        guard count >= prefix.count + suffix.count, line.starts(with: prefix),
            line[(count - suffix.count)..<count].elementsEqual(suffix)
        else { return nil }
        let middle = line[prefix.count..<(count - suffix.count)]
        if middle.isEmpty { return [] }
        guard middle.last == 0x2C else { return nil }
        let names = middle.dropLast().split(separator: 0x2C, omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        guard !names.contains(where: { $0.isEmpty || panelKeys.contains($0) }), Set(names).count == names.count
        else { return nil }
        return names
    }

    private static let panelKeys = Set(recordKeys)
    private static let csvHeaderPrefix = Array((columns.joined(separator: ",") + ",").utf8)
    private static let csvHeaderSuffix = Array("revision,final".utf8)

    /// Appends a text (decoded) as a CSV or TSV field: CSV quotes it when it holds a comma, a quote, CR or LF
    /// (as `run --format csv` writes it); TSV writes a tab, CR, LF or backslash as `\t`, `\r`, `\n`, `\\`.
    static func appendText(_ text: UnsafeRawBufferPointer, as form: ValueForm, to out: inout [UInt8]) {
        switch form {
        case .json:
            JSONBytes.appendString(text, to: &out)
        case .csv:
            guard text.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) else {
                out.append(contentsOf: text)
                return
            }
            out.append(0x22)
            for b in text {
                if b == 0x22 { out.append(0x22) }
                out.append(b)
            }
            out.append(0x22)
        case .tsv:
            for b in text {
                switch b {
                case 0x09: out += [0x5C, 0x74]
                case 0x0A: out += [0x5C, 0x6E]
                case 0x0D: out += [0x5C, 0x72]
                case 0x5C: out += [0x5C, 0x5C]
                default: out.append(b)
                }
            }
        }
    }

    /// Appends the text of a quoted CSV field (its quotes included): without them, `""` as one quote.
    static func unquote(_ field: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        guard field.count >= 2 else { return }
        var i = 1
        let end = field.count - 1
        while i < end {
            out.append(field[i])
            i += field[i] == 0x22 ? 2 : 1
        }
    }

    /// True when `bytes[start..<end]` is a JSON number (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`).
    static func isJSONNumber(_ bytes: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        var i = start
        func digits() -> Int {
            let from = i
            while i < end, bytes[i] &- 0x30 < 10 { i += 1 }
            return i - from
        }
        if i < end, bytes[i] == 0x2D { i += 1 }
        guard i < end else { return false }
        if bytes[i] == 0x30 { i += 1 } else if digits() == 0 { return false }
        if i < end, bytes[i] == 0x2E {
            i += 1
            guard digits() > 0 else { return false }
        }
        if i < end, bytes[i] == 0x65 || bytes[i] == 0x45 {
            i += 1
            if i < end, bytes[i] == 0x2B || bytes[i] == 0x2D { i += 1 }
            guard digits() > 0 else { return false }
        }
        return i == end
    }
}
