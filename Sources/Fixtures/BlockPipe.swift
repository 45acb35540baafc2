import Foundation
import ReplayStream

/// A bounded hand-off of byte blocks from one producer thread to one consumer, so CSV
/// generation (producer) runs on a second core while libarchive deflates (consumer).
/// Deflate at level 6 is the bottleneck (~18 MB/s here); generation is hidden behind it.
///
/// Two semaphores count free slots (for the producer) and queued blocks (for the consumer); the
/// queue itself and the end flags are behind a mutex, so the type is `Sendable` as checked.
final class BlockPipe: Sendable {
    private struct Queue {
        var blocks: [[UInt8]] = []
        var finished = false
        var consumerFailed = false
    }
    private let queue = TracedMutex(Queue())
    private let freeSlots = DispatchSemaphore(value: 0)
    private let queued = DispatchSemaphore(value: 0)
    private let depth: Int

    init(depth: Int = 4) {
        self.depth = depth
        // Signalled up from 0: libdispatch traps when a semaphore is released below its initial value.
        for _ in 0..<depth { freeSlots.signal() }
    }

    /// Producer: queues a block, waiting while `depth` blocks are pending.
    /// Throws if the consumer gave up.
    func put(_ block: [UInt8]) throws {
        freeSlots.wait()
        let accepted = queue.withLock { queue -> Bool in
            if queue.consumerFailed { return false }
            queue.blocks.append(block)
            return true
        }
        guard accepted else {
            freeSlots.signal()
            throw GeneratorError(message: "archive writer stopped")
        }
        queued.signal()
    }

    /// Producer: no more blocks.
    func finish() {
        queue.withLock { $0.finished = true }
        queued.signal()
    }

    /// Consumer: the next block, or nil once the producer finished and the queue is empty.
    func take() -> [UInt8]? {
        queued.wait()
        let block = queue.withLock { $0.blocks.isEmpty ? nil : $0.blocks.removeFirst() }
        guard let block else {
            queued.signal()  // the end: later calls see it too
            return nil
        }
        freeSlots.signal()
        return block
    }

    /// Consumer: stop the producer (its next `put` throws) and drop pending blocks.
    func abandon() {
        queue.withLock {
            $0.consumerFailed = true
            $0.blocks.removeAll()
        }
        freeSlots.signal()
    }

    /// Runs `produce` on a new thread, feeding `consume` with its blocks on the calling
    /// thread; returns `produce`'s result. Errors from either side are rethrown (the
    /// consumer's first, as the producer's is then only "writer stopped").
    static func run<R>(
        produce: @escaping (BlockPipe) throws -> R,
        consume: ([UInt8]) throws -> Void
    ) throws -> R {
        let pipe = BlockPipe()
        let done = DispatchSemaphore(value: 0)
        let outcome = ResultSlot<R>()
        let producer = HandedOver(produce)
        let thread = Thread {
            outcome.result = Result { try producer.value(pipe) }
            pipe.finish()
            done.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
        var consumerError: Error?
        while let block = pipe.take() {
            do { try consume(block) } catch {
                consumerError = error
                pipe.abandon()
                break
            }
        }
        done.wait()
        if let consumerError { throw consumerError }
        return try outcome.result!.get()
    }
}

/// The producer's result.
///
/// `@unchecked Sendable`: written once by the producer thread before it signals `done`, read by the caller
/// only after `done.wait()` returned (the semaphore orders the two).
private final class ResultSlot<R>: @unchecked Sendable {
    var result: Result<R, any Error>?
}
