/// The distinct `video_id`s of one user's open day (`unique_videos`, and the videos the item context joins).
///
/// An open-addressing hash set of `Int32` with linear probing, hand-written because it is on the event loop's
/// path for every row: `Set<Int32>` hashes each insert with SipHash, and its inserts, hashing and resizes take
/// about a seventh of the replay thread's time on KuaiRec's big matrix. Here a video is hashed by one
/// multiplication (Fibonacci hashing: the product's high bits pick the slot).
///
/// Memory: one array of 4-byte slots, a power of two, at most three quarters full (the load `Set` keeps); an
/// empty slot holds `Int32.min`, and that value itself, as a video, is kept in ``holdsMinimum``.
public struct VideoSet: Sendable {
    /// The slots; `Int32.min` marks an empty one. Empty (no storage) until the first insert.
    private var slots: [Int32] = []
    /// The number of distinct videos.
    public private(set) var count = 0
    /// `log2(slots.count)`: the slot of `v` is the top `slotBits` bits of `v * 0x9E3779B9` (as 32 bits). A byte,
    /// beside ``holdsMinimum``: every user's open day has a set, 24 bytes inline.
    private var slotBits: UInt8 = 0
    /// True when `Int32.min`, the empty marker, is a member.
    private var holdsMinimum = false

    /// An empty set.
    public init() {}

    /// The number of videos the set holds before its storage grows.
    public var capacity: Int { slots.count / 4 * 3 }

    /// Adds `video` if it is not a member.
    @inline(__always)
    public mutating func insert(_ video: Int32) {
        if video == .min {
            if !holdsMinimum {
                holdsMinimum = true
                count += 1
            }
            return
        }
        if (count + 1) * 4 > slots.count * 3 { grow() }
        let mask = slots.count - 1
        var i = slot(of: video)
        while true {
            let held = slots[i]
            if held == video { return }
            if held == .min {
                slots[i] = video
                count += 1
                return
            }
            i = (i + 1) & mask
        }
    }

    /// The members in ascending order.
    public func sorted() -> [Int32] {
        var members: [Int32] = []
        members.reserveCapacity(count)
        if holdsMinimum { members.append(.min) }
        for v in slots where v != .min { members.append(v) }
        members.sort()
        return members
    }

    /// Empties the set, keeping its storage when `keepingCapacity`.
    public mutating func removeAll(keepingCapacity: Bool) {
        if keepingCapacity && !slots.isEmpty {
            for i in slots.indices { slots[i] = .min }
        } else {
            slots = []
            slotBits = 0
        }
        holdsMinimum = false
        count = 0
    }

    @inline(__always)
    private func slot(of video: Int32) -> Int {
        Int((UInt32(bitPattern: video) &* 0x9E37_79B9) >> UInt32(32 - Int(slotBits)))
    }

    /// Makes room for `more` members beyond ``count`` at once: the slots grow (at most once) to the size that
    /// many inserts would grow them to, so that the inserts do not grow them step by step.
    public mutating func reserve(_ more: Int) {
        guard more > 0, (count + more) * 4 > slots.count * 3 else { return }
        var bits = max(4, Int(slotBits) + 1)
        while (count + more) * 4 > (1 << bits) * 3 { bits += 1 }
        grow(toBits: bits)
    }

    /// Doubles the slots (16 at first) and puts every member back.
    private mutating func grow() { grow(toBits: max(4, Int(slotBits) + 1)) }

    /// Makes the slots `2^bits` and puts every member back.
    private mutating func grow(toBits bits: Int) {
        let old = slots
        slotBits = UInt8(bits)
        slots = [Int32](repeating: .min, count: 1 << slotBits)
        let mask = slots.count - 1
        for v in old where v != .min {
            var i = slot(of: v)
            while slots[i] != .min { i = (i + 1) & mask }
            slots[i] = v
        }
    }
}

extension VideoSet: ExpressibleByArrayLiteral {
    /// A set of the videos listed (repeats count once).
    public init(arrayLiteral videos: Int32...) {
        for v in videos { insert(v) }
    }
}
