import Foundation

/// The formats live input may come in.
public enum LiveInputFormat: String, Sendable, CaseIterable {
    /// CSV with KuaiRec's header (the header line first).
    case csv
    /// JSON lines, one flat object per row, with KuaiRec's column names as keys.
    case jsonl
}

/// Reads interaction rows from a pipe (stdin) as they arrive, in arrival order, and decodes each
/// with the archive path's ``InteractionDecoder``: the contract per row is the spine's.
///
/// It waits with `poll(2)` and a timeout, so the caller gets control back when the feed is quiet
/// (idle closes, checkpoints, stop requests) instead of blocking in `read`.
public final class LiveInput {
    /// What one ``pump(timeoutMs:_:)`` call saw.
    public enum Poll: Equatable {
        /// Bytes arrived (and every complete row in them was handed over).
        case data
        /// Nothing arrived before the timeout (or a signal interrupted the wait).
        case idle
        /// End of input: the last rows were handed over.
        case end
    }

    private let source: LiveByteSource
    /// The format: given, or detected from the first byte (`{` means JSON lines).
    public private(set) var format: LiveInputFormat?
    private let timeZone: TimeZone
    /// The input's name in messages (`stdin`).
    public let name: String
    private var buffer = [UInt8](repeating: 0, count: 1 << 20)
    private var assembler = CSVRecordAssembler()
    private var splitter = CSVFieldSplitter()
    /// The `time` field's last date read (it repeats from row to row).
    private var timeCache = NaiveTimeText.DateCache()
    private var decoder: InteractionDecoder?
    /// JSON lines are as long as a CSV record may be.
    private var jsonLines = LineSplitter(maxLineBytes: CSVRecordAssembler().maxRecordBytes)
    private var synthetic: [UInt8] = []
    private var values = [[UInt8]?](repeating: nil, count: InteractionColumns.required.count)
    /// The keys of the JSON object being read (a key that appears twice rejects the row).
    private var keysSeen: Set<[UInt8]> = []
    /// The stream's first bytes, held until it is known whether they are a UTF-8 byte-order mark (dropped).
    private var start: [UInt8]? = []
    /// Bytes read so far.
    public private(set) var bytesRead: Int64 = 0
    /// The line the CSV header was read from (nil before it, and for JSON lines, which have none).
    public private(set) var headerLine: Int64?
    /// The columns rows are decoded with: the CSV header's, or ``InteractionColumns/required`` in that order for
    /// JSON lines (each laid out as a CSV record); nil before the header.
    public private(set) var columns: InteractionColumns?
    /// The row being handed over, as the CSV record its fields index into (for JSON lines, the record its
    /// members were laid out as; empty for a line that is not a flat object). Set only during the row callback.
    private var currentRecord: UnsafeRawBufferPointer?

    /// Reads from `fd` (not closed here). `format` nil detects it from the first non-blank byte.
    public convenience init(fd: Int32, format: LiveInputFormat?, timeZone: TimeZone, name: String = "stdin") {
        self.init(source: DescriptorByteSource(fd: fd, name: name), format: format, timeZone: timeZone, name: name)
    }

    /// Reads the bytes `source` delivers. `format` nil detects it from the first non-blank byte.
    public init(source: LiveByteSource, format: LiveInputFormat?, timeZone: TimeZone, name: String) {
        self.source = source
        self.format = format
        self.timeZone = timeZone
        self.name = name
        if format == .jsonl { startJSON() }
    }

    private func startJSON() {
        // JSON members are laid out as a synthetic CSV record in the required columns' order.
        let required = try! InteractionColumns(header: InteractionColumns.required)
        columns = required
        decoder = InteractionDecoder(columns: required, timeZone: timeZone)
    }

    /// Shows the row being handed over to `observer` as the ingest pass shows a row: its CSV fields (for JSON
    /// lines, its members laid out in ``columns``' order) with `outcome`, which the caller may have changed
    /// (a row the feed rejects as late is shown as rejected). Call it only inside the row callback of
    /// ``pump(timeoutMs:_:)``; the observer is told the columns first (``IngestObserver/begin(columns:)``)
    /// when the caller's `begun` differs from them.
    /// - Throws: the observer's errors.
    public func show(
        currentRowTo observer: IngestObserver, outcome: InteractionDecoder.Outcome, begun: inout InteractionColumns?
    ) throws {
        guard let record = currentRecord, let columns else {
            preconditionFailure("LiveInput.show is called only inside the row callback")
        }
        if begun != columns {
            try observer.begin(columns: columns)
            begun = columns
        }
        try observer.observe(
            NotebookRow(record, fields: splitter, columns: columns, outcome: outcome, timeCache: &timeCache))
    }

    /// Waits up to `timeoutMs` for input, reads what is there, and calls `row(outcome, raw, line)` for
    /// every complete row (`raw` is valid only during the call; `line` is its line in this input).
    /// - Throws: ``CSVFormatError`` (a bad header, an over-long line), `POSIXFileError` when reading fails,
    ///   and `row`'s errors.
    public func pump(
        timeoutMs: Int32, _ row: (InteractionDecoder.Outcome, UnsafeRawBufferPointer, Int64) throws -> Void
    ) throws -> Poll {
        let n: Int
        switch try source.read(into: &buffer, timeoutMs: timeoutMs) {
        case .idle: return .idle
        case .end:
            try finish(row)
            return .end
        case .bytes(let count): n = count
        }
        bytesRead += Int64(n)
        try buffer.withUnsafeBytes { all in
            try feed(UnsafeRawBufferPointer(rebasing: all[0..<n]), row)
        }
        return .data
    }

    private func feed(
        _ block: UnsafeRawBufferPointer, _ row: (InteractionDecoder.Outcome, UnsafeRawBufferPointer, Int64) throws -> Void
    ) throws {
        if start != nil {
            // A UTF-8 byte-order mark at the start of the stream is no part of the first row, in either format.
            start!.append(contentsOf: block)
            guard let held = start, held.count >= 3 || !Self.byteOrderMark.starts(with: held) else { return }
            start = nil
            let rest = held.starts(with: Self.byteOrderMark) ? Array(held.dropFirst(3)) : held
            try rest.withUnsafeBytes { try feed($0, row) }
            return
        }
        if format == nil {
            guard let first = block.first(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D && $0 != 0x0A }) else {
                // Only blank bytes so far: kept for the CSV assembler (blank lines are skipped anyway).
                _ = try assembler.feed(block) { _, _ in true }
                return
            }
            format = first == 0x7B ? .jsonl : .csv
            if format == .jsonl { startJSON() }
        }
        switch format! {
        case .csv:
            do {
                _ = try assembler.feed(block) { record, line in
                    try csvRecord(record, line: line, row)
                    return true
                }
            } catch var error as CSVFormatError {
                error.source = name
                throw error
            }
        case .jsonl:
            try feedJSON(block, row)
        }
    }

    private static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    private func finish(_ row: (InteractionDecoder.Outcome, UnsafeRawBufferPointer, Int64) throws -> Void) throws {
        if let held = start, !held.isEmpty {
            // The stream ended within its first three bytes, which began like a byte-order mark.
            start = nil
            try held.withUnsafeBytes { try feed($0, row) }
        }
        start = nil
        switch format {
        case .csv?, nil:
            do {
                try assembler.finish { record, line in
                    try csvRecord(record, line: line, row)
                    return true
                }
            } catch var error as CSVFormatError {
                error.source = name
                throw error
            }
        case .jsonl?:
            try jsonLines.finish { line, number in try jsonRecord(line, line: number, row) }
        }
    }

    private func csvRecord(
        _ record: UnsafeRawBufferPointer, line: Int64,
        _ row: (InteractionDecoder.Outcome, UnsafeRawBufferPointer, Int64) throws -> Void
    ) throws {
        if record.isEmpty { return }  // blank lines are skipped, as pandas does
        guard decoder != nil else {
            let found = try Ingest.readHeader(record, line: line, splitter: &splitter)
            columns = found
            decoder = InteractionDecoder(columns: found, timeZone: timeZone)
            headerLine = line
            return
        }
        let ok = splitter.split(record)
        currentRecord = record
        defer { currentRecord = nil }
        try row(decoder!.decode(record, fields: splitter, fieldsOK: ok), record, line)
    }

    /// Hands over a JSON line that is not a flat object (`outcome` rejects it): shown to an observer with no
    /// fields, as a row whose values cannot be read.
    private func unreadableJSON(
        _ record: UnsafeRawBufferPointer, line: Int64, outcome: InteractionDecoder.Outcome,
        _ row: (InteractionDecoder.Outcome, UnsafeRawBufferPointer, Int64) throws -> Void
    ) throws {
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        _ = splitter.split(empty)
        currentRecord = empty
        defer { currentRecord = nil }
        try row(outcome, record, line)
    }

    private func feedJSON(
        _ block: UnsafeRawBufferPointer, _ row: (InteractionDecoder.Outcome, UnsafeRawBufferPointer, Int64) throws -> Void
    ) throws {
        do {
            _ = try jsonLines.feed(block) { line, number in
                try jsonRecord(line, line: number, row)
                return true
            }
        } catch let error as LineTooLongError {
            throw CSVFormatError(
                line: error.line,
                message: "a line is longer than \(error.limit) bytes; this is not a JSON lines interaction feed",
                source: name)
        }
    }

    /// One JSON line: its members are laid out as a CSV record in ``InteractionColumns/required``
    /// order (missing and null members as empty fields) and decoded as the CSV path would.
    private func jsonRecord(
        _ rawLine: UnsafeRawBufferPointer, line: Int64,
        _ row: (InteractionDecoder.Outcome, UnsafeRawBufferPointer, Int64) throws -> Void
    ) throws {
        let record = CSVRecordAssembler.trimCR(rawLine)
        if record.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }
        for i in values.indices { values[i] = nil }
        keysSeen.removeAll(keepingCapacity: true)
        var duplicateKey = false
        let flat = FlatJSONObject.forEachMember(of: record) { key, value in
            if !keysSeen.insert(key).inserted { duplicateKey = true }
            guard let value, let i = LiveInput.requiredIndex(key) else { return }
            values[i] = value
        }
        guard flat else {
            try unreadableJSON(record, line: line, outcome: .rejected(.malformedJSON), row)
            return
        }
        if duplicateKey {
            // `replay export` refuses a panel line with a key twice; a row is refused the same way.
            try unreadableJSON(record, line: line, outcome: .rejected(.duplicateKey), row)
            return
        }
        synthetic.removeAll(keepingCapacity: true)
        for (i, value) in values.enumerated() {
            if i > 0 { synthetic.append(0x2C) }
            guard let value else { continue }
            if value.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) {
                synthetic.append(0x22)
                for b in value {
                    if b == 0x22 { synthetic.append(0x22) }
                    synthetic.append(b)
                }
                synthetic.append(0x22)
            } else {
                synthetic.append(contentsOf: value)
            }
        }
        try synthetic.withUnsafeBytes { csv in
            let ok = splitter.split(csv)
            let outcome = decoder!.decode(csv, fields: splitter, fieldsOK: ok)
            currentRecord = csv
            defer { currentRecord = nil }
            try row(outcome, record, line)
        }
    }

    private static let requiredKeys: [[UInt8]] = InteractionColumns.required.map { Array($0.utf8) }

    private static func requiredIndex(_ key: [UInt8]) -> Int? { requiredKeys.firstIndex(of: key) }
}

/// Where a live feed's bytes come from: a descriptor (standard input), or messages (a Kafka topic).
public protocol LiveByteSource: AnyObject {
    /// Waits up to `timeoutMs` for input and copies what arrived to the start of `buffer` (growing it if a source
    /// delivers whole messages longer than it): `.bytes(n)` with n > 0, `.idle` when nothing arrived, `.end` at
    /// the end of input.
    /// - Throws: the source's read errors.
    func read(into buffer: inout [UInt8], timeoutMs: Int32) throws -> LiveByteRead
}

/// What one ``LiveByteSource/read(into:timeoutMs:)`` got.
public enum LiveByteRead: Equatable, Sendable {
    /// `n` bytes, at the start of the buffer.
    case bytes(Int)
    /// Nothing arrived before the timeout (or a signal interrupted the wait).
    case idle
    /// End of input.
    case end
}

/// A descriptor's bytes, waited for with `poll(2)`.
public final class DescriptorByteSource: LiveByteSource {
    private let fd: Int32
    private let name: String

    /// Reads `fd` (not closed here); `name` is what errors call it.
    public init(fd: Int32, name: String) {
        self.fd = fd
        self.name = name
    }

    public func read(into buffer: inout [UInt8], timeoutMs: Int32) throws -> LiveByteRead {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&pfd, 1, timeoutMs)
        if ready < 0 {
            if errno == EINTR { return .idle }
            throw POSIXFileError(path: name, operation: "poll", code: errno)
        }
        if ready == 0 { return .idle }
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
        if n < 0 {
            if errno == EINTR || errno == EAGAIN { return .idle }
            throw POSIXFileError(path: name, operation: "read", code: errno)
        }
        return n == 0 ? .end : .bytes(n)
    }
}
