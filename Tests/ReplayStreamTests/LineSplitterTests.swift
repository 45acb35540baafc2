import Testing

@testable import ReplayStream

/// The one line splitter: lines at `\n` whatever the blocks, numbered, with a length limit.
struct LineSplitterTests {
    /// Every line of `text`, fed in blocks of `blockSize` bytes, with their numbers; then what `finish` hands over.
    func split(_ text: String, blockSize: Int, maxLineBytes: Int = .max) throws -> (lines: [String], numbers: [Int64]) {
        var splitter = LineSplitter(maxLineBytes: maxLineBytes)
        var lines: [String] = [], numbers: [Int64] = []
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            let end = min(bytes.count, i + blockSize)
            _ = try bytes[i..<end].withUnsafeBytes { block in
                try splitter.feed(block) { line, number in
                    lines.append(String(decoding: line, as: UTF8.self))
                    numbers.append(number)
                    return true
                }
            }
            i = end
        }
        splitter.finish { line, number in
            lines.append(String(decoding: line, as: UTF8.self) + "<end>")
            numbers.append(number)
        }
        return (lines, numbers)
    }

    @Test func linesAreTheSameWhateverTheBlockSize() throws {
        let text = "a\nbb\r\n\nccc\nlast"
        for size in 1...text.utf8.count {
            let (lines, numbers) = try split(text, blockSize: size)
            #expect(lines == ["a", "bb\r", "", "ccc", "last<end>"], "block size \(size)")
            #expect(numbers == [1, 2, 3, 4, 5])
        }
        #expect(try split("", blockSize: 4).lines.isEmpty)
        #expect(try split("x\n", blockSize: 1).lines == ["x"])
    }

    @Test func aLongPartialLineIsRefusedWithItsNumber() throws {
        #expect(try split("12345\n", blockSize: 6, maxLineBytes: 5).lines == ["12345"])
        do {
            _ = try split("ok\n123456\n", blockSize: 4, maxLineBytes: 5)
            Issue.record("a 6-byte line passed a 5-byte limit")
        } catch let error as LineTooLongError {
            #expect(error.line == 2 && error.limit == 5)
        }
    }

    @Test func returningFalseStopsAndHoldsBackThePartialLine() throws {
        var splitter = LineSplitter()
        var seen: [String] = []
        let keepGoing = try Array("a\nb\nc".utf8).withUnsafeBytes { block in
            try splitter.feed(block) { line, _ in
                seen.append(String(decoding: line, as: UTF8.self))
                return seen.count < 1
            }
        }
        #expect(!keepGoing && seen == ["a"])
        var other = LineSplitter()
        _ = try Array("a\nbc".utf8).withUnsafeBytes { try other.feed($0) { _, _ in true } }
        #expect(other.heldBackBytes == 2)
    }
}
