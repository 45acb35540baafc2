import ReplayStream

/// Writes user-day records as JSON lines: one object per line, keys in the notebook's column
/// order, then `revision` and `final`. Counts are integers, unknown values `null`.
public final class JSONLinesSink: RecordSink {
    private let output: ByteOutput
    private var keyPrefixes: [[UInt8]]

    /// Writes to `output`.
    public init(output: ByteOutput) {
        self.output = output
        keyPrefixes = UserDayRecord.columnNames.enumerated().map { i, name in
            Array(((i == 0 ? "{\"" : ",\"") + name + "\":").utf8)
        }
    }

    /// Bytes written so far.
    public var length: Int64 { output.length }

    public func write(_ record: UserDayRecord) throws {
        try output.append { out in JSONLinesSink.render(record, keys: self.keyPrefixes, into: &out) }
    }

    public func flush() throws -> Int64 {
        try output.flush()
        return output.length
    }

    public func sync() throws { try output.fsyncFlushed() }

    /// Renders one record (exposed for tests and tools).
    public static func render(_ record: UserDayRecord) -> [UInt8] {
        let keys = UserDayRecord.columnNames.enumerated().map { i, name in
            Array(((i == 0 ? "{\"" : ",\"") + name + "\":").utf8)
        }
        var out: [UInt8] = []
        render(record, keys: keys, into: &out)
        return out
    }

    static func render(_ r: UserDayRecord, keys: [[UInt8]], into out: inout [UInt8]) {
        var k = 0
        @inline(__always) func key() {
            out.append(contentsOf: keys[k])
            k += 1
        }
        @inline(__always) func int(_ v: Int64) {
            key()
            JSONBytes.appendInt(v, to: &out)
        }
        @inline(__always) func double(_ v: Double) {
            key()
            JSONBytes.appendDouble(v, to: &out)
        }
        @inline(__always) func count(_ v: Double) {
            key()
            JSONBytes.appendCount(v, to: &out)
        }
        let d = r.daily
        int(Int64(r.userID))
        key()
        out.append(0x22)
        out.append(contentsOf: r.day.description.utf8)
        out.append(0x22)
        int(Int64(d.interactions))
        int(Int64(d.uniqueVideos))
        int(d.totalPlayDurationMs)
        double(d.avgPlayDurationMs)
        double(d.avgVideoDurationMs)
        double(d.avgWatchRatio)
        int(Int64(d.highWatchCount))
        int(Int64(d.completeOrRewatchCount))
        double(d.totalPlayDurationSec)
        double(d.avgPlayDurationSec)
        double(d.avgVideoDurationSec)
        double(d.highWatchShare)
        double(d.completeOrRewatchShare)
        int(Int64(d.activeDay))
        // lag_1_* and prior_3day_*: active_day and interactions are counts, the rest floats.
        for c in 0..<5 {
            if c < 2 {
                count(r.lag1[c])
                count(r.prior3[c])
            } else {
                double(r.lag1[c])
                double(r.prior3[c])
            }
        }
        for c in 0..<3 {
            for h in 1...7 {
                if c < 2 { count(r.lead(h, column: c)) } else { double(r.lead(h, column: c)) }
            }
        }
        count(r.lead(1, column: 0))
        count(r.lead(1, column: 1))
        double(r.lead(1, column: 2))
        count(r.future(3, column: 0))
        count(r.future(3, column: 1))
        double(r.future(3, column: 2))
        count(r.future(7, column: 0))
        count(r.future(7, column: 1))
        double(r.future(7, column: 2))
        int(Int64(r.treatmentHighIntensity))
        int(Int64(r.treatmentHighWatchExposure))
        out.append(contentsOf: Array(",\"revision\":".utf8))
        JSONBytes.appendInt(Int64(r.revision), to: &out)
        out.append(contentsOf: r.isFinal ? Array(",\"final\":true}\n".utf8) : Array(",\"final\":false}\n".utf8))
    }
}

/// Writes rejected rows as JSON lines: `{"line":N,"reason":"...","raw":"..."}`.
public final class JSONRejectsWriter: RejectWriter {
    private let output: ByteOutput
    /// Rows written.
    public private(set) var count = 0

    /// Writes to `output`.
    public init(output: ByteOutput) { self.output = output }

    public func reject(line: Int64, reason: RejectReason, raw: UnsafeRawBufferPointer) throws {
        try output.append { out in
            out.append(contentsOf: Array("{\"line\":".utf8))
            JSONBytes.appendInt(line, to: &out)
            out.append(contentsOf: Array(",\"reason\":".utf8))
            JSONBytes.appendString(reason.rawValue, to: &out)
            out.append(contentsOf: Array(",\"raw\":".utf8))
            JSONBytes.appendString(raw, to: &out)
            out.append(contentsOf: [0x7D, 0x0A])
        }
        count += 1
    }

    /// Makes the rejects durable.
    public func sync() throws { _ = try output.sync() }
}
