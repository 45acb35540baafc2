import Foundation
import Testing
@testable import ReplayStream

/// ``InteractionDecoder/decodePlainRow(_:)``: a row it takes gets exactly what splitting and ``InteractionDecoder/decode(_:fields:fieldsOK:)``
/// give it; every other row is left to them.
@Suite struct PlainRowDecodingTests {
    static let columns = try! InteractionColumns(header: InteractionColumns.required)
    static let zone = TimeZone(identifier: "Asia/Shanghai")!
    static let row = "14,148,4381,6067,2020-07-05 05:27:48.378,20200705.0,1593898068.378,0.7221031811438932"

    /// The plain decoding of `line` (nil: left to the split), checked against the split decoding of the same line.
    func plainAndChecked(_ line: String) -> InteractionDecoder.PlainRow? {
        var plainDecoder = InteractionDecoder(columns: Self.columns, timeZone: Self.zone)
        var decoder = InteractionDecoder(columns: Self.columns, timeZone: Self.zone)
        var splitter = CSVFieldSplitter()
        return Array(line.utf8).withUnsafeBytes { raw -> InteractionDecoder.PlainRow? in
            guard let plain = plainDecoder.decodePlainRow(raw) else { return nil }
            let ok = splitter.split(raw)
            guard case .accepted(let e, let day, let disagrees) = decoder.decode(raw, fields: splitter, fieldsOK: ok) else {
                Issue.record("taken plainly but rejected when split: \(line)")
                return plain
            }
            #expect(plain.event.isExactDuplicate(of: e), "\(line)")
            #expect(plain.day == day && plain.dateDisagreesWithTimestamp == disagrees, "\(line)")
            #expect(Array(plain.timeText) == splitter.withField(4, in: raw) { Array($0) }, "\(line)")
            return plain
        }
    }

    @Test func kuaiRecRowsAreTakenWithTheSplitValues() throws {
        let plain = try #require(plainAndChecked(Self.row))
        #expect(plain.event.userID == 14 && plain.event.videoID == 148 && plain.event.playDurationMs == 4381)
        #expect(plain.event.videoDurationMs == 6067 && plain.event.timestampMs == 1_593_898_068_378)
        #expect(plain.event.watchRatio == 0.7221031811438932 && plain.day.description == "2020-07-05")
        #expect(String(decoding: plain.timeText, as: UTF8.self) == "2020-07-05 05:27:48.378")
        // Other plain rows: leading zeros and whole seconds; the widest integers and an empty time text; a date
        // label a day off its timestamp.
        for line in [
            "0,007,0,1,2020-07-06 00:10:00.000,20200706,1593965400,2",
            "123456789,999999999,123456789012345678,5,,20200705,1593898068.5,0.5",
            "1,2,3,4,x,20200704.0,1593898068.378,1.0000000000000002",
        ] {
            #expect(plainAndChecked(line) != nil, "\(line)")
        }
    }

    @Test func everyOtherRowIsLeftToTheSplit() {
        for line in [
            "\"14\",148,4381,6067,2020-07-05 05:27:48.378,20200705.0,1593898068.378,0.5",  // a quoted id
            "14,148,4381,6067,\"2020-07-05 05:27:48.378\",20200705.0,1593898068.378,0.5",  // a quoted time
            "14,148,4381,6067,2020-07-05,\"20200705\",1593898068.378,0.5",  // a quoted date
            "14,148,4381,6067,2020-07-05,20200705,1593898068.378,\"0.5\"",  // a quoted ratio
            "14,148,4381,6067,a\"b,20200705,1593898068.378,0.5",  // a quote inside the time text
            "14.0,148,4381,6067,x,20200705,1593898068.378,0.5",  // an id with a fraction
            "+14,148,4381,6067,x,20200705,1593898068.378,0.5",
            "1234567890,148,4381,6067,x,20200705,1593898068.378,0.5",  // ten digits
            "14,148,1234567890123456789,6067,x,20200705,1593898068.378,0.5",  // nineteen digits
            "14,148,4381,0,x,20200705,1593898068.378,0.5",  // zero video duration
            "14,148,4381,6067,x,,1593898068.378,0.5",  // no date
            "14,148,4381,6067,x,20200705,,0.5",  // no timestamp
            "14,148,4381,6067,x,20200705,1593898068.378,",  // no ratio
            "14,148,4381,6067,x,20200705,1593898068.378,0.5,extra",
            "14,148,4381,6067,x,20200705,1593898068.378",
            "14,148,4381,6067,x,20200231,1593898068.378,0.5",  // not a date
            "14,148,4381,6067,x,20200705,1e9,0.5",  // a timestamp out of range
            "14,148,4381,6067,x,20200806,1593898068.378,0.5",  // a label 32 days off
            "14,148,4381,6067,x,20200705,1593898068.378,-0.5",
            "14,148,4381,6067,x,20200705,1593898068.378,inf",
            "14,148,4381,6067,x,20200705,1593898068.378, 0.5",
            "",
            "14,148",
        ] {
            #expect(plainAndChecked(line) == nil, "\(line)")
        }
    }

    @Test func integersOfEveryLengthAreReadWithTheirComma() {
        var random = SystemRandomNumberGenerator()
        for length in 0...20 {
            for next: UInt8 in [0x2C, 0x3A, 0x2F, 0x2E, 0xB5, 0x20] {
                for padding in [0, 12] {  // without padding, the field is read byte by byte near the record's end
                    let digits = (0..<length).map { _ in UInt8.random(in: 0x30...0x39, using: &random) }
                    let text = digits + [next] + Array(repeating: UInt8(0x37), count: padding)
                    var i = 0
                    let read = text.withUnsafeBytes { InteractionDecoder.plainDigits($0.baseAddress!, &i, text.count, maxDigits: 18) }
                    let expected = next == 0x2C && (1...18).contains(length)
                        ? digits.withUnsafeBytes { InteractionDecoder.parseIntegerWithZeroFraction($0) } : nil
                    #expect(read == expected, "\(String(decoding: text, as: UTF8.self))")
                    if read != nil { #expect(i == length + 1) }
                }
            }
        }
    }

    @Test func onlyKuaiRecsOwnHeaderIsPlain() throws {
        #expect(Self.columns.isKuaiRecLayout)
        var reordered = InteractionColumns.required
        reordered.swapAt(0, 1)
        #expect(try !InteractionColumns(header: reordered).isKuaiRecLayout)
        #expect(try !InteractionColumns(header: InteractionColumns.required + ["extra"]).isKuaiRecLayout)
    }

    /// A row's `time` text is kept as four words built from loads inside the field: the text's first 30 bytes,
    /// then zeros, for every length (the bytes after the field differ, so a load past its end would show).
    @Test func timeTextIsPackedExactlyForEveryLength() {
        for n in 0...34 {
            let field = (0..<n).map { UInt8(0x30 + $0 % 10) }
            let record = field + [UInt8](repeating: 0xEE, count: 8)
            record.withUnsafeBytes { raw in
                let words = NotebookRow.packedTimeText(UnsafeRawBufferPointer(rebasing: raw[0..<n]))
                let bytes = withUnsafeBytes(of: words) { Array($0) }
                let kept = min(n, NotebookRow.timeTextCapacity)
                #expect(Array(bytes[0..<kept]) == Array(field[0..<kept]), "length \(n)")
                #expect(bytes[kept...].allSatisfy { $0 == 0 }, "length \(n)")
            }
        }
    }
}
