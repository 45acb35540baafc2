import Foundation
internal import CISAL
internal import CPrefetch

/// Which inflater reads a deflated zip member: `auto` takes ISA-L where ``DeflateMemberReader`` can address the
/// member and libarchive everywhere else; `libarchive` and `isal` force one (a test runs each on the same input).
public enum InflateChoice: String, Sendable, CaseIterable {
    case auto, libarchive, isal
}

/// Inflates one deflated zip member with Intel ISA-L (`isal_inflate`) and checks it as libarchive does: the
/// CRC-32 and both sizes its central directory states. Owns its `struct inflate_state` and buffers.
///
/// Hand-written around ISA-L because libarchive inflates with zlib, about 3.6 times slower on KuaiRec's CSVs; the
/// member is found by ``ZipDirectory`` (its offset, sizes and CRC-32), and its compressed bytes come from
/// `readCompressed` (a `pread` of the file in a run, memory in the fuzz target).
///
/// ISA-L inflates into a buffer of the reader's own (``stage``, 256 KiB: it stays in this core's cache), copied
/// into the caller's by streaming stores (`replay_copy_streaming`). Inflated straight into the prefetcher's chunks,
/// whose lines the parse workers had read on the other core, ISA-L's stores each had to take a line back first: in
/// stretches where the machine's shared caches were slow, ISA-L took 1.5-1.9 s of its thread's CPU for the big
/// matrix's member, where it takes 1.1 s alone (`igzip` beside it 1.1 s; the same run pinned to one core 1.07 s).
///
/// Not thread-safe: one reader is used by one thread at a time (the prefetcher's).
public final class DeflateMemberReader {
    /// The inflater's state (about 40 KB), allocated once and freed in deinit.
    private let state: UnsafeMutablePointer<inflate_state>
    /// Compressed bytes read ahead of the inflater; `state.next_in` points into it.
    private let input: UnsafeMutableRawBufferPointer
    /// Inflated bytes handed out by ``nextBlock()``.
    private let output: UnsafeMutableRawBufferPointer
    /// What each `isal_inflate` call inflates into, then copied out (``read(into:)``).
    private let stage: UnsafeMutableRawBufferPointer
    /// Bytes of ``stage``: small enough to stay in this core's L2 beside ISA-L's tables and window.
    static let stageBytes = 256 << 10
    private let readCompressed: (UnsafeMutableRawBufferPointer) throws -> Int
    private let expected: ZipMember
    private let archive: String
    /// Compressed bytes read from the source so far.
    public private(set) var compressedRead: Int64 = 0
    /// Bytes inflated so far (those of a read that failed included: how far a failed read got).
    public private(set) var inflated: Int64 = 0
    private var finished = false

    /// A reader of `member`, whose compressed bytes `readCompressed` fills a buffer with, in order (0 at their end).
    /// - Parameter archive: what errors call the zip (`18164998.zip ▸ KuaiRec.zip`).
    public init(
        member: ZipMember, archive: String, bufferSize: Int = 1 << 20,
        readCompressed: @escaping (UnsafeMutableRawBufferPointer) throws -> Int
    ) {
        state = .allocate(capacity: 1)
        isal_inflate_init(state)
        // Raw deflate (no gzip header or trailer), CRC-32 of the output kept in `state.crc` as it goes.
        state.pointee.crc_flag = UInt32(ISAL_GZIP_NO_HDR)
        input = .allocate(byteCount: bufferSize, alignment: 64)
        output = .allocate(byteCount: bufferSize, alignment: 64)
        stage = .allocate(byteCount: Self.stageBytes, alignment: 64)
        self.readCompressed = readCompressed
        expected = member
        self.archive = archive
    }

    deinit {
        state.deallocate()
        input.deallocate()
        output.deallocate()
        stage.deallocate()
    }

    /// Where the member's compressed data starts in its file (0 when the bytes do not come from a file).
    public internal(set) var fileStart: Int64 = 0

    /// The next block of the member's inflated bytes, nil at its end.
    /// - Warning: The block is valid only until the next call.
    /// - Throws: ``ArchiveReadError`` when the data cannot be inflated or fails its CRC-32 or sizes.
    public func nextBlock() throws -> UnsafeRawBufferPointer? {
        let n = try read(into: output)
        return n == 0 ? nil : UnsafeRawBufferPointer(rebasing: output[0..<n])
    }

    /// Inflates the member's next bytes into `destination` (as many as fit, fewer only at the member's end);
    /// returns how many, 0 at the end. At the end the CRC-32 and sizes have been checked.
    /// - Throws: ``ArchiveReadError`` when the data cannot be inflated or fails its CRC-32 or sizes.
    public func read(into destination: UnsafeMutableRawBufferPointer) throws -> Int {
        guard !finished, let base = destination.baseAddress, destination.count > 0 else { return 0 }
        var produced = 0
        while produced < destination.count && !finished {
            if state.pointee.avail_in == 0 && compressedRead < expected.compressedSize {
                try refill()
            }
            let room = min(destination.count - produced, stage.count)
            state.pointee.next_out = stage.baseAddress!.assumingMemoryBound(to: UInt8.self)
            state.pointee.avail_out = UInt32(room)
            let status = isal_inflate(state)
            if status < 0 {
                throw failure(ArchiveReadError.corruptData, detail: "invalid deflate data (isal_inflate returned \(status))")
            }
            let made = room - Int(state.pointee.avail_out)
            replay_copy_streaming(base + produced, stage.baseAddress!, made)
            produced += made
            inflated += Int64(made)
            if inflated > expected.uncompressedSize {
                throw failure(
                    ArchiveReadError.failsIntegrityCheck,
                    detail: "more than the \(expected.uncompressedSize) bytes the zip directory states")
            }
            if state.pointee.block_state == ISAL_BLOCK_FINISH {
                finished = true
                try checkEnd()
            } else if made == 0 && state.pointee.avail_in == 0 && compressedRead == expected.compressedSize {
                throw failure(
                    ArchiveReadError.corruptData,
                    detail: "the deflate stream does not end within the \(expected.compressedSize) compressed bytes the zip directory states")
            }
        }
        return produced
    }

    /// Reads the next compressed bytes into `input`.
    private func refill() throws {
        let want = Int(min(Int64(input.count), expected.compressedSize - compressedRead))
        let n = try readCompressed(UnsafeMutableRawBufferPointer(rebasing: input[0..<want]))
        guard n > 0 else {
            throw failure(
                ArchiveReadError.corruptData,
                detail: "the file ends \(expected.compressedSize - compressedRead) bytes before the member's compressed data does")
        }
        compressedRead += Int64(n)
        state.pointee.next_in = input.baseAddress!.assumingMemoryBound(to: UInt8.self)
        state.pointee.avail_in = UInt32(n)
    }

    /// Checks the finished member against its directory entry: every compressed byte used, the size and CRC-32.
    private func checkEnd() throws {
        let used = compressedRead - Int64(state.pointee.avail_in)
        if used != expected.compressedSize {
            throw failure(
                ArchiveReadError.failsIntegrityCheck,
                detail: "the deflate stream ends after \(used) of the \(expected.compressedSize) compressed bytes the zip directory states")
        }
        if inflated != expected.uncompressedSize {
            throw failure(
                ArchiveReadError.failsIntegrityCheck,
                detail: "\(inflated) bytes inflated, the zip directory states \(expected.uncompressedSize)")
        }
        let crc = state.pointee.crc
        if crc != expected.crc32 {
            throw failure(
                ArchiveReadError.failsIntegrityCheck,
                detail: "CRC-32 \(hex(crc)), the zip directory states \(hex(expected.crc32))")
        }
    }

    private func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }

    private func failure(_ message: String, detail: String) -> ArchiveReadError {
        ArchiveReadError(
            archive: archive, member: expected.path, message: message, libraryMessage: detail, library: "ISA-L",
            status: -30)
    }
}
