/// A running digest of the data rows a live feed consumed: FNV-1a over each row's bytes, with the row's
/// length folded in after it (so rows cut differently never digest alike). Kept with every checkpoint, it lets
/// a resumed feed tell a feed re-sent from its start (its first row digests as the stored first row, and its
/// first N rows as the stored N) from one that continues where it stopped.
public struct RowDigest: Sendable, Equatable {
    /// The digest so far.
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    /// The digest of one row alone.
    public static func of(_ row: UnsafeRawBufferPointer) -> UInt64 {
        var digest = RowDigest()
        digest.add(row)
        return digest.value
    }

    /// Goes on from a stored digest.
    public mutating func restore(_ stored: UInt64) { value = stored }

    /// Folds in one row (its bytes without the line end).
    public mutating func add(_ row: UnsafeRawBufferPointer) {
        var h = value
        for b in row { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        h = (h ^ UInt64(row.count)) &* 0x100_0000_01b3
        value = h
    }
}

/// Why a resumed live feed refuses its input: it would count rows twice or drop them.
public struct FeedPositionError: Error, CustomStringConvertible, Sendable {
    /// What does not match.
    public enum Kind: Sendable, Equatable {
        /// `--skip-rows` names another count than the rows consumed.
        case skipRowsMismatch(given: Int, consumed: Int)
        /// The feed was re-sent from its start, but its first `consumed` rows differ from the ones consumed.
        case resentFeedDiffers(consumed: Int)
        /// Rows arrived at a feed whose input already ended.
        case feedEnded(consumed: Int)
    }

    /// What does not match.
    public var kind: Kind

    public init(_ kind: Kind) { self.kind = kind }

    /// The facts (the command line adds what to do).
    public var description: String {
        switch kind {
        case .skipRowsMismatch(let given, let consumed):
            return "the feed's state has consumed \(consumed) rows, not \(given): skipping \(given) would "
                + (given > consumed ? "drop \(given - consumed) rows it never read" : "read \(consumed - given) rows twice")
        case .resentFeedDiffers(let consumed):
            return "the input starts like the feed's first row, but its first \(consumed) rows are not the \(consumed) rows the feed consumed"
        case .feedEnded(let consumed):
            return "this live feed already ended (its input was read to the end after \(consumed) rows), and more rows arrived"
        }
    }
}
