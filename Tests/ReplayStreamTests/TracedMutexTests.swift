import Foundation
import Testing
import ReplayStream

/// ``TracedMutex``: one section at a time, whatever the threads; a section that throws leaves its changes and
/// the lock free.
@Suite struct TracedMutexTests {
    private struct Spent: Error, Equatable { let total: Int }

    /// Four threads add to one plain `Int` and read it back in every section: no addition is lost, and no
    /// section sees another's half-done change (the value is odd only inside a section).
    @Test func sectionsRunOneAtATime() {
        let counter = TracedMutex((value: 0, tornReads: 0))
        let threads = 4, rounds = 20_000
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            for _ in 0..<rounds {
                counter.withLock { state in
                    if state.value % 2 != 0 { state.tornReads += 1 }
                    state.value += 1
                    state.value += 1
                }
            }
        }
        let (value, tornReads) = counter.withLock { ($0.value, $0.tornReads) }
        #expect(value == 2 * threads * rounds)
        #expect(tornReads == 0)
    }

    /// A section's error reaches the caller typed; what it changed before is kept and the next section runs.
    @Test func aSectionThatThrowsKeepsItsChangesAndFreesTheLock() {
        let total = TracedMutex(0)
        #expect(throws: Spent(total: 3)) {
            try total.withLock { (value: inout Int) throws(Spent) in
                value += 3
                throw Spent(total: value)
            }
        }
        #expect(total.withLock { value in value += 1; return value } == 4)
    }
}
