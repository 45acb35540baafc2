// libFuzzer target over the CSV reader (CSVRecordAssembler, CSVFieldSplitter), the row decoder
// (InteractionColumns, InteractionDecoder), the line splitter (LineSplitter) and the JSON line scanner
// (FlatJSONObject). Built by tools/fuzz together with those source files (not part of the package build):
// swiftc -sanitize=fuzzer,address.
//
// Input: byte 0 chooses a block size (1...64) and a time zone; the rest is CSV text, and also JSON lines.
// Checked on every input:
// - no crash, no sanitizer report, no hang (libFuzzer's -timeout);
// - the records are the same whether the bytes come in one block or in small blocks (and so is an error);
// - cut where CSVRecordAssembler.lastRecordEnd says a record ends (as the ingest cuts its chunks), the two
//   parts assembled apart give the same records, with the same line numbers counted on, as the whole;
// - a row the one-scan decoding (InteractionDecoder.decodePlainRow) takes gets the split decoding's values;
// - every accepted row satisfies the decoder's documented rules (ids and durations non-negative,
//   video_duration > 0, watch_ratio finite and >= 0, day and timestamp inside the accepted ranges);
// - the line splitter gives the lines of a plain split at "\n" whatever the block size;
// - every line the JSON scanner accepts has members whose offsets lie in order inside the line, and
//   round-trips: written back as JSON (keys and strings re-escaped, other values as written), it is
//   accepted again with the same decoded members; a line it refuses is refused the same way twice.
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

/// The bytes cut after the last record end in their first `prefix` bytes, each part assembled by an assembler
/// of its own: the records of the whole, the second part's lines counted on from the first's.
private func checkRecordEndCut(_ bytes: UnsafeRawBufferPointer, prefix: Int, whole: Assembled) {
    guard whole.errorLine == nil,
        let cut = CSVRecordAssembler.lastRecordEnd(UnsafeRawBufferPointer(rebasing: bytes[0..<min(prefix, bytes.count)]))
    else { return }
    let first = assemble(UnsafeRawBufferPointer(rebasing: bytes[0..<cut]), blockSize: max(1, cut))
    var second = assemble(UnsafeRawBufferPointer(rebasing: bytes[cut...]), blockSize: max(1, bytes.count - cut))
    let firstLines = Int64(bytes[0..<cut].filter { $0 == 0x0A }.count)
    second.lines = second.lines.map { $0 + firstLines }
    precondition(first.errorLine == nil && second.errorLine == nil, "a part of records alone fails")
    precondition(first.records + second.records == whole.records, "records differ when cut at a record end")
    precondition(first.lines + second.lines == whole.lines, "line numbers differ when cut at a record end")
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

    checkRecordEndCut(bytes, prefix: blockSize * 8, whole: whole)

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
    checkLines(bytes, blockSize: blockSize)
    // Every record also decodes (or is rejected) under KuaiRec's own header, and a record the one-scan decoding
    // takes (with a decoder used as the ingest uses it: that decoding first) gets exactly the split decoding's values.
    var decoder = InteractionDecoder(columns: try! InteractionColumns(header: defaultHeader), timeZone: zone)
    var plainDecoder = InteractionDecoder(columns: try! InteractionColumns(header: defaultHeader), timeZone: zone)
    for record in chunked.records {
        record.withUnsafeBytes { raw in
            let ok = splitter.split(raw)
            let outcome = decoder.decode(raw, fields: splitter, fieldsOK: ok)
            if case .accepted(let e, let day, _) = outcome {
                checkAccepted(e, day: day)
            }
            if let plain = plainDecoder.decodePlainRow(raw) {
                guard case .accepted(let e, let day, let disagrees) = outcome else {
                    preconditionFailure("a row decoded in one scan is rejected when split")
                }
                precondition(
                    plain.event.isExactDuplicate(of: e) && plain.day == day && plain.dateDisagreesWithTimestamp == disagrees,
                    "the one-scan decoding differs from the split decoding")
                precondition(
                    Array(plain.timeText) == splitter.withField(4, in: raw) { Array($0) }, "the time text differs")
            } else {
                _ = plainDecoder.decode(raw, fields: splitter, fieldsOK: ok)
            }
        }
    }
    return 0
}

/// One member as the scanner's caller sees it: key and value decoded, nil for null.
private struct DecodedMember: Equatable {
    var key: [UInt8]
    var kind: FlatJSONObject.ValueKind
    var value: [UInt8]
}

/// The decoded members of `line`, or the syntax error.
private func scan(_ line: UnsafeRawBufferPointer) -> Result<[DecodedMember], FlatJSONObject.SyntaxError> {
    var object = FlatJSONObject(line)
    var out: [DecodedMember] = []
    var previousEnd = 0
    do throws(FlatJSONObject.SyntaxError) {
        while let m = try object.next() {
            precondition(
                previousEnd <= m.keyStart && m.keyStart <= m.keyEnd && m.keyEnd < m.valueStart
                    && m.valueStart <= m.valueEnd && m.valueEnd <= line.count, "member offsets out of order")
            previousEnd = m.valueEnd
            var member = DecodedMember(key: [], kind: m.kind, value: [])
            let key = UnsafeRawBufferPointer(rebasing: line[m.keyStart..<m.keyEnd])
            let value = UnsafeRawBufferPointer(rebasing: line[m.valueStart..<m.valueEnd])
            precondition(key.firstIndex(of: 0x5C) == nil || m.keyHasEscapes, "an escaped key not flagged")
            if m.keyHasEscapes { FlatJSONObject.decodeString(key, into: &member.key) } else { member.key = Array(key) }
            if m.valueHasEscapes { FlatJSONObject.decodeString(value, into: &member.value) } else { member.value = Array(value) }
            out.append(member)
        }
        return .success(out)
    } catch {
        precondition(error.offset >= 0 && error.offset <= line.count, "error offset outside the line")
        return .failure(error)
    }
}

/// `members` written back as one JSON line: keys and strings escaped (`\"`, `\\`, `\uXXXX` below U+0020).
private func encode(_ members: [DecodedMember]) -> [UInt8] {
    func string(_ bytes: [UInt8], into out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(0x22)
        for b in bytes {
            switch b {
            case 0x22, 0x5C: out.append(contentsOf: [0x5C, b])
            case 0..<0x20: out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
            default: out.append(b)
            }
        }
        out.append(0x22)
    }
    var out: [UInt8] = [0x7B]
    for (i, m) in members.enumerated() {
        if i > 0 { out.append(0x2C) }
        string(m.key, into: &out)
        out.append(0x3A)
        if m.kind == .string { string(m.value, into: &out) } else { out.append(contentsOf: m.value) }
    }
    out.append(0x7D)
    return out
}

/// The lines of `bytes` fed in blocks of `blockSize` (with the last one `finish` gives).
private func splitLines(_ bytes: UnsafeRawBufferPointer, blockSize: Int) -> [[UInt8]] {
    var splitter = LineSplitter()
    var lines: [[UInt8]] = []
    var i = 0
    while i < bytes.count {
        let end = min(bytes.count, i + blockSize)
        let keepGoing = try! splitter.feed(UnsafeRawBufferPointer(rebasing: bytes[i..<end])) { line, number in
            precondition(number == Int64(lines.count + 1), "line numbers skip")
            lines.append(Array(line))
            return true
        }
        precondition(keepGoing)
        i = end
    }
    splitter.finish { line, _ in lines.append(Array(line)) }
    return lines
}

private func checkLines(_ bytes: UnsafeRawBufferPointer, blockSize: Int) {
    let lines = splitLines(bytes, blockSize: blockSize)
    var plain = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map { Array($0) }
    if plain.last?.isEmpty == true { plain.removeLast() }
    precondition(lines == plain, "the line splitter differs from a plain split")
    precondition(splitLines(bytes, blockSize: max(1, bytes.count)) == lines, "lines differ between block sizes")
    for line in lines {
        line.withUnsafeBytes { raw in
            switch scan(raw) {
            case .success(let members):
                let again = encode(members).withUnsafeBytes { scan($0) }
                guard case .success(let same) = again else { preconditionFailure("a re-encoded object is refused") }
                precondition(same == members, "members differ after a round trip")
            case .failure(let error):
                guard case .failure(let same) = scan(raw) else { preconditionFailure("scanning is not repeatable") }
                precondition(same == error, "scanning is not repeatable")
            }
        }
    }
}
