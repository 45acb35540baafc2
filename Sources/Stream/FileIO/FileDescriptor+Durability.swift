import Foundation
import SystemPackage

extension FileDescriptor {
    /// Writes all of `bytes` at the current offset, retrying short writes and `EINTR`.
    ///
    /// The corresponding C function is `write` (through swift-system's `writeAll`).
    /// - Throws: ``POSIXFileError`` naming `path` and the `write` that failed.
    public func writeAll(_ bytes: UnsafeRawBufferPointer, path: String) throws(POSIXFileError) {
        guard !bytes.isEmpty else { return }
        do {
            try writeAll(bytes)
        } catch {
            throw POSIXFileError(path: path, operation: "write", (error as? Errno) ?? .ioError)
        }
    }

    /// Flushes the file's data and metadata to the disk.
    ///
    /// The corresponding C function is `fsync`.
    /// - Throws: ``POSIXFileError`` naming `path`.
    public func sync(path: String) throws(POSIXFileError) {
        try valueOrErrno(path: path, operation: "fsync") { fsync(rawValue) }
    }
}

/// Calls `body` (a C function returning -1 on failure and setting `errno`) until it does not fail with
/// `EINTR`; returns its result.
/// - Throws: ``POSIXFileError`` with `path`, `operation` and the `errno` the call set.
@discardableResult
@inline(__always)
func valueOrErrno<Value: BinaryInteger>(
    path: String, operation: String, _ body: () -> Value
) throws(POSIXFileError) -> Value {
    while true {
        let value = body()
        if value != -1 { return value }
        let code = errno
        if code == EINTR { continue }
        throw POSIXFileError(path: path, operation: operation, code: code)
    }
}
