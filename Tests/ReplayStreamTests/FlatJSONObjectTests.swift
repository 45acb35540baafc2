import Foundation
import Testing

@testable import ReplayStream

/// The one JSON line scanner: flat objects only, numbers as written, strings decoded on request.
struct FlatJSONObjectTests {
    /// The members of `line` (key and value decoded, nil for null), or nil when it is not a flat object.
    func members(_ line: String) -> [String: String?]? {
        var out: [String: String?] = [:]
        let ok = Array(line.utf8).withUnsafeBytes { raw in
            FlatJSONObject.forEachMember(of: raw) { key, value in
                out.updateValue(value.map { String(decoding: $0, as: UTF8.self) }, forKey: String(decoding: key, as: UTF8.self))
            }
        }
        return ok ? out : nil
    }

    /// The syntax error `line` gets, or nil when it is a flat object.
    func syntaxError(_ line: String) -> FlatJSONObject.SyntaxError? {
        Array(line.utf8).withUnsafeBytes { raw -> FlatJSONObject.SyntaxError? in
            var object = FlatJSONObject(raw)
            do throws(FlatJSONObject.SyntaxError) {
                while let _ = try object.next() {}
                return nil
            } catch {
                return error
            }
        }
    }

    @Test func readsMembersAsWritten() {
        let m = members(#" {"user_id": 14, "watch_ratio":0.7226000000000001,"time":"2020-07-05 05:27:48.378","date":null} "#)
        #expect(m?["user_id"] == "14")
        #expect(m?["watch_ratio"] == "0.7226000000000001", "the digits as written, not reparsed")
        #expect(m?["time"] == "2020-07-05 05:27:48.378")
        #expect(m?.keys.contains("date") == true && m?["date"]! == nil, "null is an absent value")
        #expect(members("{}")?.isEmpty == true)
        #expect(members(" { } ")?.isEmpty == true)
        #expect(members(#"{"a":true,"b":false,"c":-0.5e+3}"#) == ["a": "true", "b": "false", "c": "-0.5e+3"])
    }

    @Test func membersAreOffsetsIntoTheLine() throws {
        let line = Array(#"{"k":"v\"w", "n" : 12}"#.utf8)
        let found: [FlatJSONObject.Member] = try line.withUnsafeBytes { raw in
            var object = FlatJSONObject(raw)
            var out: [FlatJSONObject.Member] = []
            while let m = try object.next() { out.append(m) }
            return out
        }
        #expect(found.count == 2)
        func text(_ r: Range<Int>) -> String { String(decoding: line[r], as: UTF8.self) }
        #expect(text(found[0].keyStart..<found[0].keyEnd) == "k" && found[0].kind == .string)
        #expect(text(found[0].valueStart..<found[0].valueEnd) == #"v\"w"# && found[0].valueHasEscapes)
        #expect(text(found[1].keyStart..<found[1].keyEnd) == "n" && !found[1].keyHasEscapes)
        #expect(text(found[1].valueStart..<found[1].valueEnd) == "12" && found[1].kind == .number)
    }

    @Test func decodesEscapes() {
        #expect(members(#"{"a":"x\"y\\z\n\u00e9\/"}"#)?["a"] == "x\"y\\z\né/")
        #expect(members(#"{"a\u0062":"\ud83d\ude00"}"#)?["ab"] == "😀", "a surrogate pair is one scalar")
        #expect(members(#"{"a":"\ud83d."}"#)?["a"] == "\u{FFFD}.", "a lone surrogate is U+FFFD")
    }

    @Test(arguments: [
        (#"{"a":{"b":1}}"#, FlatJSONObject.SyntaxError.Kind.nestedValue), (#"{"a":[1]}"#, .nestedValue),
        (#"{"a":1"#, .endsInsideObject), (#"{"a":1} x"#, .textAfterObject), (#"{"a" 1}"#, .colonExpected),
        (#"["a"]"#, .notAnObject), (#"{"a":"x"#, .unclosedString), (#"{"a":}"#, .badValue),
        (#"{"a":"\q"}"#, .badEscape), ("", .notAnObject), (#"{"a":"\u12"}"#, .badEscape),
        ("{\"a\":\"\t\"}", .controlCharacter), (#"{"a":01}"#, .commaOrBraceExpected), (#"{"a":.5}"#, .badValue),
        (#"{"a":1.}"#, .badValue), (#"{"a":1e}"#, .badValue), (#"{"a":nan}"#, .badValue),
        (#"{"a":nul}"#, .badValue), (#"{"a":truex}"#, .commaOrBraceExpected), (#"{"a":1,}"#, .keyExpected),
        (#"{a:1}"#, .keyExpected), (#"{"a":1 "b":2}"#, .commaOrBraceExpected), (#"{"a":-}"#, .badValue),
    ])
    func refusesWhatIsNotAFlatObject(line: String, kind: FlatJSONObject.SyntaxError.Kind) {
        #expect(members(line) == nil)
        #expect(syntaxError(line)?.kind == kind, "\(line)")
    }

    @Test func acceptsWhatFoundationAccepts() throws {
        for line in [#"{"a":1,"b":"x","c":null,"d":true,"e":-1.5E-7}"#, #"{"":0}"#, "{\"k\":\"é\\u0000\"}"] {
            let oracle = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let m = try #require(members(line))
            #expect(Set(m.keys) == Set(oracle.keys))
        }
    }
}
