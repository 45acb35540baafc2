import Foundation

/// Reads one JSON lines record that is a flat object (`{"user_id":14,"time":"2020-07-05 05:27:48.378",...}`)
/// into raw field texts: numbers exactly as written (so `watch_ratio` is parsed once, by the same
/// correctly rounded path as the CSV's), strings unescaped, `null` as absent.
///
/// Hand-written: Foundation's `JSONSerialization` turns numbers into `Double`s with its own parser
/// and allocates a dictionary per line; the panel needs the digits as written, bit-identical to the CSV path.
public enum FlatJSONObject {
    /// Calls `field(key, value)` for each member (value nil for `null`); false when the line is not a
    /// flat JSON object (nested objects and arrays included).
    public static func scan(
        _ line: UnsafeRawBufferPointer, _ field: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void
    ) -> Bool {
        var keyBuffer: [UInt8] = []
        var valueBuffer: [UInt8] = []
        var i = 0
        let n = line.count
        func skipSpace() {
            while i < n, line[i] == 0x20 || line[i] == 0x09 || line[i] == 0x0D || line[i] == 0x0A { i += 1 }
        }
        /// Reads a string at `i` (opening quote) into `out`; false when malformed.
        func string(into out: inout [UInt8]) -> Bool {
            out.removeAll(keepingCapacity: true)
            guard i < n, line[i] == 0x22 else { return false }
            i += 1
            while i < n {
                let b = line[i]
                if b == 0x22 {
                    i += 1
                    return true
                }
                if b < 0x20 { return false }
                if b == 0x5C {
                    guard i + 1 < n else { return false }
                    let e = line[i + 1]
                    i += 2
                    switch e {
                    case 0x22, 0x5C, 0x2F: out.append(e)
                    case 0x62: out.append(0x08)
                    case 0x66: out.append(0x0C)
                    case 0x6E: out.append(0x0A)
                    case 0x72: out.append(0x0D)
                    case 0x74: out.append(0x09)
                    case 0x75:
                        guard i + 4 <= n, let code = UInt32(String(decoding: line[i..<(i + 4)], as: UTF8.self), radix: 16)
                        else { return false }
                        i += 4
                        // Surrogates are kept as U+FFFD: no KuaiRec field holds text outside the BMP.
                        let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                    default: return false
                    }
                    continue
                }
                out.append(b)
                i += 1
            }
            return false
        }
        skipSpace()
        guard i < n, line[i] == 0x7B else { return false }
        i += 1
        skipSpace()
        if i < n, line[i] == 0x7D {
            i += 1
            skipSpace()
            return i == n
        }
        while true {
            skipSpace()
            guard string(into: &keyBuffer) else { return false }
            skipSpace()
            guard i < n, line[i] == 0x3A else { return false }
            i += 1
            skipSpace()
            guard i < n else { return false }
            let first = line[i]
            var isNull = false
            if first == 0x22 {
                guard string(into: &valueBuffer) else { return false }
            } else if first == 0x7B || first == 0x5B {
                return false
            } else {
                let start = i
                while i < n, line[i] != 0x2C, line[i] != 0x7D, line[i] != 0x20, line[i] != 0x09, line[i] != 0x0D {
                    i += 1
                }
                let token = UnsafeRawBufferPointer(rebasing: line[start..<i])
                guard !token.isEmpty else { return false }
                if token.elementsEqual("null".utf8) {
                    isNull = true
                } else {
                    // A number (or true/false): checked by the field's own parser, as a CSV field would be.
                    guard token.allSatisfy({ $0 == 0x2B || $0 == 0x2D || $0 == 0x2E || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x65 || $0 == 0x45 || ($0 >= 0x61 && $0 <= 0x7A) })
                    else { return false }
                    valueBuffer.removeAll(keepingCapacity: true)
                    valueBuffer.append(contentsOf: token)
                }
            }
            keyBuffer.withUnsafeBytes { key in
                if isNull {
                    field(key, nil)
                } else {
                    valueBuffer.withUnsafeBytes { field(key, $0) }
                }
            }
            skipSpace()
            guard i < n else { return false }
            if line[i] == 0x2C {
                i += 1
                continue
            }
            guard line[i] == 0x7D else { return false }
            i += 1
            skipSpace()
            return i == n
        }
    }
}
