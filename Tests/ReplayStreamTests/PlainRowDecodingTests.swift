import Foundation
import Testing
@testable import ReplayStream
import ReplayTestSupport

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

    /// Rows of every length around the ones the commas are found at once for (16 to 128 bytes; 64, where the first
    /// four steps end), their fields lengthened, emptied, or given a comma, a quote or another byte anywhere: a row
    /// taken plainly has the split's values (``plainAndChecked(_:)``), and KuaiRec's rows of every length are taken.
    @Test func rowsOfEveryLengthAndShapeAreTakenOnlyWithTheSplitValues() {
        let seed = testSeed(default: 47)
        var random = SeededGenerator(seed: seed)
        let fields = Self.row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        var taken = Set<Int>()
        for _ in 0..<20_000 {
            var row = fields
            // The time field's length sets the row's: 10 to 140 bytes.
            let length = Int(random.next() % 131) + 10
            let others = row.enumerated().filter { $0.offset != 4 }.reduce(0) { $0 + $1.element.utf8.count } + 7
            row[4] = String(repeating: "x", count: max(0, length - others))
            var bytes = Array(row.joined(separator: ",").utf8)
            for _ in 0..<Int(random.next() % 3) {
                guard !bytes.isEmpty else { break }
                let at = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 4 {
                case 0: bytes[at] = [0x2C, 0x22, 0x2E, 0x20, 0x2D][Int(random.next() % 5)]
                case 1: bytes.insert(0x2C, at: at)
                case 2: bytes.remove(at: at)
                default: bytes[at] = 0x30 + UInt8(random.next() % 10)
                }
            }
            let line = String(decoding: bytes, as: UTF8.self)
            if plainAndChecked(line) != nil, bytes.count == length { taken.insert(length) }
        }
        let lengths = Set(Self.row.utf8.count...140)
        #expect(taken.isSuperset(of: lengths), "seed \(seed): not taken: \(lengths.subtracting(taken).sorted())")
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

    /// A parsed row is one 64-byte cache line (the parse workers write ~4.7 M of them for the small matrix, the
    /// fold reads them on another core): the `time` field is kept as its milliseconds, not as its text.
    @Test func aParsedRowIsOneCacheLine() {
        #expect(MemoryLayout<NotebookRow>.size == 60)
        #expect(MemoryLayout<NotebookRow>.stride == 64)
    }

    /// A row's `time` field is read once, on the thread that splits the row, in the format its length names, and
    /// gives what pandas' reading under either inferred format gives the whole field: for every length (the
    /// bytes after the field differ, so a load past its end would show), for times valid in either format, and
    /// for texts one byte off from them.
    @Test func timeFieldReadsAsEitherFormatReadsTheWholeField() {
        let valid = ["2020-07-05 05:27:48", "2020-07-05 05:27:48.3", "2020-07-05 05:27:48.378", "2020-07-05 05:27:48.123456789"]
        var texts: [[UInt8]] = (0...34).map { n in (0..<n).map { UInt8(0x30 + $0 % 10) } }
        for text in valid.map({ Array($0.utf8) }) {
            texts.append(text)
            texts.append(text + [0x30])
            texts.append(Array(text.dropLast()))
            for i in text.indices {
                var changed = text
                changed[i] = i % 2 == 0 ? 0x3A : 0x2E
                texts.append(changed)
            }
        }
        var cache = NaiveTimeText.DateCache()
        let event = Interaction(timestampMs: 0, userID: 1, videoID: 2, playDurationMs: 3, videoDurationMs: 4, watchRatio: 0.5)
        for field in texts {
            let record = field + [UInt8](repeating: 0x39, count: 8)
            record.withUnsafeBytes { raw in
                let time = UnsafeRawBufferPointer(rebasing: raw[0..<field.count])
                let row = NotebookRow(accepted: event, day: CalendarDay(rawValue: 0), timeText: time, timeCache: &cache)
                let text = String(decoding: field, as: UTF8.self)
                #expect(row.timeIsEmpty == field.isEmpty, "\(text)")
                #expect(row.timeTextHasFraction == (field.count > 19), "\(text)")
                for fraction in [false, true] {
                    #expect(row.timeText(withFraction: fraction) == NaiveTimeText.parse(time, withFraction: fraction), "\(text)")
                }
            }
        }
        let read = valid.compactMap { text in
            Array(text.utf8).withUnsafeBytes { NaiveTimeText.parse($0, withFraction: text.count > 19) }
        }
        #expect(read.map(NaiveTimeText.format) == [
            "2020-07-05 05:27:48.000", "2020-07-05 05:27:48.300", "2020-07-05 05:27:48.378", "2020-07-05 05:27:48.123",
        ])
    }
}
