// libFuzzer target over the ISA-L fast path (DeflateMemberReader): the member reader that inflates a zip member
// and checks its CRC-32 and sizes. Built by tools/fuzz with that source, ZipMember.swift and ArchiveReadError.swift
// (not part of the package build): swiftc -sanitize=fuzzer,address, linked with ISA-L.
//
// Input: byte 0 chooses what is done to the stream, byte 1 the read size (1...256 bytes, or 64 KiB), bytes 2-5 a
// position or amount; the rest is a payload.
// - mode 0: the payload itself is the deflate stream (random and mutated streams), with sizes and CRC-32 from
//   bytes 2-5 and the payload's length;
// - modes 1-5: the payload is deflated by ISA-L (isal_deflate_stateless) and the member is described truly, then
//   1 leaves it, 2 flips a byte of the stream, 3 cuts the stream short (the directory states the cut length, or
//   the full one as when the file ends early),
//   4 states a wrong CRC-32, 5 states a wrong inflated size.
// Checked on every input: no crash, no sanitizer report, no hang; every failure is an ArchiveReadError naming
// ISA-L; an intact member inflates to the payload exactly, whatever the read size; a wrong CRC-32 or size is never
// accepted; a cut stream is never accepted; an accepted member has exactly the stated size.
import Foundation
internal import CISAL

/// `payload` deflated (raw deflate) by ISA-L.
private func deflate(_ payload: [UInt8]) -> [UInt8] {
    var stream = isal_zstream()
    isal_deflate_stateless_init(&stream)
    var output = [UInt8](repeating: 0, count: payload.count + payload.count / 2 + 1024)
    var input = payload
    let status = input.withUnsafeMutableBufferPointer { inBuffer in
        output.withUnsafeMutableBufferPointer { outBuffer in
            stream.next_in = inBuffer.baseAddress
            stream.avail_in = UInt32(inBuffer.count)
            stream.next_out = outBuffer.baseAddress
            stream.avail_out = UInt32(outBuffer.count)
            stream.end_of_stream = 1
            return isal_deflate_stateless(&stream)
        }
    }
    precondition(status == COMP_OK, "isal_deflate_stateless failed: \(status)")
    return Array(output[0..<Int(stream.total_out)])
}

/// The standard CRC-32 (zip's) of `bytes`.
private func crc32(_ bytes: [UInt8]) -> UInt32 {
    bytes.withUnsafeBufferPointer { crc32_gzip_refl(0, $0.baseAddress, UInt64($0.count)) }
}

/// Inflates `stream` as a member described by `crc`, `size` and `compressedSize` (default: the stream's length);
/// the bytes, or the error (which must be ISA-L's).
private func inflate(
    _ stream: [UInt8], crc: UInt32, size: Int64, compressedSize: Int64? = nil, readSize: Int
) -> Result<[UInt8], ArchiveReadError> {
    let member = ZipMember(
        path: "m.csv", method: 8, flags: 0, crc32: crc, compressedSize: compressedSize ?? Int64(stream.count),
        uncompressedSize: size, localHeaderOffset: 0)
    var position = 0
    // A 4 KiB compressed buffer, so that streams longer than it are refilled in the middle.
    let reader = DeflateMemberReader(member: member, archive: "fuzz.zip", bufferSize: 4096) { buffer in
        let n = min(buffer.count, stream.count - position)
        for i in 0..<n { buffer[i] = stream[position + i] }
        position += n
        return n
    }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: readSize)
    do {
        while true {
            let n = try chunk.withUnsafeMutableBytes { try reader.read(into: $0) }
            if n == 0 { break }
            precondition(n == readSize || n < readSize, "read more than the buffer")
            out += chunk[0..<n]
        }
    } catch let error as ArchiveReadError {
        precondition(error.library == "ISA-L", "an error not from ISA-L: \(error)")
        return .failure(error)
    } catch {
        preconditionFailure("unexpected error type \(error)")
    }
    return .success(out)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 6 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let mode = Int(bytes[0] % 6)
    let readSize = bytes[1] == 255 ? 1 << 16 : Int(bytes[1]) + 1
    let word = UInt32(bytes[2]) | UInt32(bytes[3]) << 8 | UInt32(bytes[4]) << 16 | UInt32(bytes[5]) << 24
    let payload = Array(bytes[6...])
    if mode == 0 {
        // Random bytes as a deflate stream: whatever happens, an accepted stream has the stated size and CRC-32.
        let stated = Int64(word % 65_536)
        if case .success(let out) = inflate(payload, crc: word, size: stated, readSize: readSize) {
            precondition(Int64(out.count) == stated && crc32(out) == word, "accepted a stream unlike its directory entry")
        }
        return 0
    }
    let stream = deflate(payload)
    let crc = crc32(payload), length = Int64(payload.count)
    switch mode {
    case 1:
        guard case .success(let out) = inflate(stream, crc: crc, size: length, readSize: readSize) else {
            preconditionFailure("an intact member was refused")
        }
        precondition(out == payload, "an intact member inflated to other bytes")
    case 2:
        var flipped = stream
        flipped[Int(word) % flipped.count] ^= UInt8(truncatingIfNeeded: word >> 8) | 1
        if case .success(let out) = inflate(flipped, crc: crc, size: length, readSize: readSize) {
            precondition(out == payload, "a flipped stream was accepted with other bytes")
        }
    case 3:
        // Cut: the directory states the cut length, or (the file ends early) the full one.
        let cut = Array(stream.prefix(Int(word) % stream.count))
        let stated = bytes[2] & 1 == 0 ? nil : Int64(stream.count)
        if case .success = inflate(cut, crc: crc, size: length, compressedSize: stated, readSize: readSize) {
            preconditionFailure("a stream cut short was accepted")
        }
    case 4:
        if case .success = inflate(stream, crc: crc ^ (word | 1), size: length, readSize: readSize) {
            preconditionFailure("a wrong CRC-32 was accepted")
        }
    default:
        let wrong = bytes[2] & 1 == 1 && length > 0 ? Int64(word) % length : length + Int64(word % 1000) + 1
        if case .success = inflate(stream, crc: crc, size: wrong, readSize: readSize) {
            preconditionFailure("a wrong size was accepted")
        }
    }
    return 0
}
