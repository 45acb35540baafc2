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
        value.write(to: &self)
    }

    /// Appends a number that is integer-valued in the panel (a count held as float64 by pandas) as an
    /// integer, any other as ``appendDouble(_:null:)`` does.
    @inline(__always)
    mutating func appendCount(_ value: Double, null: UnsafeRawBufferPointer) {
        guard value.isFinite else { return append(null) }
        if value == value.rounded(), abs(value) < 9e15 {
            appendInt(Int64(value))
        } else {
            value.write(to: &self)
        }
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
