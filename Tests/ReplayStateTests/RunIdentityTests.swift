import Foundation
import Testing

@testable import ReplayState

@Suite struct RunIdentityTests {
    private static let current: RunIdentity = {
        var identity = RunIdentity(
            inputPath: "in.zip", inputSize: 10, inputModified: 1, matrix: "small", rowLimit: nil, thresholds: "batch",
            timeZone: "Asia/Shanghai", output: "p.jsonl")
        identity.inputContent = "zip directory 100 bytes, XXH64 0123456789abcdef"
        return identity
    }()

    @Test func aStateMadeBeforeContentWasRecordedResumesButItsIngestIsNotReused() throws {
        var old = try JSONSerialization.jsonObject(with: JSONEncoder().encode(Self.current)) as! [String: Any]
        old.removeValue(forKey: "inputContent")
        let stored = try JSONDecoder().decode(RunIdentity.self, from: JSONSerialization.data(withJSONObject: old))
        #expect(stored.inputContent == nil)
        #expect(Self.current.differences(from: stored).isEmpty)
        #expect(!Self.current.hasSameIngest(as: stored))
    }

    @Test func anotherContentIsADifference() {
        var stored = Self.current
        stored.inputContent = "zip directory 100 bytes, XXH64 fedcba9876543210"
        #expect(Self.current.differences(from: stored) == [.inputContent(stored: stored.inputContent!, current: Self.current.inputContent!)])
        #expect(!Self.current.hasSameIngest(as: stored))
        #expect(Self.current.hasSameIngest(as: Self.current))
    }
}
