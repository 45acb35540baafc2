import Foundation
import ReplayStream

/// Which folders replay treats as its own state folder, and the marker that says so.
///
/// Replay writes ``StateStore/markerName`` (one format line) into every state folder it uses, before anything
/// else. A folder is replay's when it holds that marker, when it is new or empty, or when it is the state of
/// an older replay that wrote no marker (its `lmdb/` opens and holds a run's identity; the marker is then
/// added). Any other folder with entries is not replay's: a run refuses it, `--fresh` included, and deletes
/// nothing in it.
extension StateStore {
    /// The marker file in a state folder replay made.
    public static let markerName = "replay-state"
    /// The marker's contents: one format line (the folder layout's, not the binary state's version).
    static let markerLine = "replay state folder, format 1\n"

    /// Who a folder belongs to, for a run that would use it as its state folder.
    public enum Ownership: Sendable, Equatable {
        /// Missing, or empty: replay makes it its own.
        case new
        /// Replay's: it holds the marker, or (`marked` false) an older replay's state without one.
        case replays(marked: Bool)
        /// Not replay's: it has entries (sorted) and neither the marker nor a replay state database.
        case other(entries: [String])
    }

    /// Who `directory` belongs to (it must be a folder or missing).
    public static func ownership(of directory: String) -> Ownership {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0 != AtomicFile.partialPath(for: markerName) }  // a marker write cut short
        if names.isEmpty { return .new }
        if hasMarker(directory) { return .replays(marked: true) }
        if names.contains("lmdb") && holdsRunIdentity(directory) { return .replays(marked: false) }
        return .other(entries: names.sorted())
    }

    /// True when `directory` holds replay's marker.
    public static func hasMarker(_ directory: String) -> Bool {
        let path = (directory as NSString).appendingPathComponent(markerName)
        guard let data = FileManager.default.contents(atPath: path) else { return false }
        return data.starts(with: Array(markerLine.prefix(while: { $0 != "," }).utf8))
    }

    /// Writes the marker into `directory` (durably, whole).
    /// - Throws: ``POSIXFileError``.
    public static func mark(_ directory: String) throws {
        try AtomicFile.write(Array(markerLine.utf8), to: (directory as NSString).appendingPathComponent(markerName))
    }

    /// True when `directory/lmdb` opens read-only and records a run (of any state format version): the
    /// state of a replay from before the marker.
    private static func holdsRunIdentity(_ directory: String) -> Bool {
        guard let store = try? StateStore(directory: directory, readOnly: true) else { return false }
        do {
            return try store.identity() != nil
        } catch let error as StateError {
            if case .formatVersion = error.kind { return true }
            return false
        } catch {
            return false
        }
    }
}
