import ReplayTestSupport
import Testing

@testable import ReplayStream

/// When a checkpoint is due: after a fixed interval, a count of events, or (`auto`) a pause that grows with
/// what the last checkpoint took.
struct CheckpointClockTests {
    /// The clock of `policy` on a manual clock at 0, and that clock.
    private func clock(_ policy: CheckpointPolicy) -> (CheckpointClock, ManualClock) {
        let manual = ManualClock()
        return (CheckpointClock(policy: policy, events: 0, clock: manual), manual)
    }

    @Test func autoIsDueEverySecondWhileCheckpointsAreQuick() {
        var (clock, manual) = clock(.auto)
        #expect(!clock.isDue(events: 0))
        manual.advance(by: 0.75)
        #expect(!clock.isDue(events: 0))
        manual.advance(by: 0.25)
        #expect(clock.isDue(events: 0))
        // Times a binary fraction can hold exactly.
        clock.take({ manual.advance(by: 0.03125) }, events: { 10 })
        #expect(clock.lastCost == 0.03125)
        // 19 x 0.03125 s is under the second: the second counts, from the checkpoint's end.
        manual.advance(by: 0.875)
        #expect(!clock.isDue(events: 10))
        manual.advance(by: 0.125)
        #expect(clock.isDue(events: 10))
    }

    @Test func autoPausesNineteenTimesWhatASlowCheckpointTook() {
        var (clock, manual) = clock(.auto)
        manual.advance(by: 1)
        clock.take({ manual.advance(by: 0.25) }, events: { 5 })
        // 19 x 0.25 s = 4.75 s after the checkpoint ended: checkpoints are 1/20 of the time.
        manual.advance(by: 4.5)
        #expect(!clock.isDue(events: 5))
        manual.advance(by: 0.25)
        #expect(clock.isDue(events: 5))
        // A quick checkpoint brings the second back.
        clock.take({ manual.advance(by: 0.015625) }, events: { 6 })
        manual.advance(by: 1)
        #expect(clock.isDue(events: 6))
    }

    @Test func autoPausesNineteenTimesWhatTheLastCheckpointTookToBecomeDurable() {
        let manual = ManualClock()
        var durable = 0.0
        var clock = CheckpointClock(policy: .auto, events: 0, clock: manual, durability: { durable })
        manual.advance(by: 1)
        // (hold, durability): the pause is 19 times the longer of the two, and at least the second.
        for (hold, durability, pause) in [(0.03125, 0.5, 9.5), (0.25, 0.0625, 4.75), (0.015625, 0.015625, 1.0)] {
            clock.take({ manual.advance(by: hold) }, events: { 5 })
            durable = durability
            manual.advance(by: pause - 0.0625)
            #expect(!clock.isDue(events: 5), "hold \(hold) s, durability \(durability) s")
            manual.advance(by: 0.0625)
            #expect(clock.isDue(events: 5), "hold \(hold) s, durability \(durability) s")
        }
    }

    @Test func aFixedIntervalIgnoresWhatCheckpointsTake() {
        let manual = ManualClock()
        var clock = CheckpointClock(policy: .seconds(2), events: 0, clock: manual, durability: { 30 })
        manual.advance(by: 2)
        #expect(clock.isDue(events: 0))
        clock.take({ manual.advance(by: 1) }, events: { 0 })
        manual.advance(by: 1.75)
        #expect(!clock.isDue(events: 0))
        manual.advance(by: 0.25)
        #expect(clock.isDue(events: 0))
    }

    @Test func anEventCountCountsFromTheLastCheckpoint() {
        var (clock, manual) = clock(.events(100))
        manual.advance(by: 60)
        #expect(!clock.isDue(events: 99))
        #expect(clock.isDue(events: 100))
        clock.take({}, events: { 130 })
        #expect(!clock.isDue(events: 229))
        #expect(clock.isDue(events: 230))
    }

    @Test func aCheckpointThatThrowsNotesNothing() {
        struct Refused: Error {}
        var (clock, manual) = clock(.auto)
        manual.advance(by: 1)
        #expect(throws: Refused.self) { try clock.take({ manual.advance(by: 5); throw Refused() }, events: { 1 }) }
        #expect(clock.lastCost == 0)
        #expect(clock.isDue(events: 0))
    }
}
