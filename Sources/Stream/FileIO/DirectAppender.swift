import Dispatch
import Foundation
import Synchronization

/// `O_DIRECT`, which Glibc's module leaves out (it is defined under `_GNU_SOURCE` only): the values of Linux's
/// `bits/fcntl-linux.h` (x86) and `asm-generic/fcntl.h`'s arm64 override.
#if os(Linux) && (arch(x86_64) || arch(i386))
    private let openDirect: Int32? = 0o40000
#elseif os(Linux) && arch(arm64)
    private let openDirect: Int32? = 0o200000
#else
    private let openDirect: Int32? = nil
#endif

/// Appends to a regular file around the page cache: its whole 4 KiB blocks are written with `O_DIRECT` (the
/// device reads them from a buffer of ours, the kernel copies nothing), the part of a block after the last one
/// through the file's ordinary descriptor.
///
/// Why: copying the panel's gigabytes into page-cache pages was the largest system-time cost of a run. On a VM
/// that backs a page only when the guest first touches it after freeing it, a buffered write of a file larger
/// than the memory freed just before costs several times a direct write (a 3.1 GB `dd`: 7.9-10 s buffered,
/// 2.7-3.0 s with `oflag=direct`; docs/DEVELOPING.md, "Performance").
///
/// How: the bytes appended are copied into an aligned buffer until ``coalescedBytes`` have come (``flush()``
/// sends them sooner). A full buffer goes to a queue of its own, which writes its whole blocks through the direct
/// descriptor and then its tail (less than a block, ending where the last append ended: on a line end for
/// `ByteOutput`) through the ordinary one, while the next appends fill another buffer (``bufferCount`` in all,
/// written in the order they were sent); the tail is copied to the start of that buffer too, so that the next
/// direct write rewrites its block whole (the kernel writes the tail's cached page back and drops it first). A reader
/// of the file therefore sees a partial last line only between a write's two calls, as inside one buffered write,
/// which the kernel copies a page at a time.
///
/// When `O_DIRECT` is refused (some filesystems accept the flag at `open` and refuse the write: `EINVAL`), every
/// later buffer is written through the ordinary descriptor, in the same order.
///
/// Threads: the caller appends from one thread (or serial queue) at a time; the state is behind a lock, and the
/// buffers are lent to the write queue and back (``buffers``). A write's error is thrown by the next call.
public final class DirectAppender: Sendable {
    /// The alignment of the direct writes' memory, offsets and lengths: 4 KiB, a multiple of every logical block
    /// size Linux uses for `O_DIRECT` on disks (512 or 4096).
    public static let blockSize = 4096
    /// The bytes gathered before a write unless the opener says otherwise: each write pays for the tail's page
    /// written back before the next direct write (a synchronous 4 KiB I/O), so writes of 4 MiB keep that to about
    /// 750 for a 3 GB file.
    public static let defaultCoalescedBytes = 4 << 20
    /// The buffers: one filling while up to three wait for their writes or are written, so that the appending thread
    /// goes on through a slow write (the disk's or the page cache's) instead of waiting for it. Whole big runs writing
    /// every revision as JSON lines (3.1 GB, 3 rounds): the replay phase's median 3.64 s with two, 3.38 s with four,
    /// 3.32 s with eight (whose 16 MiB more raised the peak).
    static let bufferCount = 4
    /// Bytes gathered before a write, and each of the buffers' size: a buffer is sent once it holds this many (a
    /// tail carried into it is less than a block, so it is never full before that). A multiple of ``blockSize``, at
    /// least two blocks.
    public let coalescedBytes: Int

    private let path: String
    private let fd: Int32
    private let directFD: Int32
    /// The buffer being filled and where it goes.
    private let state: TracedMutex<State>
    /// The buffers not being filled or written (addresses of ``coalescedBytes`` each, 4 KiB aligned), and a count of
    /// them to wait on: ``bufferCount`` in all, so that some are written while one fills. Invariant (the buffers are
    /// raw memory kept as addresses): a buffer is written into only as `state`'s buffer, under its lock, by the
    /// appending thread; once sent, only its write block reads it, until the block puts it back here; it is freed by
    /// ``close()`` after every write block has ended (or by `deinit`, when none can be running).
    private let buffers: TracedMutex<[UInt]>
    private let freeBuffers = DispatchSemaphore(value: DirectAppender.bufferCount - 1)
    private let writes = DispatchQueue(label: "replay.direct-writes")
    private let failure = FirstFailure()
    /// How far past their allocations the buffers start (0 but in a test).
    private let memoryOffset: UInt
    /// Set by the first direct write `EINVAL` refuses: every later buffer goes through `fd`.
    private let refused = Atomic<Bool>(false)

    private struct State: Sendable {
        /// The buffer being filled (an address), 0 once closed.
        var buffer: UInt
        /// The file offset of its first byte (a multiple of ``blockSize``).
        var offset: Int64
        /// Bytes in it.
        var count: Int
        /// Its first bytes already in the file (the tail of the last write, or the head read back at the start).
        var written: Int
    }

    /// An appender to the file open as `fd` (a regular file, about to be written at `start`, which it ends at), or
    /// nil when the file cannot be opened for direct writes (then the caller writes it as before). The direct
    /// descriptor is the same open file, reopened through `/proc/self/fd`, so no other file can be put in its place.
    /// `coalescedBytes`: the bytes gathered before a write (a multiple of ``blockSize``, at least two blocks).
    /// - Throws: ``POSIXFileError`` when the bytes of `start`'s block before `start` cannot be read back.
    public static func open(
        fd: Int32, start: Int64, path: String, coalescedBytes: Int = defaultCoalescedBytes
    ) throws -> DirectAppender? {
        try open(fd: fd, start: start, path: path, coalescedBytes: coalescedBytes, memoryOffset: 0)
    }

    /// ``open(fd:start:path:coalescedBytes:)`` with the buffers' addresses `memoryOffset` bytes past their
    /// alignment: a test gives 1 to have every direct write refused (`EINVAL`), as a filesystem may refuse them.
    static func open(
        fd: Int32, start: Int64, path: String, coalescedBytes: Int = defaultCoalescedBytes, memoryOffset: Int
    ) throws -> DirectAppender? {
        precondition(
            coalescedBytes >= 2 * blockSize && coalescedBytes % blockSize == 0,
            "a direct write gathers whole blocks, at least two")
        guard let direct = openDirect else { return nil }
        let directFD = Foundation.open("/proc/self/fd/\(fd)", O_WRONLY | direct | O_CLOEXEC)
        guard directFD >= 0 else { return nil }
        var memory: [UInt] = []
        for _ in 0..<DirectAppender.bufferCount {
            var pointer: UnsafeMutableRawPointer?
            guard posix_memalign(&pointer, blockSize, coalescedBytes + memoryOffset) == 0, let pointer else {
                memory.forEach { free(UnsafeMutableRawPointer(bitPattern: $0 - UInt(memoryOffset))) }
                Foundation.close(directFD)
                throw POSIXFileError(path: path, operation: "allocate the direct write buffers", code: ENOMEM)
            }
            memory.append(UInt(bitPattern: pointer) + UInt(memoryOffset))
        }
        let head = Int(start % Int64(blockSize))
        let offset = start - Int64(head)
        do {
            try readFully(fd, into: UnsafeMutableRawPointer(bitPattern: memory[0])!, count: head, at: offset, path: path)
        } catch {
            memory.forEach { free(UnsafeMutableRawPointer(bitPattern: $0 - UInt(memoryOffset))) }
            Foundation.close(directFD)
            throw error
        }
        return DirectAppender(
            path: path, fd: fd, directFD: directFD, first: State(buffer: memory[0], offset: offset, count: head, written: head),
            spare: Array(memory[1...]), coalescedBytes: coalescedBytes, memoryOffset: memoryOffset)
    }

    private init(
        path: String, fd: Int32, directFD: Int32, first: State, spare: [UInt], coalescedBytes: Int, memoryOffset: Int
    ) {
        self.coalescedBytes = coalescedBytes
        self.memoryOffset = UInt(memoryOffset)
        self.path = path
        self.fd = fd
        self.directFD = directFD
        state = TracedMutex(first)
        buffers = TracedMutex(spare)
    }

    /// Appends `bytes` (sent to be written once ``coalescedBytes`` are waiting).
    /// - Throws: a write's ``POSIXFileError``.
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        try failure.check()
        // The caller's bytes, read only inside this call (their buffer outlives it), passed to the locked section
        // as an address: a pointer is not `Sendable`, and the section's value may not take one in.
        let source = UInt(bitPattern: bytes.baseAddress)
        var from = 0
        while from < bytes.count {
            // The buffer is filled up to `coalescedBytes` (its size), then sent.
            let (copied, full) = state.withLock { [from, total = bytes.count, path, coalescedBytes] state in
                precondition(state.buffer != 0, "DirectAppender(\(path)) appended to after close()")
                let n = min(total - from, coalescedBytes - state.count)
                UnsafeMutableRawPointer(bitPattern: state.buffer)!.advanced(by: state.count)
                    .copyMemory(from: UnsafeRawPointer(bitPattern: source)!.advanced(by: from), byteCount: n)
                state.count += n
                return (n, state.count >= coalescedBytes)
            }
            from += copied
            if full { sendBuffer() }
        }
    }

    /// Writes every byte appended and waits until the writes are done.
    /// - Throws: a write's ``POSIXFileError``.
    public func flush() throws {
        sendBuffer()
        writes.sync {}
        try failure.check()
    }

    /// True while writes go around the page cache (false once `O_DIRECT` was refused).
    public var isDirect: Bool { !refused.load(ordering: .relaxed) }

    /// Waits for the writes sent, closes the direct descriptor and frees the buffers (bytes not flushed are dropped).
    /// Idempotent.
    public func close() {
        writes.sync {}
        release()
    }

    // Only when an owner failed to close it: the descriptor and the buffers are released, nothing is written. (No
    // write is in flight: each holds the appender until it ends.)
    deinit { release() }

    private func release() {
        let current = state.withLock { state in
            defer { state.buffer = 0 }
            return state.buffer
        }
        guard current != 0 else { return }
        free(UnsafeMutableRawPointer(bitPattern: current - memoryOffset))
        buffers.withLock { $0 }.forEach { free(UnsafeMutableRawPointer(bitPattern: $0 - memoryOffset)) }
        Foundation.close(directFD)
    }

    /// Sends the buffer being filled to the write queue, if it holds bytes not yet in the file, and takes a free one
    /// (waiting while every other is sent and not yet written), with the sent one's tail at its start.
    private func sendBuffer() {
        let pending = state.withLock { $0.count > $0.written }
        guard pending else { return }
        freeBuffers.wait()
        let next = buffers.withLock { $0.removeLast() }
        let sent = state.withLock { state in
            let sent = state
            let whole = state.count / DirectAppender.blockSize * DirectAppender.blockSize
            let tail = state.count - whole
            UnsafeMutableRawPointer(bitPattern: next)!.copyMemory(
                from: UnsafeRawPointer(bitPattern: state.buffer)!.advanced(by: whole), byteCount: tail)
            state = State(buffer: next, offset: state.offset + Int64(whole), count: tail, written: tail)
            return sent
        }
        writes.async { [self] in
            defer {
                buffers.withLock { $0.append(sent.buffer) }
                freeBuffers.signal()
            }
            if failure.hasFailed { return }
            do {
                try write(sent)
            } catch {
                failure.record(error)
            }
        }
    }

    /// Writes `buffer`'s bytes not yet in the file: its whole blocks directly (those already written included), then
    /// its tail through `fd`; all of them through `fd` once direct writes are refused.
    private func write(_ buffer: State) throws(POSIXFileError) {
        let memory = UnsafeRawPointer(bitPattern: buffer.buffer)!
        var from = buffer.written
        if !refused.load(ordering: .relaxed) {
            let whole = buffer.count / DirectAppender.blockSize * DirectAppender.blockSize
            var done = 0
            while done < whole {
                let n = pwrite(directFD, memory + done, whole - done, off_t(buffer.offset) + off_t(done))
                if n < 0, errno == EINTR { continue }
                if n < 0, errno == EINVAL, done == 0 {
                    refused.store(true, ordering: .relaxed)
                    break
                }
                guard n > 0 else { throw POSIXFileError(path: path, operation: "write", code: n == 0 ? EIO : errno) }
                done += n
            }
            if done == whole { from = max(from, whole) }
        }
        var done = from
        while done < buffer.count {
            let n = pwrite(fd, memory + done, buffer.count - done, off_t(buffer.offset) + off_t(done))
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw POSIXFileError(path: path, operation: "write", code: n == 0 ? EIO : errno) }
            done += n
        }
    }

    /// Reads `count` bytes of `fd` at `offset` into `memory`.
    private static func readFully(
        _ fd: Int32, into memory: UnsafeMutableRawPointer, count: Int, at offset: Int64, path: String
    ) throws(POSIXFileError) {
        var done = 0
        while done < count {
            let n = pread(fd, memory + done, count - done, off_t(offset) + off_t(done))
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw POSIXFileError(path: path, operation: "read back the last block", code: n == 0 ? EIO : errno) }
            done += n
        }
    }
}
