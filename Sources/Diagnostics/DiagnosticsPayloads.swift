import Foundation
import ReplayStream

/// How the diagnostics' states are stored in a state folder: as named payloads, JSON-encoded, which the
/// engine and the state store keep without knowing what they are.
public enum DiagnosticsPayloads {
    /// The interaction-level tables, recorded with the ingest pass.
    public static let interaction = "interaction_diagnostics"
    /// The panel-level running state, in every checkpoint.
    public static let panel = "panel_diagnostics"
    /// Every payload the diagnostics store, for a report.
    public static let all = [interaction, panel]

    /// Encodes a payload.
    /// - Throws: when the value cannot be encoded (a non-finite number).
    public static func encode(_ value: some Encodable) throws -> [UInt8] { Array(try JSONEncoder().encode(value)) }

    /// Decodes a payload, nil when none is stored.
    /// - Throws: when the bytes are not a payload of this version.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]?) throws -> T? {
        guard let bytes else { return nil }
        return try JSONDecoder().decode(T.self, from: Data(bytes))
    }
}
