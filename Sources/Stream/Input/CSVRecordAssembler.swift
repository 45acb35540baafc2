import Foundation

/// Cuts a stream of byte blocks into CSV records (RFC 4180: a quoted field may hold commas,
/// doubled quotes and newlines), carrying a partial record from one block to the next.
///
/// Hand-written rather than taken from a CSV package because it is the hot path: the packages
/// served here walk `String`s or unicode scalars one at a time, while this finds line ends with
/// `memchr` over the decompressed block and hands out records without copying them.
public struct CSVRecordAssembler {
    private var carry: [UInt8] = []
    private var carryQuoteCount = 0
    private var carryStartLine: Int64 = 0
    /// Physical lines consumed so far (a record's line number is the line it starts on, 1-based).
    public private(set) var linesConsumed: Int64 = 0
    /// Records longer than this many bytes are an error (a damaged file, not a CSV).
    public var maxRecordBytes: Int

    /// Creates an assembler that refuses records longer than `maxRecordBytes`.
    public init(maxRecordBytes: Int = 1 << 20) { self.maxRecordBytes = maxRecordBytes }

    /// Feeds one block; calls `onRecord(bytes, line)` for every complete record, without its line end.
    ///
    /// - Warning: `bytes` is valid only during the call.
    /// - Throws: ``CSVFormatError`` for an over-long record; rethrows `onRecord`'s errors.
    public mutating func feed(
        _ block: UnsafeRawBufferPointer, _ onRecord: (UnsafeRawBufferPointer, Int64) throws -> Bool
    ) throws -> Bool {
        guard let base = block.baseAddress, block.count > 0 else { return true }
        var start = 0
        let end = block.count
        // One scan of the block for quotes: without any, no line needs its quotes counted.
        let blockHasQuotes = memchr(base, 0x22, end) != nil
        while start < end {
            let remaining = end - start
            guard let nlPtr = memchr(base + start, 0x0A, remaining) else {
                if carry.isEmpty { carryStartLine = linesConsumed + 1 }
                try appendToCarry(UnsafeRawBufferPointer(start: base + start, count: remaining))
                return true
            }
            let nl = base.distance(to: UnsafeRawPointer(nlPtr))
            let segment = UnsafeRawBufferPointer(start: base + start, count: nl - start)
            linesConsumed += 1
            start = nl + 1
            if carry.isEmpty {
                if segment.count > maxRecordBytes { throw overlong(line: linesConsumed) }
                let quotes = blockHasQuotes ? CSVRecordAssembler.countQuotes(segment) : 0
                if quotes & 1 == 0 {
                    if try !onRecord(CSVRecordAssembler.trimCR(segment), linesConsumed) { return false }
                } else {
                    carryStartLine = linesConsumed
                    try appendToCarry(segment)
                    carry.append(0x0A)
                }
            } else {
                try appendToCarry(segment)
                if carryQuoteCount & 1 == 0 {
                    let keepGoing = try carry.withUnsafeBytes { try onRecord(CSVRecordAssembler.trimCR($0), carryStartLine) }
                    carry.removeAll(keepingCapacity: true)
                    carryQuoteCount = 0
                    if !keepGoing { return false }
                } else {
                    carry.append(0x0A)
                }
            }
        }
        return true
    }

    /// Ends the stream: a last record without a line end is delivered; an unterminated quote is an error.
    public mutating func finish(_ onRecord: (UnsafeRawBufferPointer, Int64) throws -> Bool) throws {
        guard !carry.isEmpty else { return }
        if carryQuoteCount & 1 == 1 {
            throw CSVFormatError(line: carryStartLine, message: "a quoted field is never closed before the end of the file")
        }
        linesConsumed += 1
        let line = carryStartLine
        _ = try carry.withUnsafeBytes { try onRecord(CSVRecordAssembler.trimCR($0), line) }
        carry.removeAll()
    }

    private mutating func appendToCarry(_ bytes: UnsafeRawBufferPointer) throws {
        carry.append(contentsOf: bytes)
        carryQuoteCount += CSVRecordAssembler.countQuotes(bytes)
        if carry.count > maxRecordBytes { throw overlong(line: carryStartLine) }
    }

    private func overlong(line: Int64) -> CSVFormatError {
        if let crOnly = carry.withUnsafeBytes({ CSVFormatError.carriageReturnLineEnds(in: $0, line: line) }) { return crOnly }
        return CSVFormatError(
            line: line,
            message: "the record is longer than \(maxRecordBytes) bytes (a KuaiRec row is under 200; an unclosed quote also makes one record of many lines); this is not a KuaiRec interaction CSV or the file is damaged")
    }

    /// The offset just past the last line end of `bytes` (which start a record: a line end after them ends one too) at which no quote is open, or
    /// nil when there is none. Without a quote in the bytes, the last line end (records are short: a backward
    /// scan finds it in a few hundred bytes); with quotes, every byte is looked at once.
    public static func lastRecordEnd(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return nil }
        if memchr(base, 0x22, bytes.count) == nil {
            var i = bytes.count - 1
            while i >= 0 {
                if base.load(fromByteOffset: i, as: UInt8.self) == 0x0A { return i + 1 }
                i -= 1
            }
            return nil
        }
        var quoteOpen = false
        var last: Int?
        for i in 0..<bytes.count {
            let byte = base.load(fromByteOffset: i, as: UInt8.self)
            if byte == 0x22 {
                quoteOpen.toggle()
            } else if byte == 0x0A && !quoteOpen {
                last = i + 1
            }
        }
        return last
    }

    @inline(__always)
    static func countQuotes(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard let base = bytes.baseAddress, bytes.count > 0,
            memchr(base, 0x22, bytes.count) != nil
        else { return 0 }
        var n = 0
        for b in bytes where b == 0x22 { n += 1 }
        return n
    }

    @inline(__always)
    static func trimCR(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        if let last = bytes.last, last == 0x0D { return UnsafeRawBufferPointer(rebasing: bytes.dropLast()) }
        return bytes
    }
}

/// The byte stream is not a CSV this program can read.
public struct CSVFormatError: Error, CustomStringConvertible, Sendable {
    /// Line where the problem starts (1-based, the header is line 1).
    public var line: Int64
    /// What is wrong.
    public var message: String
    /// The file (or archive member path) being read, when known.
    public var source: String?

    public init(line: Int64, message: String, source: String? = nil) {
        self.line = line
        self.message = message
        self.source = source
    }

    public var description: String { (source.map { "\($0): " } ?? "") + "line \(line): \(message)" }

    /// The error for a text record holding a carriage return before its end: the file's lines end with CR
    /// alone (classic Mac OS), so the whole file reads as one line. Nil when the record has no such byte or
    /// is not UTF-8 text without other control characters.
    static func carriageReturnLineEnds(in record: UnsafeRawBufferPointer, line: Int64) -> CSVFormatError? {
        guard let cr = record.firstIndex(of: 0x0D), cr < record.count - 1,
            !record.contains(where: { $0 < 0x20 && $0 != 0x09 && $0 != 0x0D }),
            String(validating: record, as: UTF8.self) != nil
        else { return nil }  // no CR inside, or not text (a binary file holds CR bytes too)
        return CSVFormatError(
            line: line,
            message: "the lines end with a carriage return alone (CR, byte 0d at byte \(cr + 1)), so the file reads as one line; replay reads lines ending in LF or CR LF — convert the line ends (tr '\\r' '\\n' < IN > OUT) and pass the converted file")
    }
}

/// Splits one CSV record into fields, unquoting where needed.
///
/// Fields are kept as byte ranges, into the record itself when it has no quotes (the common case),
/// or into an internal buffer holding the unescaped text otherwise.
public struct CSVFieldSplitter {
    /// Start and end offset of each field of the last split record, two entries per field; entries past
    /// `2 * fieldCount` are stale. Written through one buffer pointer per record (one uniqueness check per
    /// record, not one per field).
    private var edges = [Int](repeating: 0, count: 64)
    /// Number of fields in the last split record.
    public private(set) var fieldCount = 0
    private var unquoted: [UInt8] = []
    private var usesUnquotedBuffer = false

    /// Creates a splitter.
    public init() {}

    /// Start offset and length of each field of the last split record.
    public var ranges: [Range<Int>] { (0..<fieldCount).map { edges[2 * $0]..<edges[2 * $0 + 1] } }

    /// Splits `record` into fields. Returns false when a quoted field is malformed (text after its closing quote).
    public mutating func split(_ record: UnsafeRawBufferPointer) -> Bool {
        let count = record.count
        guard let base = record.baseAddress, count > 0 else {
            fieldCount = 0
            appendField(0, 0)
            usesUnquotedBuffer = false
            return true
        }
        while true {
            let found = edges.withUnsafeMutableBufferPointer { Self.splitWithoutQuotes(base, count: count, into: $0) }
            if found > 0 {
                fieldCount = found
                usesUnquotedBuffer = false
                return true
            }
            if found == Self.sawQuote { return splitQuoted(record) }
            edges.append(contentsOf: repeatElement(0, count: edges.count))  // more fields than room: grow, again
        }
    }

    /// ``splitWithoutQuotes(_:count:into:)`` saw a quote.
    private static let sawQuote = -1
    /// ``splitWithoutQuotes(_:count:into:)`` ran out of room in `edges`.
    private static let outOfRoom = -2

    /// The fields of a record without quotes, found eight bytes at a time, written to `edges`: their number,
    /// or ``sawQuote`` or ``outOfRoom``.
    ///
    /// Hand-written SWAR (SIMD within a register) because the per-comma `memchr` calls cost more than the
    /// scan itself on records of ~90 bytes: each word is tested for `,` and `"` bytes at once.
    @inline(__always)
    private static func splitWithoutQuotes(
        _ base: UnsafeRawPointer, count: Int, into edges: UnsafeMutableBufferPointer<Int>
    ) -> Int {
        // Wrapping arithmetic: every offset is below `count` and every field index below `room`, so none can
        // overflow, and overflow checks would cost a fifth of the loop.
        let room = edges.count / 2
        let out = edges.baseAddress!
        var fields = 0
        var start = 0
        var i = 0
        while i &+ 8 <= count {
            let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            if bytesEqual(word, 0x22) != 0 { return sawQuote }
            var commas = bytesEqual(word, 0x2C)
            while commas != 0 {
                let at = i &+ commas.trailingZeroBitCount &>> 3
                if fields == room &- 1 { return outOfRoom }
                out[2 &* fields] = start
                out[2 &* fields &+ 1] = at
                fields &+= 1
                start = at &+ 1
                commas &= commas &- 1
            }
            i &+= 8
        }
        while i < count {
            let b = base.load(fromByteOffset: i, as: UInt8.self)
            if b == 0x22 { return sawQuote }
            if b == 0x2C {
                if fields == room &- 1 { return outOfRoom }
                out[2 &* fields] = start
                out[2 &* fields &+ 1] = i
                fields &+= 1
                start = i &+ 1
            }
            i &+= 1
        }
        out[2 &* fields] = start
        out[2 &* fields &+ 1] = count
        return fields &+ 1
    }

    /// Adds a field (quoted records: the rare path), growing `edges` when full.
    private mutating func appendField(_ start: Int, _ end: Int) {
        if 2 * fieldCount + 2 > edges.count { edges.append(contentsOf: repeatElement(0, count: edges.count)) }
        edges[2 * fieldCount] = start
        edges[2 * fieldCount + 1] = end
        fieldCount += 1
    }

    /// The high bit of each byte of `word` that equals `byte`, and no other bit (exact: no carry crosses bytes).
    @inline(__always)
    static func bytesEqual(_ word: UInt64, _ byte: UInt8) -> UInt64 {
        let x = word ^ (0x0101_0101_0101_0101 &* UInt64(byte))
        let t = (x & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7F7F_7F7F_7F7F_7F7F
        return ~(t | x) & 0x8080_8080_8080_8080
    }

    /// Splits a record holding quotes, unescaping fields into the internal buffer.
    private mutating func splitQuoted(_ record: UnsafeRawBufferPointer) -> Bool {
        fieldCount = 0
        let count = record.count
        usesUnquotedBuffer = true
        unquoted.removeAll(keepingCapacity: true)
        var i = 0
        var fieldStart = 0
        var ok = true
        while true {
            fieldStart = unquoted.count
            if i < count && record[i] == 0x22 {
                i += 1
                while i < count {
                    let b = record[i]
                    if b == 0x22 {
                        if i + 1 < count && record[i + 1] == 0x22 {
                            unquoted.append(0x22)
                            i += 2
                            continue
                        }
                        i += 1
                        break
                    }
                    unquoted.append(b)
                    i += 1
                }
                // After the closing quote only a comma or the end may follow.
                while i < count && record[i] != 0x2C {
                    ok = false
                    unquoted.append(record[i])
                    i += 1
                }
            } else {
                while i < count && record[i] != 0x2C {
                    unquoted.append(record[i])
                    i += 1
                }
            }
            appendField(fieldStart, unquoted.count)
            if i >= count { break }
            i += 1  // the comma
            if i == count {
                appendField(unquoted.count, unquoted.count)
                break
            }
        }
        return ok
    }

    /// Calls `body` with the bytes of field `index` of the last split record (`record` must be the same buffer).
    ///
    /// - Warning: Do not escape the pointer from the closure.
    @inline(__always)
    public func withField<R>(
        _ index: Int, in record: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R
    ) rethrows -> R {
        let range = Range(uncheckedBounds: (edges[2 * index], edges[2 * index + 1]))
        if usesUnquotedBuffer {
            return try unquoted.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[range])) }
        }
        return try body(UnsafeRawBufferPointer(rebasing: record[range]))
    }
}
