// Seeded pseudo-random numbers for the KuaiRec generator.
//
// Why hand-written: Swift's SystemRandomNumberGenerator cannot be seeded, and the
// standard library gives no guarantee that `Int.random(in:using:)`,
// `Double.random(in:using:)` or `shuffle(using:)` keep their algorithms across
// toolchains or platforms. The generator must give the same CSV bytes for a seed
// everywhere, so everything here uses only integer operations and IEEE-754 basic
// arithmetic (+ - * / sqrt, correctly rounded on every platform). `detLog`/`detExp`
// replace libm's log/exp, whose last bit may differ between glibc, Darwin and musl.
// (The deflate bytes of the archive still depend on the zlib build.)

/// SplitMix64 (Steele, Lea, Flood 2014). Used to expand seeds and to derive
/// independent per-stream seeds (and by tests that need reproducible shuffles).
public struct SplitMix64 {
    var state: UInt64

    /// Starts the sequence at `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A stateless 64-bit mix of several values (for deriving stream seeds).
    static func mix(_ values: UInt64...) -> UInt64 {
        var sm = SplitMix64(seed: 0x5EED_0F_4B_55_A1_2E_C0)
        var h: UInt64 = 0
        for v in values {
            sm.state ^= v &+ h
            h = sm.next()
        }
        return h
    }
}

/// xoshiro256** 1.0 (Blackman, Vigna 2018): fast, 256-bit state, passes BigCrush.
/// Each logical stream (one per user, per video, per table) is seeded independently
/// from (seed, stream tag, index) so the output does not depend on generation order.
struct SeededRandom {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    init(seed: UInt64) {
        var sm = SplitMix64(seed: seed)
        s0 = sm.next(); s1 = sm.next(); s2 = sm.next(); s3 = sm.next()
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }
    }

    /// An independent stream for `(seed, tag, index)`.
    init(seed: UInt64, stream tag: StreamTag, index: Int = 0) {
        self.init(seed: SplitMix64.mix(seed, tag.rawValue, UInt64(bitPattern: Int64(index))))
    }

    @inline(__always)
    mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inline(__always)
    mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Uniform in (0, 1]: safe for logarithms.
    @inline(__always)
    mutating func uniformPositive() -> Double {
        Double((next() >> 11) + 1) * 0x1.0p-53
    }

    /// Uniform in [lo, hi).
    @inline(__always)
    mutating func uniform(_ lo: Double, _ hi: Double) -> Double {
        lo + (hi - lo) * uniform()
    }

    /// Uniform integer in 0..<n (Lemire's multiply-shift with rejection; unbiased).
    @inline(__always)
    mutating func int(below n: Int) -> Int {
        precondition(n > 0)
        let bound = UInt64(n)
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold {
                m = next().multipliedFullWidth(by: bound)
            }
        }
        return Int(m.high)
    }

    /// Uniform integer in the closed range.
    @inline(__always)
    mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + int(below: range.upperBound - range.lowerBound + 1)
    }

    @inline(__always)
    mutating func bernoulli(_ p: Double) -> Bool { uniform() < p }

    /// Standard normal (Marsaglia polar method; only log and sqrt).
    mutating func normal() -> Double {
        while true {
            let u = 2 * uniform() - 1
            let v = 2 * uniform() - 1
            let s = u * u + v * v
            if s > 0 && s < 1 {
                return u * (-2 * detLog(s) / s).squareRoot()
            }
        }
    }

    mutating func normal(mean: Double, sd: Double) -> Double { mean + sd * normal() }

    /// exp(N(mu, sigma)).
    mutating func logNormal(mu: Double, sigma: Double) -> Double { detExp(mu + sigma * normal()) }

    /// Exponential with the given mean.
    mutating func exponential(mean: Double) -> Double { -mean * detLog(uniformPositive()) }

    /// Pareto with scale `xm` and shape `alpha`, truncated to [xm, upper].
    mutating func truncatedPareto(xm: Double, alpha: Double, upper: Double) -> Double {
        let tail = detPow(xm / upper, alpha)
        let u = uniform()
        return xm * detPow(1 - u * (1 - tail), -1 / alpha)
    }

    /// Poisson (Knuth's product method for small means, rounded normal otherwise).
    mutating func poisson(mean: Double) -> Int {
        if mean <= 0 { return 0 }
        if mean < 30 {
            let limit = detExp(-mean)
            var k = 0
            var p = uniform()
            while p > limit { k += 1; p *= uniform() }
            return k
        }
        return max(0, Int((mean + mean.squareRoot() * normal()).rounded()))
    }

    /// Fisher-Yates shuffle with this generator.
    mutating func shuffle<T>(_ a: inout [T]) {
        var i = a.count - 1
        while i > 0 {
            let j = int(below: i + 1)
            if i != j { a.swapAt(i, j) }
            i -= 1
        }
    }

    /// `k` distinct values from 0..<n, sorted ascending (partial Fisher-Yates).
    mutating func sample(_ k: Int, from n: Int) -> [Int] {
        precondition(k <= n)
        var pool = Array(0..<n)
        for i in 0..<k {
            let j = i + int(below: n - i)
            pool.swapAt(i, j)
        }
        return Array(pool[0..<k]).sorted()
    }
}

/// Stream tags (arbitrary distinct constants) so that streams never overlap.
enum StreamTag: UInt64 {
    case ids = 1, videos, userProfile, smallUser, bigUser, userFeatures, itemCategories,
         itemDaily, social, captions, rawCategories, popularity
}

// MARK: - Deterministic elementary functions

private let ln2Hi = 6.931_471_803_691_238_164_90e-01 // 0x3FE62E42FEE00000
private let ln2Lo = 1.908_214_929_270_587_700_02e-10 // 0x3DEA39EF35793C76

/// Natural logarithm using only IEEE basic operations (accurate to a few ulps).
func detLog(_ x: Double) -> Double {
    precondition(x > 0 && x.isFinite, "detLog domain")
    var m = x
    var e = 0
    // Normalise subnormals.
    if m < 0x1p-1022 { m *= 0x1p54; e -= 54 }
    let bits = m.bitPattern
    e += Int((bits >> 52) & 0x7FF) - 1023
    m = Double(bitPattern: (bits & 0x000F_FFFF_FFFF_FFFF) | 0x3FF0_0000_0000_0000) // [1, 2)
    if m > 1.414_213_562_373_095_1 { m *= 0.5; e += 1 }
    let s = (m - 1) / (m + 1)
    let s2 = s * s
    // 2*atanh(s) = 2(s + s^3/3 + s^5/5 + ...), |s| <= 0.1716.
    var poly = 1.0 / 23.0
    poly = poly * s2 + 1.0 / 21.0
    poly = poly * s2 + 1.0 / 19.0
    poly = poly * s2 + 1.0 / 17.0
    poly = poly * s2 + 1.0 / 15.0
    poly = poly * s2 + 1.0 / 13.0
    poly = poly * s2 + 1.0 / 11.0
    poly = poly * s2 + 1.0 / 9.0
    poly = poly * s2 + 1.0 / 7.0
    poly = poly * s2 + 1.0 / 5.0
    poly = poly * s2 + 1.0 / 3.0
    let logm = 2 * s + 2 * s * s2 * poly
    let de = Double(e)
    return de * ln2Hi + (logm + de * ln2Lo)
}

/// e^x using only IEEE basic operations (accurate to a few ulps; clamps far out of range).
func detExp(_ x: Double) -> Double {
    if x > 709 { return .infinity }
    if x < -745 { return 0 }
    let k = (x * 1.442_695_040_888_963_4).rounded()
    let r = (x - k * ln2Hi) - k * ln2Lo
    // Taylor series to r^14, |r| <= 0.347.
    var p = 1.0 / 87_178_291_200.0
    p = p * r + 1.0 / 6_227_020_800.0
    p = p * r + 1.0 / 479_001_600.0
    p = p * r + 1.0 / 39_916_800.0
    p = p * r + 1.0 / 3_628_800.0
    p = p * r + 1.0 / 362_880.0
    p = p * r + 1.0 / 40_320.0
    p = p * r + 1.0 / 5_040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    // Scale by 2^k in two steps to stay in the normal range.
    let ki = Int(k)
    let k1 = ki / 2
    let k2 = ki - k1
    return p * Double(bitPattern: UInt64(1023 + k1) << 52) * Double(bitPattern: UInt64(1023 + k2) << 52)
}

/// x^y for x > 0.
func detPow(_ x: Double, _ y: Double) -> Double { detExp(y * detLog(x)) }
