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

    @usableFromInline static let emptyLine: UnsafePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        p.initialize(to: 0)
        return UnsafePointer(p)
    }()

    /// The next member, or nil after the object's closing brace (then the rest of the line has been
    /// checked to be blank).
    /// - Throws: ``SyntaxError`` when the line is not a flat JSON object; the scanner is then spent.
    @inlinable
    public mutating func next() throws(SyntaxError) -> Member? {
        switch phase {
        case 0:
            skipBlanks()
            guard position < count, bytes[position] == 0x7B else { throw SyntaxError(.notAnObject, at: position) }
            position += 1
            phase = 1
            skipBlanks()
            if position < count, bytes[position] == 0x7D {
                position += 1
                try finish()
                return nil
            }
        case 1:
            skipBlanks()
            guard position < count else { throw SyntaxError(.endsInsideObject, at: position) }
            if bytes[position] == 0x2C {
                position += 1
                skipBlanks()
            } else if bytes[position] == 0x7D {
                position += 1
                try finish()
                return nil
            } else {
                throw SyntaxError(.commaOrBraceExpected, at: position)
            }
        default:
            return nil
        }
        guard position < count else { throw SyntaxError(.endsInsideObject, at: position) }
        guard bytes[position] == 0x22 else { throw SyntaxError(.keyExpected, at: position) }
        let keyStart = position + 1
        let keyHasEscapes = try skipString()
        let keyEnd = position - 1
        skipBlanks()
        guard position < count else { throw SyntaxError(.endsInsideObject, at: position) }
        guard bytes[position] == 0x3A else { throw SyntaxError(.colonExpected, at: position) }
        position += 1
        skipBlanks()
        guard position < count else { throw SyntaxError(.endsInsideObject, at: position) }
        let valueStart = position
        let kind: ValueKind
        switch bytes[position] {
        case 0x22:
            let valueHasEscapes = try skipString()
            return Member(
                keyStart: keyStart, keyEnd: keyEnd, keyHasEscapes: keyHasEscapes, kind: .string,
                valueStart: valueStart + 1, valueEnd: position - 1, valueHasEscapes: valueHasEscapes)
        case 0x2D, 0x30...0x39:
            try skipNumber()
            kind = .number
        case 0x6E:
            try skipWord("null")
            kind = .null
        case 0x74:
            try skipWord("true")
            kind = .true
        case 0x66:
            try skipWord("false")
            kind = .false
        case 0x7B, 0x5B:
            throw SyntaxError(.nestedValue, at: position)
        default:
            throw SyntaxError(.badValue, at: position)
        }
        return Member(
            keyStart: keyStart, keyEnd: keyEnd, keyHasEscapes: keyHasEscapes, kind: kind, valueStart: valueStart,
            valueEnd: position, valueHasEscapes: false)
    }

    /// Skips JSON's blanks: space, tab, carriage return, line feed.
    @inlinable @inline(__always)
    mutating func skipBlanks() {
        while position < count {
            let b = bytes[position]
            guard b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A else { return }
            position += 1
        }
    }

    /// After the closing brace: only blanks may follow.
    @inlinable
    mutating func finish() throws(SyntaxError) {
        phase = 2
        skipBlanks()
        guard position == count else { throw SyntaxError(.textAfterObject, at: position) }
    }

    /// Moves past the string whose opening quote is at `position`; returns true when it holds an escape.
    @inlinable @inline(__always)
    mutating func skipString() throws(SyntaxError) -> Bool {
        let start = position
        position += 1
        var escaped = false
        while position < count {
            let b = bytes[position]
            if b == 0x22 {
                position += 1
                return escaped
            }
            if b == 0x5C {
                try skipEscape()
                escaped = true
            } else if b < 0x20 {
                throw SyntaxError(.controlCharacter, at: position)
            } else {
                position += 1
            }
        }
        throw SyntaxError(.unclosedString, at: start)
    }

    /// Moves past the escape whose backslash is at `position`.
    @inlinable
    mutating func skipEscape() throws(SyntaxError) {
        let start = position
        guard position + 1 < count else { throw SyntaxError(.unclosedString, at: start) }
        switch bytes[position + 1] {
        case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74:
            position += 2
        case 0x75:
            guard position + 6 <= count else { throw SyntaxError(.badEscape, at: start) }
            for k in 2..<6 where FlatJSONObject.hexValue(bytes[position + k]) == nil {
                throw SyntaxError(.badEscape, at: start)
            }
            position += 6
        default:
            throw SyntaxError(.badEscape, at: start)
        }
    }

    /// Moves past a number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?` (what follows is the
    /// caller's to check: `026` is the number `0` followed by a `2` where `,` or `}` belongs).
    @inlinable @inline(__always)
    mutating func skipNumber() throws(SyntaxError) {
        let start = position
        @inline(__always) func digits() -> Int {
            let from = position
            while position < count, bytes[position] &- 0x30 < 10 { position += 1 }
            return position - from
        }
        if bytes[position] == 0x2D { position += 1 }
        guard position < count else { throw SyntaxError(.badValue, at: start) }
        if bytes[position] == 0x30 {
            position += 1
        } else if digits() == 0 {
            throw SyntaxError(.badValue, at: start)
        }
        if position < count, bytes[position] == 0x2E {
            position += 1
            guard digits() > 0 else { throw SyntaxError(.badValue, at: start) }
        }
        if position < count, bytes[position] | 0x20 == 0x65 {
            position += 1
            if position < count, bytes[position] == 0x2B || bytes[position] == 0x2D { position += 1 }
            guard digits() > 0 else { throw SyntaxError(.badValue, at: start) }
        }
    }

    /// Moves past `word` (`null`, `true`, `false`).
    @inlinable @inline(__always)
    mutating func skipWord(_ word: StaticString) throws(SyntaxError) {
        let start = position
        let n = word.utf8CodeUnitCount
        guard position + n <= count else { throw SyntaxError(.badValue, at: start) }
        for k in 0..<n where bytes[position + k] != word.utf8Start[k] { throw SyntaxError(.badValue, at: start) }
        position += n
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
