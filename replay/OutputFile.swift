import ReplayStream
import SystemPackage

/// A file a command writes whole (`--summary-json`, `report --json`, `inspect --json`): `-` is standard
/// output; any other path is replaced atomically (``AtomicFile``: a device or a FIFO is written in place).
enum OutputFile {
    /// Writes `bytes` to `path` (`-`: standard output).
    /// - Throws: ``POSIXFileError`` naming the file (`standard output` for `-`).
    static func write(_ bytes: [UInt8], to path: String) throws {
        if path == "-" {
            try bytes.withUnsafeBytes { try FileDescriptor.standardOutput.writeAll($0, path: "standard output") }
        } else {
            try AtomicFile.write(bytes, to: path)
        }
    }

    /// The path in messages: `standard output` for `-`.
    static func name(_ path: String) -> String { path == "-" ? "standard output" : path }
}
