import Foundation

/// The parse alone: feeds a decompressed interactions CSV through `CSVRecordAssembler` and
/// `InteractionDecoder.decodePlainRow`, as a parse worker does, and the same bytes through a `memchr` count of their
/// line ends (the floor: reading the bytes once); prints the best of five of each, per row, and their ratio.
/// Built and run by `bench/parse/run` (the package's release build compiles the module this way: -O -wmo).
@main struct ParseBench {
    static func main() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: CommandLine.arguments[1]))
        let columns = try InteractionColumns(header: InteractionColumns.required)
        var parseBest = Double.infinity, floorBest = Double.infinity
        var accepted = 0, lines = 0
        var check: Int64 = 0
        for _ in 0..<5 {
            var decoder = InteractionDecoder(columns: columns, timeZone: TimeZone(identifier: "Asia/Shanghai")!)
            var assembler = CSVRecordAssembler()
            accepted = 0
            var start = Date()
            data.withUnsafeBytes { raw in
                _ = try? assembler.feed(raw) { record, line in
                    if line > 1, let row = decoder.decodePlainRow(record) {
                        accepted += 1
                        check &+= row.event.timestampMs
                    }
                    return true
                }
            }
            parseBest = min(parseBest, Date().timeIntervalSince(start))
            start = Date()
            lines = data.withUnsafeBytes { raw -> Int in
                var count = 0, at = 0
                while at < raw.count, let nl = memchr(raw.baseAddress! + at, 0x0A, raw.count - at) {
                    count += 1
                    at = raw.baseAddress!.distance(to: UnsafeRawPointer(nl)) + 1
                }
                return count
            }
            floorBest = min(floorBest, Date().timeIntervalSince(start))
        }
        guard accepted > 0 else { throw CocoaError(.fileReadCorruptFile) }
        print(String(format: "parse: %.3f s, %d rows taken plainly of %d lines, %.1f ns a row (check %lld)",
                     parseBest, accepted, lines, parseBest * 1e9 / Double(accepted), check))
        print(String(format: "floor (memchr of the line ends): %.3f s, %.1f ns a line; parse %.2fx of it",
                     floorBest, floorBest * 1e9 / Double(lines), parseBest / floorBest))
    }
}
