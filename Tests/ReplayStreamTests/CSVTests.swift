import Foundation
import Testing
@testable import ReplayStream

/// Feeds `text` to an assembler in blocks of `blockSize` bytes and collects (record, line).
private func assemble(_ text: String, blockSize: Int) throws -> [(String, Int64)] {
    var assembler = CSVRecordAssembler()
    var out: [(String, Int64)] = []
    let bytes = Array(text.utf8)
    var i = 0
    while i < bytes.count {
        let end = min(bytes.count, i + blockSize)
        _ = try bytes[i..<end].withUnsafeBytes { block in
            try assembler.feed(block) { record, line in
                out.append((String(decoding: record, as: UTF8.self), line))
                return true
            }
        }
        i = end
    }
    try assembler.finish { record, line in
        out.append((String(decoding: record, as: UTF8.self), line))
        return true
    }
    return out
}

@Suite struct CSVTests {
    let text = "a,b,c\r\n1,\"x\ny\",3\n\n4,\"he said \"\"hi\"\"\",6\nlast,row,nonl"

    @Test func recordsAreTheSameForEveryBlockSize() throws {
        let expected = try assemble(text, blockSize: 1 << 20)
        #expect(expected.map(\.0) == ["a,b,c", "1,\"x\ny\",3", "", "4,\"he said \"\"hi\"\"\",6", "last,row,nonl"])
        #expect(expected.map(\.1) == [1, 2, 4, 5, 6])
        for size in 1...text.utf8.count {
            let got = try assemble(text, blockSize: size)
            #expect(got.map(\.0) == expected.map(\.0), "block size \(size)")
            #expect(got.map(\.1) == expected.map(\.1), "block size \(size)")
        }
    }

    @Test func unterminatedQuoteIsAnError() {
        #expect(throws: CSVFormatError.self) { try assemble("a,b\n1,\"open\n2,3\n", blockSize: 4) }
    }

    @Test func overlongRecordIsAnError() {
        var assembler = CSVRecordAssembler(maxRecordBytes: 16)
        let bytes = Array(String(repeating: "x", count: 64).utf8)
        #expect(throws: CSVFormatError.self) {
            _ = try bytes.withUnsafeBytes { try assembler.feed($0) { _, _ in true } }
        }
    }

    @Test func splitterHandlesQuotesAndEmptyFields() {
        var splitter = CSVFieldSplitter()
        func fields(_ s: String) -> ([String], Bool) {
            let bytes = Array(s.utf8)
            return bytes.withUnsafeBytes { raw in
                let ok = splitter.split(raw)
                return ((0..<splitter.fieldCount).map { i in
                    splitter.withField(i, in: raw) { String(decoding: $0, as: UTF8.self) }
                }, ok)
            }
        }
        #expect(fields("1,2,,4,").0 == ["1", "2", "", "4", ""])
        #expect(fields("").0 == [""])
        #expect(fields("1,\"[27, 9]\",x").0 == ["1", "[27, 9]", "x"])
        #expect(fields("\"a\"\"b\",\"\",c,").0 == ["a\"b", "", "c", ""])
        #expect(fields("\"a\"b,c").1 == false)
    }
}
