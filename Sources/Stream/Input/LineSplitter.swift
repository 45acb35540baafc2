import Foundation

/// Cuts a stream of byte blocks into lines at `\n`, carrying a partial line from one block to the next.
///
/// A line is handed over without its `\n` (a `\r` before it is kept: the caller's format decides) and,
/// when it lies inside one block, without being copied. Used for every line-oriented input that is not
/// CSV (CSV records may span lines: ``CSVRecordAssembler``): JSON lines from the live input, panel
/// files read by `replay tail` and `replay export`.
public struct LineSplitter {
    private var carry: [UInt8] = []
    /// A line longer than this many bytes is an error (``LineTooLongError``), noticed as soon as it is.
    public let maxLineBytes: Int
    /// Lines handed over so far (a line's number is this count when it is handed over, 1-based).
    public private(set) var linesDelivered: Int64 = 0

    /// A splitter that refuses lines longer than `maxLineBytes`.
    public init(maxLineBytes: Int = .max) { self.maxLineBytes = maxLineBytes }

    /// Bytes after the last `\n` seen: a line still being written, or a last line without its `\n`.
    public var heldBackBytes: Int { carry.count }

    /// Feeds one block; calls `line(bytes, number)` for every complete line, in order. Returns false when
    /// `line` returned false (the rest of the block is then dropped).
    ///
    /// - Warning: `bytes` is valid only during the call.
    /// - Throws: ``LineTooLongError`` when a line (or the partial one) is longer than ``maxLineBytes``;
    ///   rethrows `line`'s errors.
    public mutating func feed(
        _ block: UnsafeRawBufferPointer, _ line: (UnsafeRawBufferPointer, Int64) throws -> Bool
    ) throws -> Bool {
        guard let base = block.baseAddress else { return true }
        var start = 0
        while start < block.count {
            guard let newline = memchr(base + start, 0x0A, block.count - start) else {
                carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: block[start...]))
                if carry.count > maxLineBytes { throw LineTooLongError(line: linesDelivered + 1, limit: maxLineBytes) }
                return true
            }
            let end = base.distance(to: UnsafeRawPointer(newline))
            let segment = UnsafeRawBufferPointer(rebasing: block[start..<end])
            start = end + 1
            if carry.count + segment.count > maxLineBytes {
                throw LineTooLongError(line: linesDelivered + 1, limit: maxLineBytes)
            }
            linesDelivered += 1
            let number = linesDelivered
            let keepGoing: Bool
            if carry.isEmpty {
                keepGoing = try line(segment, number)
            } else {
                carry.append(contentsOf: segment)
                defer { carry.removeAll(keepingCapacity: true) }
                keepGoing = try carry.withUnsafeBytes { try line($0, number) }
            }
            if !keepGoing { return false }
        }
        return true
    }

    /// Ends the stream: hands over a last line that has no `\n`, if any.
    public mutating func finish(_ line: (UnsafeRawBufferPointer, Int64) throws -> Void) rethrows {
        guard !carry.isEmpty else { return }
        linesDelivered += 1
        let number = linesDelivered
        defer { carry.removeAll() }
        try carry.withUnsafeBytes { try line($0, number) }
    }
}

/// A line is longer than a ``LineSplitter`` accepts.
public struct LineTooLongError: Error, Sendable {
    /// The line's number (1-based).
    public var line: Int64
    /// The limit in bytes.
    public var limit: Int
}
