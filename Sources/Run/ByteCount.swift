/// A positive number of bytes, written `1000`, `500K`, `64M`, `2G` or `1T` (binary multiples; the unit's
/// letter in either case).
public struct ByteCount: Hashable, Sendable, CustomStringConvertible {
    /// The number of bytes (at least 1).
    public let bytes: Int64

    private static let units: [(letter: Character, scale: Int64)] = [
        ("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10),
    ]

    /// `bytes` bytes; nil unless positive.
    public init?(bytes: Int64) {
        guard bytes > 0 else { return nil }
        self.bytes = bytes
    }

    /// Parses the written form; nil unless it is a positive count that fits in 64 bits.
    public init?(_ text: String) {
        var digits = Substring(text)
        var scale: Int64 = 1
        if let last = digits.last?.uppercased().first, let unit = ByteCount.units.first(where: { $0.letter == last }) {
            scale = unit.scale
            digits = digits.dropLast()
        }
        guard let n = Int64(digits) else { return nil }
        let (product, overflow) = n.multipliedReportingOverflow(by: scale)
        guard !overflow else { return nil }
        self.init(bytes: product)
    }

    /// A size for people to read: `512 bytes`, `1.5 KiB`, `95.3 MiB`, `2.91 GiB` (three significant digits,
    /// binary units). Exact counts belong in JSON.
    public static func human(_ bytes: Int64) -> String {
        if bytes < 1024 { return bytes == 1 ? "1 byte" : "\(bytes) bytes" }
        var value = Double(bytes)
        var unit = "bytes"
        for name in ["KiB", "MiB", "GiB", "TiB", "PiB"] where value >= 1024 {
            value /= 1024
            unit = name
        }
        let digits = value >= 100 ? 0 : value >= 10 ? 1 : 2
        return String(format: "%.\(digits)f \(unit)", value)
    }

    /// The count in the largest unit that divides it (`64G`, `1000`).
    public var description: String {
        for unit in ByteCount.units where bytes % unit.scale == 0 { return "\(bytes / unit.scale)\(unit.letter)" }
        return "\(bytes)"
    }
}
