/// Writes a line's bytes into memory its owner has sized for the whole line, with no capacity check or call per
/// value. Hand-written for speed: a panel line is ~120 small appends (a key, a value), and through `[UInt8]`
/// each one checked uniqueness and capacity and called `memmove` for a few bytes (a third of the render
/// thread's samples in perf, with CSV every revision); here a copy of up to 32 bytes is a few loads and stores.
///
/// Invariant (the owner's): the memory from ``start`` holds at least as many bytes as are appended before the
/// line is taken (``PanelLinesSink`` sizes it from the record's upper bound: a revision's line in the output
/// buffer's spare capacity, the constant parts in a ``LineScratch``); debug builds check every append against
/// ``capacity``.
struct LineCursor: TextOutputStream {
    /// Where the line starts.
    let start: UnsafeMutableRawPointer
    /// The bytes the memory holds.
    let capacity: Int
    /// The bytes appended so far.
    private(set) var count = 0

    init(_ memory: UnsafeMutableRawBufferPointer) {
        start = memory.baseAddress!
        capacity = memory.count
    }

    /// The bytes appended so far.
    var written: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: start, count: count) }

    /// Sets the byte `offset` bytes into what was appended.
    @inline(__always)
    mutating func set(_ byte: UInt8, at offset: Int) {
        assert(offset < count, "LineCursor: set past what was appended")
        start.storeBytes(of: byte, toByteOffset: offset, as: UInt8.self)
    }

    /// Starts the line again (the bytes written are taken).
    mutating func reset() { count = 0 }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        assert(count < capacity, "LineCursor: the line is longer than its memory")
        start.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        assert(count + n <= capacity, "LineCursor: the line is longer than its memory")
        guard n > 0 else { return }
        LineCursor.copy(start + count, bytes.baseAddress!, n)
        count += n
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) { append(UnsafeRawBufferPointer(bytes)) }

    /// Copies `n` (> 0) bytes: up to 32 as overlapping unaligned words (the first and the last word cover the
    /// middle), more through `memcpy`.
    @inline(__always)
    private static func copy(_ to: UnsafeMutableRawPointer, _ from: UnsafeRawPointer, _ n: Int) {
        @inline(__always) func word<T: FixedWidthInteger>(_ at: Int, _: T.Type) {
            to.storeBytes(of: from.loadUnaligned(fromByteOffset: at, as: T.self), toByteOffset: at, as: T.self)
        }
        switch n {
        case 17...32:
            word(0, UInt64.self); word(8, UInt64.self)
            word(n - 16, UInt64.self); word(n - 8, UInt64.self)
        case 8...16:
            word(0, UInt64.self); word(n - 8, UInt64.self)
        case 4..<8:
            word(0, UInt32.self); word(n - 4, UInt32.self)
        case 2..<4:
            word(0, UInt16.self); word(n - 2, UInt16.self)
        case 1:
            word(0, UInt8.self)
        default:
            to.copyMemory(from: from, byteCount: n)
        }
    }

    /// Appends a decimal integer.
    @inline(__always)
    mutating func appendInt(_ value: Int64) {
        if value < 0 { append(0x2D) }
        var v = value.magnitude
        var digits = 1
        var power: UInt64 = 10
        while digits < 20, v >= power {
            digits += 1
            power = power &* 10
        }
        assert(count + digits <= capacity, "LineCursor: the line is longer than its memory")
        var at = count + digits
        repeat {
            at -= 1
            start.storeBytes(of: UInt8(truncatingIfNeeded: v % 10) &+ 0x30, toByteOffset: at, as: UInt8.self)
            v /= 10
        } while v > 0
        count += digits
    }

    /// Appends a double in its shortest round-trip form (`description`'s text), or `null` for NaN and infinities.
    @inline(__always)
    mutating func appendDouble(_ value: Double, null: UnsafeRawBufferPointer) {
        guard value.isFinite else { return append(null) }
        if appendShortDecimal(value) { return }
        value.write(to: &self)
    }

    /// Appends a number that is integer-valued in the panel (a count held as float64 by pandas) as an
    /// integer, any other as ``appendDouble(_:null:)`` does.
    @inline(__always)
    mutating func appendCount(_ value: Double, null: UnsafeRawBufferPointer) {
        guard value.isFinite else { return append(null) }
        let magnitude = value.magnitude
        // Integer-valued: below 2^52 the value equals itself rounded to an integer (the sum and difference
        // with 2^52 round it, to nearest even); from 2^52 on every double is an integer.
        if magnitude < 9e15, magnitude >= Self.twoTo52 || (magnitude + Self.twoTo52) - Self.twoTo52 == magnitude {
            appendInt(Int64(value))
        } else if !appendShortDecimal(value) {
            value.write(to: &self)
        }
    }

    /// 2^52: a double at least this large is an integer, and adding it to a smaller non-negative one rounds
    /// that to an integer (to nearest even).
    static let twoTo52 = 4_503_599_627_370_496.0

    /// Appends finite `value` in its shortest round-trip form and returns true when that form has at most six
    /// digits after the point and `value` is zero or between 1e-4 and 2^31 in magnitude (where `description`
    /// writes plain digits, never an exponent); else appends nothing and returns false.
    ///
    /// Hand-written for speed: most of the panel's floats (seconds of play, shares, averages of a few values) have
    /// a few decimals, and Swift's general shortest-digits search (`_Float64ToASCII`) is the render's largest
    /// function when every float goes through it. Why the text is `description`'s: with `k = |value| × 10^6` rounded to an integer, the decimal
    /// D = k / 10^6 parses back to `value` exactly when the one correctly rounded division `k / 10^6` gives
    /// `|value|`. Below 2^31 the decimals that parse back to `value` lie in an interval narrower than
    /// 2^-22 < 10^-6, so every other one differs from D past its sixth decimal (D is a multiple of 10^-6 and no
    /// other is that close) and has more significant digits: D without its trailing zeros is the shortest
    /// round-trip text, the one `description` writes. `DoubleTextTests` checks it against `description`.
    @inline(__always)
    mutating func appendShortDecimal(_ value: Double) -> Bool {
        let magnitude = value.magnitude
        var k: UInt64 = 0
        if magnitude != 0 {
            guard magnitude >= 1e-4, magnitude < 2_147_483_648 else { return false }
            // Below 2^52, so the sum and difference with 2^52 round it to an integer (to nearest even).
            let scaled = (magnitude * 1e6 + Self.twoTo52) - Self.twoTo52
            guard scaled / 1e6 == magnitude else { return false }
            k = UInt64(scaled)
        }
        if value.sign == .minus { append(0x2D) }
        appendInt(Int64(k / 1_000_000))
        append(0x2E)
        var fraction = k % 1_000_000
        guard fraction != 0 else {
            append(0x30)
            return true
        }
        var digits = 6
        while fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        assert(count + digits <= capacity, "LineCursor: the line is longer than its memory")
        var at = count + digits
        for _ in 0..<digits {
            at -= 1
            start.storeBytes(of: UInt8(truncatingIfNeeded: fraction % 10) &+ 0x30, toByteOffset: at, as: UInt8.self)
            fraction /= 10
        }
        count += digits
        return true
    }

    /// The longest text ``appendInt(_:)``, ``appendDouble(_:null:)`` or ``appendCount(_:null:)`` writes
    /// (`-2.2250738585072014e-308` is 24 bytes; a null passed is at most this long).
    static let maxNumberBytes = 32

    // TextOutputStream: `Double.write(to:)` hands its digits to `_writeASCII`.
    mutating func write(_ string: String) {
        var string = string
        string.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) { append(buffer) }
}

/// The memory a sink renders parts of its lines in (a record's constant parts): allocated once, grown when a
/// part's upper bound exceeds it, freed with its owner.
final class LineScratch {
    private var memory: UnsafeMutableRawBufferPointer

    init(bytes: Int = 16 << 10) {
        memory = .allocate(byteCount: bytes, alignment: 16)
    }

    deinit { memory.deallocate() }

    /// A cursor over memory of at least `bytes` bytes; valid until the next call.
    func cursor(atLeast bytes: Int) -> LineCursor {
        if memory.count < bytes {
            memory.deallocate()
            memory = .allocate(byteCount: max(bytes, 2 * memory.count), alignment: 16)
        }
        return LineCursor(memory)
    }
}
