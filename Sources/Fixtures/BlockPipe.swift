import Foundation

/// A bounded hand-off of byte blocks from one producer thread to one consumer, so CSV
/// generation (producer) runs on a second core while libarchive deflates (consumer).
/// Deflate at level 6 is the bottleneck (~18 MB/s here); generation is hidden behind it.
final class BlockPipe: @unchecked Sendable {
    private let condition = NSCondition()
    private var blocks: [[UInt8]] = []
    private var finished = false
    private var consumerFailed = false
    private let depth: Int

    init(depth: Int = 4) { self.depth = depth }

    /// Producer: queues a block, waiting while `depth` blocks are pending.
    /// Throws if the consumer gave up.
    func put(_ block: [UInt8]) throws {
        condition.lock()
        defer { condition.unlock() }
        while blocks.count >= depth && !consumerFailed { condition.wait() }
        if consumerFailed { throw GeneratorError(message: "archive writer stopped") }
        blocks.append(block)
        condition.broadcast()
    }

    /// Producer: no more blocks.
    func finish() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// Consumer: the next block, or nil once the producer finished and the queue is empty.
    func take() -> [UInt8]? {
        condition.lock()
        defer { condition.unlock() }
        while blocks.isEmpty && !finished { condition.wait() }
        if blocks.isEmpty { return nil }
        let block = blocks.removeFirst()
        condition.broadcast()
        return block
    }

    /// Consumer: stop the producer (its next `put` throws) and drop pending blocks.
    func abandon() {
        condition.lock()
        consumerFailed = true
        blocks.removeAll()
        condition.broadcast()
        condition.unlock()
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
        let box = ResultBox<R>()
        let thread = Thread {
            do { box.result = .success(try produce(pipe)) } catch { box.result = .failure(error) }
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
        return try box.result!.get()
    }
}

private final class ResultBox<R>: @unchecked Sendable {
    var result: Result<R, Error>?
}
