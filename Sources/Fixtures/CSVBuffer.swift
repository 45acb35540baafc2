import ReplayStream

/// A growable byte buffer for CSV text with hand-written number formatting, flushed
/// to a sink in large blocks.
///
/// Formats match what pandas/Python write for KuaiRec: integers in decimal,
/// epoch-second timestamps as Python's float repr of `ms / 1000`, Beijing wall-clock
/// times with the fraction's trailing zeros trimmed, and `watch_ratio` as the shortest
/// round-trip repr (`Double.description`, which equals Python's `repr` for finite
/// doubles in the range used here).
struct CSVBuffer {
    private(set) var bytes: [UInt8]
    let flushThreshold: Int
    /// Total bytes flushed so far plus the bytes still buffered.
    var totalBytes: Int { flushedBytes + bytes.count }
    private var flushedBytes = 0
    private let sink: ((UnsafeRawBufferPointer) throws -> Void)?

    /// - Parameter sink: receives the buffered bytes whenever more than
    ///   `flushThreshold` are pending; `nil` = keep everything in memory.
    init(flushThreshold: Int = 1 << 20, sink: ((UnsafeRawBufferPointer) throws -> Void)?) {
        self.flushThreshold = flushThreshold
        self.sink = sink
        bytes = []
        bytes.reserveCapacity(sink == nil ? 1 << 16 : flushThreshold + 4096)
    }

    @inline(__always)
    mutating func maybeFlush() throws {
        if sink != nil && bytes.count >= flushThreshold { try flush() }
    }

    mutating func flush() throws {
        guard let sink, !bytes.isEmpty else { return }
        try bytes.withUnsafeBytes { try sink($0) }
        flushedBytes += bytes.count
        bytes.removeAll(keepingCapacity: true)
    }

    /// Appends a copy of `bytes[from..<to]` (a line written just before).
    mutating func repeatBytes(from: Int, to: Int) {
        bytes.reserveCapacity(bytes.count + (to - from))
        for i in from..<to { bytes.append(bytes[i]) }
    }

    @inline(__always) mutating func byte(_ b: UInt8) { bytes.append(b) }
    mutating func bytesAppend(_ other: [UInt8]) { bytes.append(contentsOf: other) }
    @inline(__always) mutating func comma() { bytes.append(UInt8(ascii: ",")) }
    @inline(__always) mutating func newline() { bytes.append(UInt8(ascii: "\n")) }

    mutating func text(_ s: String) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }

    mutating func text(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Decimal integer (with '-' for negatives).
    @inline(__always)
    mutating func int(_ value: Int) {
        var v = value
        if v < 0 {
            bytes.append(UInt8(ascii: "-"))
            if v == Int.min { text(String(v).dropFirst().description); return }
            v = -v
        }
        if v < 10 { bytes.append(UInt8(truncatingIfNeeded: 48 + v)); return }
        var tmp: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                  UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &tmp) { p in
            while v > 0 {
                p[19 - n] = UInt8(truncatingIfNeeded: 48 + v % 10)
                v /= 10
                n += 1
            }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: p[(20 - n)...]))
        }
    }

    /// Zero-padded two-digit number.
    @inline(__always)
    mutating func twoDigits(_ v: Int) {
        bytes.append(UInt8(truncatingIfNeeded: 48 + v / 10))
        bytes.append(UInt8(truncatingIfNeeded: 48 + v % 10))
    }

    /// `.f`, `.ff` or `.fff` for 0...999 ms with trailing zeros trimmed; `.0` for 0.
    @inline(__always)
    mutating func millisFraction(_ ms: Int) {
        bytes.append(UInt8(ascii: "."))
        if ms == 0 { bytes.append(UInt8(ascii: "0")); return }
        let d1 = ms / 100, d2 = (ms / 10) % 10, d3 = ms % 10
        bytes.append(UInt8(truncatingIfNeeded: 48 + d1))
        if d2 == 0 && d3 == 0 { return }
        bytes.append(UInt8(truncatingIfNeeded: 48 + d2))
        if d3 == 0 { return }
        bytes.append(UInt8(truncatingIfNeeded: 48 + d3))
    }

    /// Python's `repr(ms / 1000)` for non-negative epoch milliseconds below 2^53/1000
    /// (`1593898068.378`, `1593882025.5`, `1593898068.0`): with at most 16 significant
    /// digits the shortest round-trip form is the exact decimal, trimmed.
    @inline(__always)
    mutating func epochSeconds(milliseconds ms: Int64) {
        let m = Int(ms)
        int(m / 1000)
        millisFraction(m % 1000)
    }

    /// `YYYY-MM-DD HH:MM:SS.fff` (fraction trimmed, `.0` for whole seconds) of epoch
    /// milliseconds shifted to UTC+8 (Beijing wall clock).
    @inline(__always)
    mutating func beijingTime(milliseconds ms: Int64) {
        let local = Int(ms) + 8 * 3_600_000
        let dayNumber = local / 86_400_000
        let msOfDay = local % 86_400_000
        let (y, mo, d) = CalendarDay(rawValue: Int32(dayNumber)).civil
        int(y)
        bytes.append(UInt8(ascii: "-"))
        twoDigits(mo)
        bytes.append(UInt8(ascii: "-"))
        twoDigits(d)
        bytes.append(UInt8(ascii: " "))
        let secondsOfDay = msOfDay / 1000
        twoDigits(secondsOfDay / 3600)
        bytes.append(UInt8(ascii: ":"))
        twoDigits((secondsOfDay / 60) % 60)
        bytes.append(UInt8(ascii: ":"))
        twoDigits(secondsOfDay % 60)
        millisFraction(msOfDay % 1000)
    }

    /// Shortest round-trip repr of a double, as Python's `repr` (e.g. `0.078`,
    /// `1.907377049180328`, `2.0`, `3.1738e-06`).
    @inline(__always)
    mutating func double(_ value: Double) {
        text(value.description)
    }
}
