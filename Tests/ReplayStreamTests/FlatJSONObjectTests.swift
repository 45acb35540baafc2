import Foundation
import Testing

@testable import ReplayStream

/// The JSON lines reader of live input: flat objects only, numbers as written, strings unescaped.
struct FlatJSONObjectTests {
    func members(_ line: String) -> [String: String?]? {
        var out: [String: String?] = [:]
        let ok = Array(line.utf8).withUnsafeBytes { raw in
            FlatJSONObject.scan(raw) { key, value in
                out.updateValue(value.map { String(decoding: $0, as: UTF8.self) }, forKey: String(decoding: key, as: UTF8.self))
            }
        }
        return ok ? out : nil
    }

    @Test func readsMembersAsWritten() {
        let m = members(#" {"user_id": 14, "watch_ratio":0.7226000000000001,"time":"2020-07-05 05:27:48.378","date":null} "#)
        #expect(m?["user_id"] == "14")
        #expect(m?["watch_ratio"] == "0.7226000000000001", "the digits as written, not reparsed")
        #expect(m?["time"] == "2020-07-05 05:27:48.378")
        #expect(m?.keys.contains("date") == true && m?["date"]! == nil, "null is an absent value")
        #expect(members("{}")?.isEmpty == true)
    }

    @Test func unescapesStrings() {
        let m = members(#"{"a":"x\"y\\z\n\u00e9"}"#)
        #expect(m?["a"] == "x\"y\\z\né")
    }

    @Test(arguments: [
        #"{"a":{"b":1}}"#, #"{"a":[1]}"#, #"{"a":1"#, #"{"a":1} x"#, #"{"a" 1}"#, #"["a"]"#, #"{"a":"x"#, #"{"a":}"#,
        #"{"a":"\q"}"#, "",
    ])
    func refusesWhatIsNotAFlatObject(line: String) {
        #expect(members(line) == nil)
    }
}
