import ReplayRun
import ReplayStream
import Testing

/// The written forms of the values runs take.
struct ArgumentValueTests {
    @Test func byteCountsAreBytesOrBinaryMultiples() {
        #expect(ByteCount("1000")?.bytes == 1000)
        #expect(ByteCount("500K")?.bytes == 500 << 10 && ByteCount("500k")?.bytes == 500 << 10)
        #expect(ByteCount("64G")?.bytes == 64 << 30 && ByteCount("1T")?.bytes == 1 << 40)
        for bad in ["0", "-5", "", "G", "1.5G", "5X", "99999999999T"] { #expect(ByteCount(bad) == nil, "\(bad)") }
        #expect(ByteCount(bytes: 64 << 30)?.description == "64G")
        #expect(ByteCount(bytes: 1000)?.description == "1000" && ByteCount(bytes: 3 << 20)?.description == "3M")
    }

    @Test func timeZonesKeepTheNameTheyWereGivenBy() {
        #expect(NamedTimeZone("UTC")?.name == "UTC" && NamedTimeZone("UTC")?.zone.secondsFromGMT() == 0)
        #expect(NamedTimeZone("Asia/Shanghai")?.description == "Asia/Shanghai")
        #expect(NamedTimeZone("Mars/Base") == nil)
    }
}
