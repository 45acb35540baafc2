/// Decimal text (`[digits][.digits]`, no sign, no exponent) to the nearest `Double`, the value `strtod`
/// returns, without calling it.
///
/// Hand-written because `strtod` (glibc's multi-precision path) costs a tenth of the ingest pass's parse
/// thread: KuaiRec's `watch_ratio` has 16-17 significant digits, past Clinger's fast path. Two exact
/// methods are tried in turn; where neither can decide, the caller falls back to `strtod`:
/// - Clinger's fast path: a mantissa below 2^53 and at most 22 fraction digits make `mantissa / 10^k`
///   one correctly rounded IEEE division of two exact doubles.
/// - The Eisel-Lemire algorithm (Lemire, "Number Parsing at a Gigabyte per Second", 2021; the
///   `fast_float` library's `compute_float`): a mantissa of up to 19 digits times a 128-bit
///   approximation of the power of ten, rounded to nearest-even; it reports (here: nil) the rare
///   products too close to a rounding boundary to decide, and subnormal results are left to `strtod`.
enum DecimalParsing {
    /// The value of `bytes`, or nil when the text is not `[digits][.digits]` with at least one digit,
    /// has more than 19 significant digits, or falls where the fast methods cannot decide.
    @inline(__always)
    static func parse(_ bytes: UnsafeRawBufferPointer) -> Double? {
        let n = bytes.count
        guard n > 0, n <= 64, let base = bytes.baseAddress else { return nil }
        var mantissa: UInt64 = 0
        var i = 0
        while i < n {
            let d = base.load(fromByteOffset: i, as: UInt8.self) &- 0x30
            guard d <= 9 else { break }
            mantissa = mantissa &* 10 &+ UInt64(d)
            i += 1
        }
        var digits = i
        var fractionDigits = 0
        if i < n {
            guard base.load(fromByteOffset: i, as: UInt8.self) == 0x2E else { return nil }
            i += 1
            while i + 8 <= n {
                let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                guard isEightDigits(word) else { break }
                mantissa = mantissa &* 100_000_000 &+ eightDigitsValue(word)
                i += 8
                fractionDigits += 8
            }
            while i < n {
                let d = base.load(fromByteOffset: i, as: UInt8.self) &- 0x30
                guard d <= 9 else { return nil }
                mantissa = mantissa &* 10 &+ UInt64(d)
                fractionDigits += 1
                i += 1
            }
            digits += fractionDigits
        }
        guard digits > 0 else { return nil }
        // Past 19 digits the mantissa may have wrapped: count the significant ones.
        if digits > 19 { return parseLong(base.assumingMemoryBound(to: UInt8.self), count: n) }
        return value(mantissa: mantissa, fractionDigits: fractionDigits)
    }

    /// `mantissa / 10^fractionDigits` (the mantissa exact), or nil when undecidable here.
    @inline(__always)
    private static func value(mantissa: UInt64, fractionDigits: Int) -> Double? {
        if mantissa == 0 { return 0 }
        if mantissa < 1 << 53 && fractionDigits <= 22 {
            return Double(mantissa) / exactPowersOfTen[fractionDigits]
        }
        return eiselLemire(mantissa: mantissa, power: -fractionDigits)
    }

    /// ``parse(_:)`` for a text of more than 19 digits (leading zeros counted), which is decided here only
    /// when at most 19 of them are significant. The text is known to be `[digits][.digits]`.
    private static func parseLong(_ base: UnsafePointer<UInt8>, count n: Int) -> Double? {
        var mantissa: UInt64 = 0
        var significant = 0
        var fractionDigits = 0
        var seenDot = false
        for i in 0..<n {
            let b = base[i]
            if b == 0x2E {
                seenDot = true
                continue
            }
            if significant > 0 || b != 0x30 { significant += 1 }
            if significant > 19 { return nil }
            mantissa = mantissa &* 10 &+ UInt64(b &- 0x30)
            if seenDot { fractionDigits += 1 }
        }
        return value(mantissa: mantissa, fractionDigits: fractionDigits)
    }

    /// True when all eight bytes of `word` are ASCII digits.
    @inline(__always)
    static func isEightDigits(_ word: UInt64) -> Bool {
        ((word &+ 0x4646_4646_4646_4646) | (word &- 0x3030_3030_3030_3030)) & 0x8080_8080_8080_8080 == 0
    }

    /// The number written by eight ASCII digits (the first in the lowest byte), in three multiplications.
    @inline(__always)
    static func eightDigitsValue(_ word: UInt64) -> UInt64 {
        var v = word &- 0x3030_3030_3030_3030
        v = (v &* 10) &+ (v >> 8)
        let mask: UInt64 = 0x0000_00FF_0000_00FF
        v = (((v & mask) &* 0x000F_4240_0000_0064) &+ (((v >> 16) & mask) &* 0x0000_2710_0000_0001)) >> 32
        return v & 0xFFFF_FFFF
    }

    /// Powers of ten that are exact doubles (10^0 ... 10^22). Written out: an array of literals is laid out by the
    /// compiler, where one computed at first use is reached through `swift_once` on every call of ``parse(_:)``
    /// (12.7 million calls on the big matrix). `DecimalParsingTests` checks each against the product of tens.
    static let exactPowersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
        1e20, 1e21, 1e22,
    ]

    /// `mantissa × 10^power` (mantissa nonzero, exact), correctly rounded; nil when undecidable here.
    @inline(__always)
    static func eiselLemire(mantissa w: UInt64, power q: Int) -> Double? {
        guard q >= smallestPower, q <= largestPower else { return nil }
        let index = 2 * (q - smallestPower)
        let lz = w.leadingZeroBitCount
        let normalized = w << UInt64(lz)
        var (high, low) = normalized.multipliedFullWidth(by: powersOfFive[index])
        // 55 bits of precision are needed: refine with the table's low word when the rest of `high` is all ones.
        if high & 0x1FF == 0x1FF {
            let second = normalized.multipliedFullWidth(by: powersOfFive[index + 1]).high
            let (sum, carry) = low.addingReportingOverflow(second)
            low = sum
            if carry { high &+= 1 }
        }
        // The product may be off by one in its last bit: too close to a boundary to decide.
        if low == .max { return nil }
        let upperBit = Int(high >> 63)
        let shift = UInt64(upperBit + 64 - 52 - 3)
        var result = high >> shift
        var power2 = (((152_170 + 65_536) * q) >> 16) + 63 + upperBit - lz + 1023
        if power2 <= 0 { return nil }  // subnormal
        // An exact halfway case (possible only for these powers) rounds to even.
        if low <= 1 && q >= -4 && q <= 23 && result & 3 == 1 && (result << shift) == high {
            result &= ~1
        }
        result += result & 1
        result >>= 1
        if result >= 2 << 52 {
            result = 1 << 52
            power2 += 1
        }
        result &= ~(1 << 52)
        if power2 >= 0x7FF { return nil }
        return Double(bitPattern: result | UInt64(power2) << 52)
    }

    /// The table's range of powers of ten (KuaiRec's numbers need -19 ... 0).
    static let smallestPower = -64
    static let largestPower = 64

    /// 5^q for q in `smallestPower ... largestPower` as 128-bit values normalized to their top bit (high
    /// word, low word); for q < 0 the reciprocal, rounded up. Generated by `fast_float`'s
    /// script/table_generation.py restricted to this range.
    private static let powersOfFive: [UInt64] = [
        0xA87FEA27A539E9A5, 0x3F2398D747B36224, 0xD29FE4B18E88640E, 0x8EEC7F0D19A03AAD,
        0x83A3EEEEF9153E89, 0x1953CF68300424AC, 0xA48CEAAAB75A8E2B, 0x5FA8C3423C052DD7,
        0xCDB02555653131B6, 0x3792F412CB06794D, 0x808E17555F3EBF11, 0xE2BBD88BBEE40BD0,
        0xA0B19D2AB70E6ED6, 0x5B6ACEAEAE9D0EC4, 0xC8DE047564D20A8B, 0xF245825A5A445275,
        0xFB158592BE068D2E, 0xEED6E2F0F0D56712, 0x9CED737BB6C4183D, 0x55464DD69685606B,
        0xC428D05AA4751E4C, 0xAA97E14C3C26B886, 0xF53304714D9265DF, 0xD53DD99F4B3066A8,
        0x993FE2C6D07B7FAB, 0xE546A8038EFE4029, 0xBF8FDB78849A5F96, 0xDE98520472BDD033,
        0xEF73D256A5C0F77C, 0x963E66858F6D4440, 0x95A8637627989AAD, 0xDDE7001379A44AA8,
        0xBB127C53B17EC159, 0x5560C018580D5D52, 0xE9D71B689DDE71AF, 0xAAB8F01E6E10B4A6,
        0x9226712162AB070D, 0xCAB3961304CA70E8, 0xB6B00D69BB55C8D1, 0x3D607B97C5FD0D22,
        0xE45C10C42A2B3B05, 0x8CB89A7DB77C506A, 0x8EB98A7A9A5B04E3, 0x77F3608E92ADB242,
        0xB267ED1940F1C61C, 0x55F038B237591ED3, 0xDF01E85F912E37A3, 0x6B6C46DEC52F6688,
        0x8B61313BBABCE2C6, 0x2323AC4B3B3DA015, 0xAE397D8AA96C1B77, 0xABEC975E0A0D081A,
        0xD9C7DCED53C72255, 0x96E7BD358C904A21, 0x881CEA14545C7575, 0x7E50D64177DA2E54,
        0xAA242499697392D2, 0xDDE50BD1D5D0B9E9, 0xD4AD2DBFC3D07787, 0x955E4EC64B44E864,
        0x84EC3C97DA624AB4, 0xBD5AF13BEF0B113E, 0xA6274BBDD0FADD61, 0xECB1AD8AEACDD58E,
        0xCFB11EAD453994BA, 0x67DE18EDA5814AF2, 0x81CEB32C4B43FCF4, 0x80EACF948770CED7,
        0xA2425FF75E14FC31, 0xA1258379A94D028D, 0xCAD2F7F5359A3B3E, 0x096EE45813A04330,
        0xFD87B5F28300CA0D, 0x8BCA9D6E188853FC, 0x9E74D1B791E07E48, 0x775EA264CF55347E,
        0xC612062576589DDA, 0x95364AFE032A819E, 0xF79687AED3EEC551, 0x3A83DDBD83F52205,
        0x9ABE14CD44753B52, 0xC4926A9672793543, 0xC16D9A0095928A27, 0x75B7053C0F178294,
        0xF1C90080BAF72CB1, 0x5324C68B12DD6339, 0x971DA05074DA7BEE, 0xD3F6FC16EBCA5E04,
        0xBCE5086492111AEA, 0x88F4BB1CA6BCF585, 0xEC1E4A7DB69561A5, 0x2B31E9E3D06C32E6,
        0x9392EE8E921D5D07, 0x3AFF322E62439FD0, 0xB877AA3236A4B449, 0x09BEFEB9FAD487C3,
        0xE69594BEC44DE15B, 0x4C2EBE687989A9B4, 0x901D7CF73AB0ACD9, 0x0F9D37014BF60A11,
        0xB424DC35095CD80F, 0x538484C19EF38C95, 0xE12E13424BB40E13, 0x2865A5F206B06FBA,
        0x8CBCCC096F5088CB, 0xF93F87B7442E45D4, 0xAFEBFF0BCB24AAFE, 0xF78F69A51539D749,
        0xDBE6FECEBDEDD5BE, 0xB573440E5A884D1C, 0x89705F4136B4A597, 0x31680A88F8953031,
        0xABCC77118461CEFC, 0xFDC20D2B36BA7C3E, 0xD6BF94D5E57A42BC, 0x3D32907604691B4D,
        0x8637BD05AF6C69B5, 0xA63F9A49C2C1B110, 0xA7C5AC471B478423, 0x0FCF80DC33721D54,
        0xD1B71758E219652B, 0xD3C36113404EA4A9, 0x83126E978D4FDF3B, 0x645A1CAC083126EA,
        0xA3D70A3D70A3D70A, 0x3D70A3D70A3D70A4, 0xCCCCCCCCCCCCCCCC, 0xCCCCCCCCCCCCCCCD,
        0x8000000000000000, 0x0000000000000000, 0xA000000000000000, 0x0000000000000000,
        0xC800000000000000, 0x0000000000000000, 0xFA00000000000000, 0x0000000000000000,
        0x9C40000000000000, 0x0000000000000000, 0xC350000000000000, 0x0000000000000000,
        0xF424000000000000, 0x0000000000000000, 0x9896800000000000, 0x0000000000000000,
        0xBEBC200000000000, 0x0000000000000000, 0xEE6B280000000000, 0x0000000000000000,
        0x9502F90000000000, 0x0000000000000000, 0xBA43B74000000000, 0x0000000000000000,
        0xE8D4A51000000000, 0x0000000000000000, 0x9184E72A00000000, 0x0000000000000000,
        0xB5E620F480000000, 0x0000000000000000, 0xE35FA931A0000000, 0x0000000000000000,
        0x8E1BC9BF04000000, 0x0000000000000000, 0xB1A2BC2EC5000000, 0x0000000000000000,
        0xDE0B6B3A76400000, 0x0000000000000000, 0x8AC7230489E80000, 0x0000000000000000,
        0xAD78EBC5AC620000, 0x0000000000000000, 0xD8D726B7177A8000, 0x0000000000000000,
        0x878678326EAC9000, 0x0000000000000000, 0xA968163F0A57B400, 0x0000000000000000,
        0xD3C21BCECCEDA100, 0x0000000000000000, 0x84595161401484A0, 0x0000000000000000,
        0xA56FA5B99019A5C8, 0x0000000000000000, 0xCECB8F27F4200F3A, 0x0000000000000000,
        0x813F3978F8940984, 0x4000000000000000, 0xA18F07D736B90BE5, 0x5000000000000000,
        0xC9F2C9CD04674EDE, 0xA400000000000000, 0xFC6F7C4045812296, 0x4D00000000000000,
        0x9DC5ADA82B70B59D, 0xF020000000000000, 0xC5371912364CE305, 0x6C28000000000000,
        0xF684DF56C3E01BC6, 0xC732000000000000, 0x9A130B963A6C115C, 0x3C7F400000000000,
        0xC097CE7BC90715B3, 0x4B9F100000000000, 0xF0BDC21ABB48DB20, 0x1E86D40000000000,
        0x96769950B50D88F4, 0x1314448000000000, 0xBC143FA4E250EB31, 0x17D955A000000000,
        0xEB194F8E1AE525FD, 0x5DCFAB0800000000, 0x92EFD1B8D0CF37BE, 0x5AA1CAE500000000,
        0xB7ABC627050305AD, 0xF14A3D9E40000000, 0xE596B7B0C643C719, 0x6D9CCD05D0000000,
        0x8F7E32CE7BEA5C6F, 0xE4820023A2000000, 0xB35DBF821AE4F38B, 0xDDA2802C8A800000,
        0xE0352F62A19E306E, 0xD50B2037AD200000, 0x8C213D9DA502DE45, 0x4526F422CC340000,
        0xAF298D050E4395D6, 0x9670B12B7F410000, 0xDAF3F04651D47B4C, 0x3C0CDD765F114000,
        0x88D8762BF324CD0F, 0xA5880A69FB6AC800, 0xAB0E93B6EFEE0053, 0x8EEA0D047A457A00,
        0xD5D238A4ABE98068, 0x72A4904598D6D880, 0x85A36366EB71F041, 0x47A6DA2B7F864750,
        0xA70C3C40A64E6C51, 0x999090B65F67D924, 0xD0CF4B50CFE20765, 0xFFF4B4E3F741CF6D,
        0x82818F1281ED449F, 0xBFF8F10E7A8921A4, 0xA321F2D7226895C7, 0xAFF72D52192B6A0D,
        0xCBEA6F8CEB02BB39, 0x9BF4F8A69F764490, 0xFEE50B7025C36A08, 0x02F236D04753D5B4,
        0x9F4F2726179A2245, 0x01D762422C946590, 0xC722F0EF9D80AAD6, 0x424D3AD2B7B97EF5,
        0xF8EBAD2B84E0D58B, 0xD2E0898765A7DEB2, 0x9B934C3B330C8577, 0x63CC55F49F88EB2F,
        0xC2781F49FFCFA6D5, 0x3CBF6B71C76B25FB,
    ]
}
