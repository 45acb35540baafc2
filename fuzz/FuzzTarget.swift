// libFuzzer target over the CSV reader (CSVRecordAssembler, CSVFieldSplitter) and the row decoder
// (InteractionColumns, InteractionDecoder). Built by tools/fuzz together with those source files
// (not part of the package build): swiftc -sanitize=fuzzer,address.
//
// Input: byte 0 chooses a block size (1...64) and a time zone; the rest is CSV text. Checked on every input:
// - no crash, no sanitizer report, no hang (libFuzzer's -timeout);
// - the records are the same whether the bytes come in one block or in small blocks (and so is an error);
// - every accepted row satisfies the decoder's documented rules (ids and durations non-negative,
//   video_duration > 0, watch_ratio finite and >= 0, day and timestamp inside the accepted ranges).
import Foundation

private let defaultHeader = InteractionColumns.required
private let zones = [TimeZone(identifier: "Asia/Shanghai")!, TimeZone(identifier: "UTC")!,
                     TimeZone(identifier: "America/New_York")!, TimeZone(identifier: "Pacific/Chatham")!]

/// What assembling produced: the records with their line numbers, and the error line if any.
private struct Assembled: Equatable {
    var records: [[UInt8]] = []
    var lines: [Int64] = []
    var errorLine: Int64? = nil
}

private func assemble(_ bytes: UnsafeRawBufferPointer, blockSize: Int) -> Assembled {
    var assembler = CSVRecordAssembler(maxRecordBytes: 512)
    var out = Assembled()
    do {
        var i = 0
        while i < bytes.count {
            let end = min(bytes.count, i + blockSize)
            _ = try assembler.feed(UnsafeRawBufferPointer(rebasing: bytes[i..<end])) { record, line in
                out.records.append(Array(record))
                out.lines.append(line)
                return true
            }
            i = end
        }
        try assembler.finish { record, line in
            out.records.append(Array(record))
            out.lines.append(line)
            return true
        }
    } catch let error as CSVFormatError {
        out.errorLine = error.line
    } catch {
        fatalError("unexpected error type \(error)")
    }
    return out
}

private func checkAccepted(_ e: Interaction, day: CalendarDay) {
    precondition(e.userID >= 0 && e.videoID >= 0, "negative id accepted")
    precondition(e.playDurationMs >= 0 && e.videoDurationMs > 0, "bad duration accepted")
    precondition(e.watchRatio.isFinite && e.watchRatio >= 0, "bad watch_ratio accepted")
    precondition(InteractionDecoder.dayRange.contains(day), "day out of range accepted")
    precondition(
        e.timestampMs == Interaction.missingTimestamp || InteractionDecoder.timestampRange.contains(e.timestampMs),
        "timestamp out of range accepted")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let blockSize = Int(data[0] & 0x3F) + 1
    let zone = zones[Int(data[0] >> 6)]
    let bytes = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    let whole = assemble(bytes, blockSize: max(1, bytes.count))
    let chunked = assemble(bytes, blockSize: blockSize)
    // An over-long record may be noticed a few records later in one big block than in small ones
    // (never earlier): compare the records both delivered before any error.
    if whole.errorLine == nil && chunked.errorLine == nil {
        precondition(whole == chunked, "records differ between block sizes")
    } else {
        let n = min(whole.records.count, chunked.records.count)
        precondition(Array(whole.records.prefix(n)) == Array(chunked.records.prefix(n)), "records differ before the error")
        precondition(Array(whole.lines.prefix(n)) == Array(chunked.lines.prefix(n)), "line numbers differ before the error")
    }

    // The first record as the header, when it names the required columns (in any order, with extras).
    var splitter = CSVFieldSplitter()
    if let header = chunked.records.first {
        let names: [String] = header.withUnsafeBytes { raw in
            _ = splitter.split(raw)
            return (0..<splitter.fieldCount).map { i in
                splitter.withField(i, in: raw) { String(decoding: $0, as: UTF8.self) }
            }
        }
        if let columns = try? InteractionColumns(header: names) {
            var decoder = InteractionDecoder(columns: columns, timeZone: zone)
            for record in chunked.records.dropFirst() {
                record.withUnsafeBytes { raw in
                    let ok = splitter.split(raw)
                    if case .accepted(let e, let day, _) = decoder.decode(raw, fields: splitter, fieldsOK: ok) {
                        checkAccepted(e, day: day)
                    }
                }
            }
        }
    }
    // Every record also decodes (or is rejected) under KuaiRec's own header.
    var decoder = InteractionDecoder(columns: try! InteractionColumns(header: defaultHeader), timeZone: zone)
    for record in chunked.records {
        record.withUnsafeBytes { raw in
            let ok = splitter.split(raw)
            if case .accepted(let e, let day, _) = decoder.decode(raw, fields: splitter, fieldsOK: ok) {
                checkAccepted(e, day: day)
            }
        }
    }
    return 0
}
