import Foundation
import SystemPackage

/// A system call on a file failed: which call, on which file, and the `errno` it set.
public struct POSIXFileError: Error, CustomStringConvertible, Sendable {
    /// The file (or `standard input`, `standard output`).
    public var path: String
    /// The call that failed, in words (`open`, `write`, `fsync`, `rename from X`, ...).
    public var operation: String
    /// The `errno` value the call set.
    public var code: Int32

    /// The failure of `operation` on `path` with `errno` value `code`.
    public init(path: String, operation: String, code: Int32) {
        self.path = path
        self.operation = operation
        self.code = code
    }

    /// The failure of `operation` on `path` with `errno`.
    public init(path: String, operation: String, _ errno: Errno) {
        self.init(path: path, operation: operation, code: errno.rawValue)
    }

    /// The error code as swift-system's type.
    public var errno: Errno { Errno(rawValue: code) }

    /// True when the disk (or a quota, or the file-size limit) is full.
    public var isDiskFull: Bool { code == ENOSPC || code == EDQUOT || code == EFBIG }

    public var description: String {
        let reason = String(cString: strerror(code))
        let hint = isDiskFull ? " — free some space and rerun the same command; the run resumes from its last checkpoint" : ""
        return "\(path): \(operation) failed: \(reason)\(hint)"
    }
}

/// A file of a run (its state folder's or its output) does not hold what the run wrote there or what a
/// checkpoint promised (it was cut short, or changed by someone else). No system call failed: the contents
/// are wrong, and the run cannot resume from them (the command line says how to start over).
public struct DamagedFileError: Error, CustomStringConvertible, Sendable {
    /// The file.
    public var path: String
    /// What is wrong with it, e.g. `it is 17 bytes, not a whole number of 40-byte events`.
    public var problem: String

    /// `path` is damaged: `problem`.
    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "\(path): \(problem)" }
}
