/// Puts one day's events in replay order (``Interaction/replayPrecedes(_:_:_:_:)``: timestamp, user, video,
/// file order) in place.
///
/// Hand-written because it is the event loop's largest single cost: a comparison sort of a permutation
/// through a closure that reads two 40-byte events per comparison takes about a quarter of the replay
/// thread's time on KuaiRec's big matrix. Here each event gets one 64-bit key, its timestamp's offset from the
/// day's earliest above its position in the file, and the keys are sorted as plain integers (no closure, 8
/// bytes each, by radix). Keys are unique, so their order is a strict total order; it equals replay order except among
/// events with the same timestamp, which come out in file order and are then ordered by (user, video, file
/// order) within their run (runs are short: timestamps are milliseconds). A day whose timestamps span more
/// than the key leaves room for (a row without a timestamp, `Int64.max`, does) takes the comparison sort.
///
/// Memory: the keys (8 bytes an event, kept by the caller for the next day), sorted in place (an American
/// flag radix sort); the permutation is applied in place (``sort(_:keys:)``), or kept as the day's order and
/// the events gathered along it a chunk at a time (``order(of:into:)``, ``gather(_:order:_:into:)``): faster, since
/// the in-place permutation's loads each wait for the one before (its cycles are a chain of cache misses, ~0.7 s
/// of the event loop's CPU on KuaiRec's big matrix) where a gather's loads are independent and in flight together.
enum ReplayOrderSort {
    /// The order of `events` that `kind` names (``DayEventOrder``): `order[i]` becomes the position in `events` of the
    /// i-th event played; `order` is left empty when that is the file order (the events are played as they are).
    static func order(of events: [Interaction], by kind: DayEventOrder, into order: inout [UInt64]) {
        switch kind {
        case .time: self.order(of: events, into: &order)
        case .user: userOrder(of: events, into: &order)
        }
    }

    /// The user order of `events` (``DayEventOrder/user``: user, then timestamp, video and file order) in `order`,
    /// left empty when the file order is that order already. A log sorted by user and each user's rows by time (as
    /// KuaiRec's matrices are) is checked in one pass; a user's rows out of order are ordered among themselves, and
    /// a day where a user's rows are not together, or users do not ascend, takes the comparison sort.
    static func userOrder(of events: [Interaction], into order: inout [UInt64]) {
        let count = events.count
        var fileOrderHolds = true
        events.withUnsafeBufferPointer { ev in
            var start = 0
            while start < count {
                let user = ev[start].userID
                if start > 0 && ev[start - 1].userID > user {
                    fileOrderHolds = false
                    userComparisonOrder(ev, into: &order)
                    return
                }
                var end = start + 1
                var userRowsInOrder = true
                while end < count && ev[end].userID == user {
                    let a = ev[end - 1], b = ev[end]
                    if a.timestampMs > b.timestampMs || (a.timestampMs == b.timestampMs && a.videoID > b.videoID) {
                        userRowsInOrder = false
                    }
                    end += 1
                }
                if !userRowsInOrder {
                    if fileOrderHolds {
                        fileOrderHolds = false
                        DayBuckets.resize(&order, to: count, filler: 0)
                        order.withUnsafeMutableBufferPointer { o in for i in 0..<count { o[i] = UInt64(i) } }
                    }
                    order.withUnsafeMutableBufferPointer { o in
                        var userRows = UnsafeMutableBufferPointer(rebasing: o[start..<end])
                        userRows.sort { (a: UInt64, b: UInt64) -> Bool in
                            Interaction.userPrecedes(ev[Int(a)], Int(a), ev[Int(b)], Int(b))
                        }
                    }
                }
                start = end
            }
        }
        if fileOrderHolds { order.removeAll(keepingCapacity: true) }
    }

    /// The user order by comparisons, for a day whose rows are not grouped by ascending user.
    private static func userComparisonOrder(_ ev: UnsafeBufferPointer<Interaction>, into order: inout [UInt64]) {
        DayBuckets.resize(&order, to: ev.count, filler: 0)
        order.withUnsafeMutableBufferPointer { o in
            for i in 0..<ev.count { o[i] = UInt64(i) }
            o.sort { a, b in Interaction.userPrecedes(ev[Int(a)], Int(a), ev[Int(b)], Int(b)) }
        }
    }

    /// Sorts `events` into replay order; `keys` is scratch, reused across calls when large enough.
    static func sort(_ events: inout [Interaction], keys: inout [UInt64]) {
        guard events.count > 1 else { return }
        order(events, into: &keys)
        apply(&keys, to: &events)
    }

    /// The replay order of `events` (left as they are): `order[i]` becomes the position in `events` of the i-th
    /// event in replay order (`order` has `events.count` elements after; its buffer is reused when large enough).
    static func order(of events: [Interaction], into order: inout [UInt64]) {
        guard events.count > 1 else {
            DayBuckets.resize(&order, to: events.count, filler: 0)
            if events.count == 1 { order[0] = 0 }
            return
        }
        self.order(events, into: &order)
    }

    /// Gathers the events at `positions` of `order` (``order(of:into:)``) from `events` into the start of `chunk`,
    /// after the events just before them in replay order that equal the first of them in timestamp, user and
    /// video: what ``Interaction/isExactDuplicateOfEarlier(_:at:)`` looks back through, so that the chunk answers
    /// it as the whole day would. Returns where in `chunk` the events at `positions` are; `chunk` grows when it
    /// is too short and never shrinks (its elements past what this call gathered are left as they were).
    static func gather(
        _ events: [Interaction], order: [UInt64], _ positions: Range<Int>, into chunk: inout [Interaction]
    ) -> Range<Int> {
        guard !positions.isEmpty else { return 0..<0 }
        return events.withUnsafeBufferPointer { ev in
            order.withUnsafeBufferPointer { order in
                let first = ev[Int(order[positions.lowerBound])]
                var start = positions.lowerBound
                while start > 0 {
                    guard ev[Int(order[start - 1])].sharesReplayKey(with: first) else { break }
                    start -= 1
                }
                let count = positions.upperBound - start
                if chunk.count < count {
                    chunk.append(contentsOf: repeatElement(DayBuckets.zeroEvent, count: count - chunk.count))
                }
                // Each load is independent of the others, so they are in flight together.
                chunk.withUnsafeMutableBufferPointer { to in
                    for i in 0..<count { to[i] = ev[Int(order[start + i])] }
                }
                return (positions.lowerBound - start)..<(positions.upperBound - start)
            }
        }
    }

    /// The replay order of `events` (at least two): `keys[i]` becomes the position in `events` of the i-th
    /// event in replay order (`keys` has `events.count` elements after).
    private static func order(_ events: [Interaction], into keys: inout [UInt64]) {
        let count = events.count
        let indexBits = UInt64.bitWidth - UInt64(count - 1).leadingZeroBitCount
        let fits = events.withUnsafeBufferPointer { ev -> Bool in
            var low = ev[0].timestampMs, high = low
            for e in ev {
                low = min(low, e.timestampMs)
                high = max(high, e.timestampMs)
            }
            let span = UInt64(bitPattern: high &- low)
            guard UInt64.bitWidth - span.leadingZeroBitCount + indexBits <= UInt64.bitWidth else { return false }
            DayBuckets.resize(&keys, to: count, filler: 0)
            keys.withUnsafeMutableBufferPointer { k in
                for i in 0..<count { k[i] = UInt64(bitPattern: ev[i].timestampMs &- low) << indexBits | UInt64(i) }
            }
            return true
        }
        guard fits else {
            comparisonOrder(events, into: &keys)
            return
        }
        keys.withUnsafeMutableBufferPointer { k in
            let keyBits = UInt64.bitWidth - (k.max() ?? 0).leadingZeroBitCount
            radixSort(k, digitShift: max(0, keyBits - radixBits))
            let mask = UInt64(1) << indexBits &- 1
            events.withUnsafeBufferPointer { ev in orderTies(k, ev, indexBits: indexBits, mask: mask) }
            for i in 0..<count { k[i] &= mask }
        }
    }

    /// Bits of one radix digit.
    private static let radixBits = 8
    /// Ranges at most this long are sorted by insertion.
    private static let insertionSortLength = 48

    /// Sorts `keys` (unique) in place, most significant digit first (American flag sort): the digit at
    /// `digitShift` splits the range into 256 buckets by swapping each key into its bucket, then each bucket is
    /// sorted by the next digit down. No scratch beyond the 256 counts on the stack: the standard library's
    /// sort would allocate half the keys again, at the day's largest moment of memory (its sort).
    private static func radixSort(_ keys: UnsafeMutableBufferPointer<UInt64>, digitShift: Int) {
        if keys.count <= insertionSortLength {
            insertionSort(keys)
            return
        }
        let digitMask = UInt64(1) << radixBits - 1
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 << radixBits) { offsets in
            let buckets = 1 << radixBits
            for b in 0..<(2 * buckets) { offsets[b] = 0 }
            // offsets[b]: bucket b's next free slot; offsets[buckets + b]: its end.
            for key in keys { offsets[Int(key >> UInt64(digitShift) & digitMask)] += 1 }
            var start = 0
            for b in 0..<buckets {
                let size = offsets[b]
                offsets[b] = start
                start += size
                offsets[buckets + b] = start
            }
            for b in 0..<buckets {
                while offsets[b] < offsets[buckets + b] {
                    var key = keys[offsets[b]]
                    var digit = Int(key >> UInt64(digitShift) & digitMask)
                    // Carry the key to its bucket, taking the one there, until one belongs in bucket b.
                    while digit != b {
                        swap(&key, &keys[offsets[digit]])
                        offsets[digit] += 1
                        digit = Int(key >> UInt64(digitShift) & digitMask)
                    }
                    keys[offsets[b]] = key
                    offsets[b] += 1
                }
            }
            guard digitShift > 0 else { return }
            var low = 0
            for b in 0..<buckets {
                let high = offsets[buckets + b]
                if high - low > 1 {
                    radixSort(
                        UnsafeMutableBufferPointer(rebasing: keys[low..<high]), digitShift: max(0, digitShift - radixBits))
                }
                low = high
            }
        }
    }

    private static func insertionSort(_ keys: UnsafeMutableBufferPointer<UInt64>) {
        guard keys.count > 1 else { return }
        for i in 1..<keys.count {
            let key = keys[i]
            var j = i
            while j > 0, keys[j - 1] > key {
                keys[j] = keys[j - 1]
                j -= 1
            }
            keys[j] = key
        }
    }

    /// Orders each run of keys with the same timestamp (file order now) by (user, video, file order).
    private static func orderTies(
        _ keys: UnsafeMutableBufferPointer<UInt64>, _ ev: UnsafeBufferPointer<Interaction>, indexBits: Int, mask: UInt64
    ) {
        var start = 0
        while start < keys.count {
            var end = start + 1
            let stamp = keys[start] >> indexBits
            while end < keys.count, keys[end] >> indexBits == stamp { end += 1 }
            if end - start > 1 {
                // Keys within a run differ only in their position, so comparing the keys breaks the last tie.
                keys[start..<end].sort { a, b in
                    let x = ev[Int(a & mask)], y = ev[Int(b & mask)]
                    if x.userID != y.userID { return x.userID < y.userID }
                    if x.videoID != y.videoID { return x.videoID < y.videoID }
                    return a < b
                }
            }
            start = end
        }
    }

    /// The order for days whose timestamps do not fit a key: a permutation ordered by
    /// ``Interaction/replayPrecedes(_:_:_:_:)``, held in `keys`.
    private static func comparisonOrder(_ events: [Interaction], into keys: inout [UInt64]) {
        let count = events.count
        DayBuckets.resize(&keys, to: count, filler: 0)
        keys.withUnsafeMutableBufferPointer { k in
            for i in 0..<count { k[i] = UInt64(i) }
            events.withUnsafeBufferPointer { ev in
                k.sort { a, b in Interaction.replayPrecedes(ev[Int(a)], Int(a), ev[Int(b)], Int(b)) }
            }
        }
    }

    /// `events[i]` becomes `events[order[i]]`, one cycle of the permutation at a time; `order[j] = j` marks a
    /// slot that holds its event (`order` ends as the identity).
    private static func apply(_ order: inout [UInt64], to events: inout [Interaction]) {
        let count = events.count
        events.withUnsafeMutableBufferPointer { ev in
            order.withUnsafeMutableBufferPointer { order in
                for start in 0..<count where order[start] != UInt64(start) {
                    let first = ev[start]
                    var j = start
                    while true {
                        let k = Int(order[j])
                        order[j] = UInt64(j)
                        if k == start {
                            ev[j] = first
                            break
                        }
                        ev[j] = ev[k]
                        j = k
                    }
                }
            }
        }
    }
}

/// The order the archive driver plays a day's events in. Both give every user-day the same aggregates, byte for
/// byte: a user's fold sees only that user's events, and they come in the same order in both (timestamp, video,
/// file order; ``Interaction/replayPrecedes(_:_:_:_:)`` and ``Interaction/userPrecedes(_:_:_:_:)``). Records are
/// written when a day closes, so the output does not depend on the order either; a checkpoint taken inside a day
/// records the order its ``ReplayProgress/dayEventOffset`` counts in (``ReplayProgress/dayEventOrder``).
public enum DayEventOrder: String, Sendable, Codable {
    /// Replay order: timestamp, user, video, file order, as a live feed would bring them. A paced replay
    /// (`--speed`) plays in it, each event at its time.
    case time
    /// User by user (user, timestamp, video, file order): one user's state stays in the cache while its events
    /// are folded, where in time order each event's user is another than the last's. An unpaced replay plays in it.
    case user
}
