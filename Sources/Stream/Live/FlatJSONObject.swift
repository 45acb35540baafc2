/// Scans one JSON lines record that is a flat object (`{"user_id":14,"time":"2020-07-05 05:27:48.378",...}`),
/// member by member, without copying: each ``Member`` says where its key and value lie in the line.
///
/// The one JSON scanner of the program: the live input (interaction rows as JSON lines), `replay export`
/// (panel lines into CSV rows, 3.3 GB for the full log) and `replay tail` read lines through it.
/// Numbers are handed over exactly as written (so `watch_ratio` is parsed once, by the same correctly
/// rounded path as the CSV's); strings as the bytes between their quotes, decoded only on request
/// (``decodeString(_:into:)``). Work per line: one pass over its bytes, no allocation.
///
/// The grammar is JSON's (RFC 8259) restricted to one object whose values are scalars: a nested object
/// or array, a bare word, a number such as `01`, `.5` or `1.`, an unknown escape or a raw control
/// character in a string is a ``SyntaxError``. The bytes are not checked to be UTF-8, and duplicate keys
/// are handed over as they come (each caller has its own rule).
///
/// - Warning: the scanner holds `line`'s address: use it only while that memory is valid.
public struct FlatJSONObject {
    /// What a member's value is.
    public enum ValueKind: UInt8, Sendable {
        case string, number, null, `true`, `false`
    }

    /// One member of the object: offsets into the line.
    public struct Member: Sendable, Equatable {
        /// The key's bytes between its quotes: `line[keyStart..<keyEnd]`, escapes not decoded.
        public var keyStart: Int
        public var keyEnd: Int
        /// True when the key holds a backslash escape (decode it with ``decodeString(_:into:)``).
        public var keyHasEscapes: Bool
        /// The value's kind.
        public var kind: ValueKind
        /// The value's bytes: a string's between its quotes (escapes not decoded), anything else as written.
        public var valueStart: Int
        public var valueEnd: Int
        /// True when the value is a string holding a backslash escape.
        public var valueHasEscapes: Bool

        @inlinable
        init(
            keyStart: Int, keyEnd: Int, keyHasEscapes: Bool, kind: ValueKind, valueStart: Int, valueEnd: Int,
            valueHasEscapes: Bool
        ) {
            self.keyStart = keyStart
            self.keyEnd = keyEnd
            self.keyHasEscapes = keyHasEscapes
            self.kind = kind
            self.valueStart = valueStart
            self.valueEnd = valueEnd
            self.valueHasEscapes = valueHasEscapes
        }
    }

    /// Why a line is not one flat JSON object.
    public struct SyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
        /// What was wrong.
        public enum Kind: Sendable, Equatable {
            /// The line does not start with `{` (after blanks).
            case notAnObject
            /// A key in quotes was expected.
            case keyExpected
            /// A string is not closed before the end of the line.
            case unclosedString
            /// A backslash is followed by something other than `" \ / b f n r t` or `u` and four hex digits.
            case badEscape
            /// A string holds a raw control character (below U+0020).
            case controlCharacter
            /// `:` was expected after a key.
            case colonExpected
            /// A value is an object or an array.
            case nestedValue
            /// A value is not a JSON number, string, `null`, `true` or `false`.
            case badValue
            /// `,` or `}` was expected after a value.
            case commaOrBraceExpected
            /// The line ends before the object's closing `}`.
            case endsInsideObject
            /// Something other than blanks follows the closing `}`.
            case textAfterObject
        }

        /// What was wrong.
        public var kind: Kind
        /// Where: the 0-based offset of the byte in the line.
        public var offset: Int

        @inlinable
        init(_ kind: Kind, at offset: Int) {
            self.kind = kind
            self.offset = offset
        }

        public var description: String {
            let at = "byte \(offset + 1)"
            switch kind {
            case .notAnObject: return "it is not a JSON object (it does not start with '{')"
            case .keyExpected: return "a key in quotes was expected at \(at)"
            case .unclosedString: return "the string starting at \(at) is not closed"
            case .badEscape: return "the escape at \(at) is not a JSON escape"
            case .controlCharacter: return "the string holds a control character at \(at)"
            case .colonExpected: return "':' was expected after the key (\(at))"
            case .nestedValue: return "the value at \(at) is an object or an array; a flat object was expected"
            case .badValue: return "the value at \(at) is not a JSON number, string, null, true or false"
            case .commaOrBraceExpected: return "',' or '}' was expected after the value (\(at))"
            case .endsInsideObject: return "the line ends inside the object"
            case .textAfterObject: return "there is text after the object's closing '}' (\(at))"
            }
        }
    }

    @usableFromInline let bytes: UnsafePointer<UInt8>
    @usableFromInline let count: Int
    @usableFromInline var position = 0
    /// 0 before the opening brace, 1 inside the object, 2 after the closing brace.
    @usableFromInline var phase: UInt8 = 0

    /// A scanner at the start of `line` (one line, without its newline).
    @inlinable
    public init(_ line: UnsafeRawBufferPointer) {
        // An empty buffer may have no address; any valid pointer will do, as nothing is read from it.
        bytes = line.baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) } ?? FlatJSONObject.emptyLine
        count = line.count
    }

    /// A valid pointer for an empty line: the empty literal's bytes (its NUL terminator), in constant
    /// memory, never written.
    @usableFromInline static var emptyLine: UnsafePointer<UInt8> { ("" as StaticString).utf8Start }

    /// The next member, or nil after the object's closing brace (then the rest of the line has been
    /// checked to be blank).
    /// - Throws: ``SyntaxError`` when the line is not a flat JSON object; the scanner is then spent.
    @inlinable
    public mutating func next() throws(SyntaxError) -> Member? {
        // The position lives in a local while scanning: `self` is not read back from memory per byte.
        let p = bytes, n = count
        var i = position
        defer { position = i }
        switch phase {
        case 0:
            Self.skipBlanks(p, n, &i)
            guard i < n, p[i] == 0x7B else { throw SyntaxError(.notAnObject, at: i) }
            i += 1
            phase = 1
            Self.skipBlanks(p, n, &i)
            if i < n, p[i] == 0x7D {
                i += 1
                try finish(p, n, &i)
                return nil
            }
        case 1:
            Self.skipBlanks(p, n, &i)
            guard i < n else { throw SyntaxError(.endsInsideObject, at: i) }
            if p[i] == 0x2C {
                i += 1
                Self.skipBlanks(p, n, &i)
            } else if p[i] == 0x7D {
                i += 1
                try finish(p, n, &i)
                return nil
            } else {
                throw SyntaxError(.commaOrBraceExpected, at: i)
            }
        default:
            return nil
        }
        guard i < n else { throw SyntaxError(.endsInsideObject, at: i) }
        guard p[i] == 0x22 else { throw SyntaxError(.keyExpected, at: i) }
        let keyStart = i + 1
        let keyHasEscapes = try Self.skipString(p, n, &i)
        let keyEnd = i - 1
        Self.skipBlanks(p, n, &i)
        guard i < n else { throw SyntaxError(.endsInsideObject, at: i) }
        guard p[i] == 0x3A else { throw SyntaxError(.colonExpected, at: i) }
        i += 1
        Self.skipBlanks(p, n, &i)
        guard i < n else { throw SyntaxError(.endsInsideObject, at: i) }
        let valueStart = i
        let kind: ValueKind
        switch p[i] {
        case 0x22:
            let valueHasEscapes = try Self.skipString(p, n, &i)
            return Member(
                keyStart: keyStart, keyEnd: keyEnd, keyHasEscapes: keyHasEscapes, kind: .string,
                valueStart: valueStart + 1, valueEnd: i - 1, valueHasEscapes: valueHasEscapes)
        case 0x2D, 0x30...0x39:
            try Self.skipNumber(p, n, &i)
            kind = .number
        case 0x6E:
            try Self.skipWord("null", p, n, &i)
            kind = .null
        case 0x74:
            try Self.skipWord("true", p, n, &i)
            kind = .true
        case 0x66:
            try Self.skipWord("false", p, n, &i)
            kind = .false
        case 0x7B, 0x5B:
            throw SyntaxError(.nestedValue, at: i)
        default:
            throw SyntaxError(.badValue, at: i)
        }
        return Member(
            keyStart: keyStart, keyEnd: keyEnd, keyHasEscapes: keyHasEscapes, kind: kind, valueStart: valueStart,
            valueEnd: i, valueHasEscapes: false)
    }

    /// After the closing brace: only blanks may follow.
    @inlinable
    mutating func finish(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) throws(SyntaxError) {
        phase = 2
        Self.skipBlanks(p, n, &i)
        guard i == n else { throw SyntaxError(.textAfterObject, at: i) }
    }

    /// Skips JSON's blanks: space, tab, carriage return, line feed.
    @inlinable @inline(__always)
    static func skipBlanks(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) {
        while i < n {
            let b = p[i]
            guard b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A else { return }
            i += 1
        }
    }

    /// Moves past the string whose opening quote is at `i`; returns true when it holds an escape.
    ///
    /// Plain bytes are skipped eight at a time: a word is searched for `"`, `\` and bytes below 0x20 at
    /// once with the classic "has a zero byte" test (`(x - 0x01…) & ~x & 0x80…` on `x`, on `x` xor the
    /// byte, and with 0x20 for "below"), whose lowest flagged byte is always a true hit.
    @inlinable @inline(__always)
    static func skipString(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) throws(SyntaxError) -> Bool {
        let start = i
        i += 1
        var escaped = false
        while true {
            while i + 8 <= n {
                let word = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
                let ones: UInt64 = 0x0101_0101_0101_0101
                let quote = word ^ (ones &* 0x22), backslash = word ^ (ones &* 0x5C)
                let hits =
                    ((quote &- ones) & ~quote | (backslash &- ones) & ~backslash | (word &- ones &* 0x20) & ~word)
                    & (ones &* 0x80)
                if hits != 0 {
                    i += hits.trailingZeroBitCount >> 3
                    break
                }
                i += 8
            }
            guard i < n else { throw SyntaxError(.unclosedString, at: start) }
            let b = p[i]
            if b == 0x22 {
                i += 1
                return escaped
            }
            if b == 0x5C {
                try skipEscape(p, n, &i)
                escaped = true
            } else if b < 0x20 {
                throw SyntaxError(.controlCharacter, at: i)
            } else {
                i += 1
            }
        }
    }

    /// Moves past the escape whose backslash is at `i`.
    @inlinable
    static func skipEscape(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) throws(SyntaxError) {
        let start = i
        guard i + 1 < n else { throw SyntaxError(.unclosedString, at: start) }
        switch p[i + 1] {
        case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74:
            i += 2
        case 0x75:
            guard i + 6 <= n else { throw SyntaxError(.badEscape, at: start) }
            for k in 2..<6 where hexValue(p[i + k]) == nil { throw SyntaxError(.badEscape, at: start) }
            i += 6
        default:
            throw SyntaxError(.badEscape, at: start)
        }
    }

    /// Moves past a number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?` (what follows is the
    /// caller's to check: `026` is the number `0` followed by a `2` where `,` or `}` belongs).
    @inlinable @inline(__always)
    static func skipNumber(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) throws(SyntaxError) {
        let start = i
        @inline(__always) func digits() -> Int {
            let from = i
            while i < n, p[i] &- 0x30 < 10 { i += 1 }
            return i - from
        }
        if p[i] == 0x2D { i += 1 }
        guard i < n else { throw SyntaxError(.badValue, at: start) }
        if p[i] == 0x30 {
            i += 1
        } else if digits() == 0 {
            throw SyntaxError(.badValue, at: start)
        }
        if i < n, p[i] == 0x2E {
            i += 1
            guard digits() > 0 else { throw SyntaxError(.badValue, at: start) }
        }
        if i < n, p[i] | 0x20 == 0x65 {
            i += 1
            if i < n, p[i] == 0x2B || p[i] == 0x2D { i += 1 }
            guard digits() > 0 else { throw SyntaxError(.badValue, at: start) }
        }
    }

    /// Moves past `word` (`null`, `true`, `false`).
    @inlinable @inline(__always)
    static func skipWord(_ word: StaticString, _ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int)
        throws(SyntaxError)
    {
        let length = word.utf8CodeUnitCount
        guard i + length <= n else { throw SyntaxError(.badValue, at: i) }
        for k in 0..<length where p[i + k] != word.utf8Start[k] { throw SyntaxError(.badValue, at: i) }
        i += length
    }

    @inlinable @inline(__always)
    static func hexValue(_ b: UInt8) -> UInt32? {
        switch b {
        case 0x30...0x39: return UInt32(b - 0x30)
        case 0x41...0x46: return UInt32(b - 0x41 + 10)
        case 0x61...0x66: return UInt32(b - 0x61 + 10)
        default: return nil
        }
    }
}

extension FlatJSONObject {
    /// Appends the text of a string the scanner accepted (the bytes between its quotes) to `out`, escapes
    /// decoded: `\uXXXX` as UTF-8, a surrogate pair as its one scalar, a lone surrogate as U+FFFD.
    public static func decodeString(_ body: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        var i = 0
        let n = body.count
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= n else { return nil }
            var v: UInt32 = 0
            for k in at..<(at + 4) {
                guard let d = hexValue(body[k]) else { return nil }
                v = v << 4 | d
            }
            return v
        }
        while i < n {
            let b = body[i]
            guard b == 0x5C, i + 1 < n else {
                out.append(b)
                i += 1
                continue
            }
            let e = body[i + 1]
            i += 2
            switch e {
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
            case 0x75:
                guard var code = hex4(i) else { return }
                i += 4
                if (0xD800..<0xDC00).contains(code), i + 6 <= n, body[i] == 0x5C, body[i + 1] == 0x75,
                    let low = hex4(i + 2), (0xDC00..<0xE000).contains(low)
                {
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                }
                let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                out.append(contentsOf: String(scalar).utf8)
            default: out.append(e)  // `"`, `\`, `/`
            }
        }
    }

    /// Calls `body(key, value)` for each member of `line`, key and value decoded (a number, `true` and
    /// `false` as written, nil for `null`); false when the line is not a flat JSON object (`body` may
    /// have been called for the members before the error).
    public static func forEachMember(
        of line: UnsafeRawBufferPointer, _ body: (_ key: [UInt8], _ value: [UInt8]?) -> Void
    ) -> Bool {
        var object = FlatJSONObject(line)
        var key: [UInt8] = []
        var value: [UInt8] = []
        do {
            while let m = try object.next() {
                key.removeAll(keepingCapacity: true)
                decode(line, m.keyStart, m.keyEnd, escaped: m.keyHasEscapes, into: &key)
                if m.kind == .null {
                    body(key, nil)
                    continue
                }
                value.removeAll(keepingCapacity: true)
                decode(line, m.valueStart, m.valueEnd, escaped: m.valueHasEscapes, into: &value)
                body(key, value)
            }
            return true
        } catch {
            return false
        }
    }

    private static func decode(
        _ line: UnsafeRawBufferPointer, _ start: Int, _ end: Int, escaped: Bool, into out: inout [UInt8]
    ) {
        let span = UnsafeRawBufferPointer(rebasing: line[start..<end])
        if escaped { decodeString(span, into: &out) } else { out.append(contentsOf: span) }
    }
}
