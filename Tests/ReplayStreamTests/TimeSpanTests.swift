import ReplayStream
import Testing

/// The one duration syntax, and the checkpoint interval built on it.
struct TimeSpanTests {
    @Test func everyUnitAndABareNumberOfSeconds() {
        let cases: [(String, Double)] = [
            ("0", 0), ("0.5", 0.5), ("500ms", 0.5), ("5s", 5), ("0.5s", 0.5), ("10m", 600), ("1h", 3600),
            ("2d", 172_800), ("1.5m", 90),
        ]
        for (text, seconds) in cases { #expect(TimeSpan(text)?.seconds == seconds, "\(text)") }
        for bad in ["", "abc", "-1", "-5s", "5 s", " 5s", "5x", "inf", "nan", "ms", "1e400"] {
            #expect(TimeSpan(bad) == nil, "\(bad)")
        }
        #expect(TimeSpan("10m")?.milliseconds == 600_000 && TimeSpan("1ms")?.milliseconds == 1)
    }

    @Test func aSpanIsWrittenInItsLargestWholeUnit() {
        let cases: [(Double, String)] = [
            (0, "0"), (0.5, "500ms"), (1, "1s"), (5, "5s"), (600, "10m"), (3600, "1h"), (86_400, "1d"), (90, "90s"),
            (0.1, "100ms"), (0.0005, "0.0005s"),
        ]
        for (seconds, text) in cases { #expect(TimeSpan(seconds: seconds)?.description == text, "\(seconds)") }
        for text in ["500ms", "10m", "2d", "7s"] { #expect(TimeSpan(text)?.description == text) }
    }

    @Test func checkpointIntervalsAreAPositiveDurationOrEvents() {
        #expect(CheckpointPolicy(argument: "1") == .seconds(1))
        #expect(CheckpointPolicy(argument: "500ms") == .seconds(0.5))
        #expect(CheckpointPolicy(argument: "10m") == .seconds(600))
        #expect(CheckpointPolicy(argument: "100000ev") == .events(100_000))
        #expect(CheckpointPolicy(argument: "7events") == .events(7))
        for bad in ["0", "0s", "x", "0ev", "-1", "1.5ev", ""] { #expect(CheckpointPolicy(argument: bad) == nil, "\(bad)") }
        #expect(CheckpointPolicy(argument: "auto") == .auto && CheckpointPolicy.auto.description == "auto")
        for bad in ["Auto", "auto1", "autos"] { #expect(CheckpointPolicy(argument: bad) == nil, "\(bad)") }
        #expect(CheckpointPolicy.seconds(1).description == "1s" && CheckpointPolicy.events(5).description == "5ev")
    }
}
