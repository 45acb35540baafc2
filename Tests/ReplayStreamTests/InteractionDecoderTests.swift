import Foundation
import ReplayTestSupport
import Testing
@testable import ReplayStream

@Suite struct InteractionDecoderTests {
    let header = "user_id,video_id,play_duration,video_duration,time,date,timestamp,watch_ratio"

    func decode(_ line: String, header: String? = nil) throws -> InteractionDecoder.Outcome {
        let names = (header ?? self.header).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        var decoder = InteractionDecoder(
            columns: try InteractionColumns(header: names), timeZone: TimeZone(identifier: "Asia/Shanghai")!)
        var splitter = CSVFieldSplitter()
        let bytes = Array(line.utf8)
        return bytes.withUnsafeBytes { raw in
            let ok = splitter.split(raw)
            return decoder.decode(raw, fields: splitter, fieldsOK: ok)
        }
    }

    func reason(_ line: String) throws -> String? {
        if case .rejected(let r) = try decode(line) { return r.rawValue }
        return nil
    }

    @Test func decodesKuaiRecRows() throws {
        guard case .accepted(let e, let day, let disagrees) = try decode(
            "14,148,4381,6067,2020-07-05 05:27:48.378,20200705.0,1593898068.378,0.7221031811438932")
        else { Issue.record("rejected"); return }
        #expect(e.userID == 14 && e.videoID == 148 && e.playDurationMs == 4381 && e.videoDurationMs == 6067)
        #expect(e.timestampMs == 1_593_898_068_378)
        #expect(e.watchRatio == 0.7221031811438932)
        #expect(day.description == "2020-07-05")
        #expect(!disagrees)
    }

    @Test func timestampsParseToExactMilliseconds() {
        func ms(_ s: String) -> Int64?? {
            let b = Array(s.utf8)
            return b.withUnsafeBytes { InteractionDecoder.parseTimestampMs($0) }
        }
        #expect(ms("1593882025.5") == .some(1_593_882_025_500))
        #expect(ms("1593882025.32") == .some(1_593_882_025_320))
        #expect(ms("1593882025.0") == .some(1_593_882_025_000))
        #expect(ms("1593882025") == .some(1_593_882_025_000))
        #expect(ms("1593882025.0005") == .some(1_593_882_025_001))
        #expect(ms("") == nil)
        #expect(ms("abc") == .some(nil))
        #expect(ms("1593898068.378") == .some(1_593_898_068_378))
    }

    /// A timestamp of KuaiRec's fourteen bytes (ten digits, a dot, three) is read in two words: what it reads, or
    /// leaves to the loop, is what the loop reads with a zero in front (fifteen bytes, never read that way), for
    /// texts of digits with dots and other bytes anywhere.
    @Test func fourteenByteTimestampsReadAsTheLoopReadsThem() {
        func ms(_ s: String) -> Int64?? { Array(s.utf8).withUnsafeBytes { InteractionDecoder.parseTimestampMs($0) } }
        let seed = testSeed(default: 0x5EED_0003)
        var rng = SeededGenerator(seed: seed)
        let alphabet = Array("0123456789") + Array(".x/:")
        var fast = 0
        for _ in 0..<50_000 {
            var text = String((0..<14).map { _ in
                Bool.random(using: &rng)
                    ? Character(String(Int.random(in: 0...9, using: &rng))) : alphabet.randomElement(using: &rng)!
            })
            if Bool.random(using: &rng) {
                // Mostly KuaiRec's form, one byte changed or not.
                text = "1593898068.378"
                if Bool.random(using: &rng) {
                    var bytes = Array(text)
                    bytes[Int.random(in: 0..<14, using: &rng)] = alphabet.randomElement(using: &rng)!
                    text = String(bytes)
                }
            }
            let integerDigits = text.firstIndex(of: ".").map { text.distance(from: text.startIndex, to: $0) } ?? 14
            guard text.first!.isNumber, integerDigits <= 11 else { continue }
            #expect(ms(text) == ms("0" + text), "seed \(seed): \(text)")
            if case .some(.some) = ms(text), text.utf8.count == 14 { fast += 1 }
        }
        #expect(fast > 1_000, "seed \(seed): \(fast) read")
    }

    @Test func rejectsWithReasons() throws {
        #expect(try reason("7162,2267,11908,5467,,,,2.1781") == "missing_time")
        #expect(try reason("1,2,3,4,2020-02-31 00:00:00.0,20200231,1593898068.378,0.5") == "invalid_date")
        #expect(try reason("1,2,3,4,x,abc,1593898068.378,0.5") == "invalid_date")
        #expect(try reason("-1,2,3,4,x,20200705,1593898068.378,0.5") == "invalid_id")
        #expect(try reason("99999999999,2,3,4,x,20200705,1593898068.378,0.5") == "invalid_id")
        #expect(try reason("1,2,-3,4,x,20200705,1593898068.378,0.5") == "invalid_duration")
        #expect(try reason("1,2,3,,x,20200705,1593898068.378,0.5") == "invalid_duration")
        #expect(try reason("1,2,3,4,x,20200705,1593898068.378,nan") == "invalid_watch_ratio")
        #expect(try reason("1,2,3,4,x,20200705,1593898068.378, 0.5") == "invalid_watch_ratio")
        #expect(try reason("1,2,3,4,x,20200705,1593898068.378") == "wrong_field_count")
        #expect(try reason("1,2,3,4,x,20200705,zzz,0.5") == "invalid_timestamp")
    }

    @Test func dayComesFromTheLabelElseTheTimestamp() throws {
        // 2020-07-05 00:30 in Beijing is 2020-07-04 16:30 UTC; labelled the day before.
        guard case .accepted(_, let day, let disagrees) = try decode("1,2,3,4,x,20200704,1593880200.0,0.5")
        else { Issue.record("rejected"); return }
        #expect(day.description == "2020-07-04")
        #expect(disagrees)
        guard case .accepted(_, let day2, _) = try decode("1,2,3,4,x,,1593880200.0,0.5")
        else { Issue.record("rejected"); return }
        #expect(day2.description == "2020-07-05")
    }

    @Test func columnsAreFoundByNameInAnyOrder() throws {
        let h = "\u{FEFF}watch_ratio,extra,timestamp,date,time,video_duration,play_duration,video_id,user_id"
        guard case .accepted(let e, _, _) = try decode("0.5,zz,1593898068.378,20200705,t,4,3,2,1", header: h)
        else { Issue.record("rejected"); return }
        #expect(e.userID == 1 && e.videoID == 2 && e.playDurationMs == 3 && e.videoDurationMs == 4 && e.watchRatio == 0.5)
        #expect(throws: CSVFormatError.self) { try InteractionColumns(header: ["user_id", "video_id"]) }
    }

    @Test func brokenValuesAreRejectedWithTheirReason() throws {
        let t = "x,20200705,1593898068.378"  // time, date, timestamp of a good row
        // Durations: integers (optionally `.0`), non-negative; video_duration above 0.
        #expect(try reason("1,2,inf,4,\(t),0.5") == "invalid_duration")
        #expect(try reason("1,2,3,nan,\(t),0.5") == "invalid_duration")
        #expect(try reason("1,2,1e5,4,\(t),0.5") == "invalid_duration")
        #expect(try reason("1,2,3.5,4,\(t),0.5") == "invalid_duration")
        #expect(try reason("1,2,,4,\(t),0.5") == "invalid_duration")
        #expect(try reason("1,2,3,0,\(t),inf") == "zero_video_duration")
        #expect(try reason("1,2,3,0.0,\(t),0") == "zero_video_duration")
        // Ids: non-negative integers that fit 31 bits.
        #expect(try reason("2147483648,2,3,4,\(t),0.5") == "invalid_id")
        #expect(try reason("1,99999999999999999999999,3,4,\(t),0.5") == "invalid_id")
        #expect(try reason("1.5,2,3,4,\(t),0.5") == "invalid_id")
        #expect(try reason(",2,3,4,\(t),0.5") == "invalid_id")
        // watch_ratio: finite and non-negative.
        #expect(try reason("1,2,3,4,\(t),inf") == "invalid_watch_ratio")
        #expect(try reason("1,2,3,4,\(t),-0.5") == "invalid_watch_ratio")
        #expect(try reason("1,2,3,4,\(t),") == "invalid_watch_ratio")
        #expect(try reason("1,2,3,4,\(t),0x1p3") == "invalid_watch_ratio")
        // Timestamps outside 2000-01-01 ..< 2100-01-01 UTC, or more than 31 days from the date label.
        #expect(try reason("1,2,3,4,x,,99.5,0.5") == "timestamp_out_of_range")
        #expect(try reason("1,2,3,4,x,,4102444800.0,0.5") == "timestamp_out_of_range")
        #expect(try reason("1,2,3,4,x,,-1593898068.378,0.5") == "timestamp_out_of_range")
        #expect(try reason("1,2,3,4,x,20200705,1603898068.378,0.5") == "timestamp_out_of_range")
        #expect(try reason("1,2,3,4,x,,1e300,0.5") == "invalid_timestamp")
        // Date labels: calendar dates within 2000 ... 2099.
        #expect(try reason("1,2,3,4,x,20200231,,0.5") == "invalid_date")
        #expect(try reason("1,2,3,4,x,19991231,,0.5") == "date_out_of_range")
        #expect(try reason("1,2,3,4,x,21000101,,0.5") == "date_out_of_range")
        #expect(try reason("1,2,3,4,x,2020070,,0.5") == "invalid_date")
        // Quotes.
        #expect(try reason("1,2,3,4,\"x\"y,20200705,1593898068.378,0.5") == "malformed_quotes")
    }

    @Test func rowsTheNotebookKeepsAreAccepted() throws {
        // play_duration 0 (KuaiRec has them), a watch_ratio that disagrees with play/video (the column is
        // trusted), quoted fields, a label 31 days from the timestamp, the date label alone, `.0` forms.
        for line in [
            "14,148,0,6067,2020-07-05 05:27:48.378,20200705.0,1593898068.378,0.0",
            "14,148,3000,4000,x,20200705,1593898068.378,9.5",
            "\"14\",\"148\",\"4381\",6067,\"2020-07-05 05:27:48.378\",20200705,1593898068.378,\"0.72\"",
            "14,148,4381,6067,x,20200805,1593898068.378,0.72",
            "14,148,4381,6067,,20200705,,0.72",
            "14.0,148.00,4381.0,6067.0,x,20200705.0,1593898068,0.72",
        ] {
            guard case .accepted(let e, _, _) = try decode(line) else {
                Issue.record("rejected: \(line)")
                continue
            }
            #expect(e.userID == 14 && e.videoID == 148)
        }
        guard case .accepted(let e, _, _) = try decode("14,148,3000,4000,x,20200705,1593898068.378,9.5") else {
            Issue.record("the row with watch_ratio 9.5 was rejected")
            return
        }
        #expect(e.watchRatio == 9.5)
    }
}

@Suite struct DecimalParsingTests {
    func parse(_ s: String) -> Double? {
        let b = Array(s.utf8)
        return b.withUnsafeBytes { InteractionDecoder.parseDoubleStatic($0) }
    }

    @Test func fastPathAgreesWithStrtodOnRandomRatios() {
        let seed = testSeed(default: 0x5EED_0001)
        var rng = SeededGenerator(seed: seed)
        for _ in 0..<200_000 {
            let v = Double(Int.random(in: 0...600_000, using: &rng)) / Double(Int.random(in: 1...400_000, using: &rng))
            let text = "\(v)"
            #expect(parse(text)?.bitPattern == v.bitPattern, "seed \(seed): \(text)")
        }
        for text in ["0.078", "1.0", "0", "12", "0.1", "0.30000000000000004", "1.2733965215790926", "333.836", "1e-05",
                     "5.0e2", "0000.5", ".5", "5."] {
            #expect(parse(text) == Double(text), "\(text)")
        }
        #expect(parse(".") == nil && parse("") == nil && parse("1.2.3") == nil && parse("1,5") == nil)
    }

    /// `strtod`'s value of `text` (nil when it does not read the whole text).
    func strtodValue(_ text: String) -> Double? {
        text.withCString { start in
            var end: UnsafeMutablePointer<CChar>?
            let value = strtod(start, &end)
            return end.map { UnsafePointer($0) == start + text.utf8.count } == true ? value : nil
        }
    }

    @Test func decimalParsingIsStrtodBitForBit() {
        let seed = testSeed(default: 0x5EED_0002)
        var rng = SeededGenerator(seed: seed)
        var decided = 0
        let tries = 300_000
        for _ in 0..<tries {
            // 1-22 digits, a dot anywhere (or none), sometimes leading zeros: Clinger's range, Eisel-Lemire's
            // (17-19 digits), and past it (more than 19 significant digits: left to strtod).
            var text = String((0..<Int.random(in: 1...22, using: &rng)).map { _ in
                Character(UnicodeScalar(UInt8.random(in: 0x30...0x39, using: &rng)))
            })
            if Bool.random(using: &rng) {
                let at = text.index(text.startIndex, offsetBy: Int.random(in: 0...text.count, using: &rng))
                text.insert(".", at: at)
            }
            if Int.random(in: 0..<4, using: &rng) == 0 { text = "0.000" + text.filter { $0 != "." } }
            let fast = Array(text.utf8).withUnsafeBytes { DecimalParsing.parse($0) }
            if let fast {
                decided += 1
                #expect(fast.bitPattern == strtodValue(text)?.bitPattern, "seed \(seed): \(text)")
            }
            #expect(parse(text)?.bitPattern == strtodValue(text)?.bitPattern, "seed \(seed): \(text)")
        }
        #expect(decided > tries / 2, "seed \(seed): the fast methods decided \(decided) of \(tries)")
        // Halfway cases round to even; 20 significant digits and exponents are left to strtod.
        for text in ["9007199254740993", "9007199254740995", "9007199254740993.0", "4503599627370496.5",
                     "4503599627370497.5", "1.2254423097796592", "2.513297410046932", "0.0000000000000000000000001"] {
            let fast = Array(text.utf8).withUnsafeBytes { DecimalParsing.parse($0) }
            #expect(fast != nil && fast?.bitPattern == strtodValue(text)?.bitPattern, "\(text)")
        }
        for text in ["18446744073709551615", "1e5", ".", "", "-1.5", " 1"] {
            #expect(Array(text.utf8).withUnsafeBytes { DecimalParsing.parse($0) } == nil, "\(text)")
        }
    }

    /// The written-out powers of ten are 10^0 ... 10^22, each the product of its tens (exact in a double up to 10^22).
    @Test func exactPowersOfTenAreTheProductsOfTens() {
        var product = 1.0
        #expect(DecimalParsing.exactPowersOfTen.count == 23)
        for (k, power) in DecimalParsing.exactPowersOfTen.enumerated() {
            #expect(power.bitPattern == product.bitPattern, "10^\(k)")
            product *= 10
        }
    }
}
