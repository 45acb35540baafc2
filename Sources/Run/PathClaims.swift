import Foundation

/// The paths a command reads and writes, named by the options that gave them, checked against each other
/// before anything is read or written: no output may be a file the command reads, another output, or lie
/// inside the state folder.
///
/// Paths are compared as the system sees them: symlinks, `./` and `..` resolved, and an existing file by its
/// device and inode (a hard link is the same file). A path that does not exist yet is compared by its
/// resolved parent folder and its name. `-` is standard input when read and standard output when written;
/// two outputs cannot both be `-`. Devices, FIFOs and sockets (`/dev/null`, `/dev/stdout` on a pipe or a
/// terminal, a named pipe) are written in place and never collide with anything.
public struct PathClaims: Sendable {
    /// What a command does with a path.
    public enum Role: Sendable, Equatable {
        /// The command reads it (an input).
        case read
        /// The command writes it (an output).
        case write
        /// The command's state folder: replay's own, so no output may be in it.
        case stateFolder
    }

    /// One path a command uses.
    public struct Claim: Sendable, Equatable {
        /// The option that named it, as the user typed it (`--out`, `INPUT`).
        public var option: String
        /// The path as given.
        public var path: String
        /// What the command does with it.
        public var role: Role
    }

    /// The claims, in the order they were listed.
    public private(set) var claims: [Claim] = []

    public init() {}

    /// Lists a path the command reads (nothing when `path` is nil).
    public mutating func reads(_ path: String?, as option: String) { add(path, option, .read) }

    /// Lists a path the command writes (nothing when `path` is nil).
    public mutating func writes(_ path: String?, as option: String) { add(path, option, .write) }

    /// Lists the command's state folder (nothing when `path` is nil).
    public mutating func stateFolder(_ path: String?, as option: String) { add(path, option, .stateFolder) }

    private mutating func add(_ path: String?, _ option: String, _ role: Role) {
        if let path { claims.append(Claim(option: option, path: path, role: role)) }
    }

    /// Checks every output against every other claim, then that no output names an existing folder.
    /// - Throws: ``PathCollision`` for the first output that collides (naming both options) or is a folder.
    public func check() throws(PathCollision) {
        let resolved = claims.map { ResolvedPath($0) }
        for (i, output) in resolved.enumerated() where output.claim.role == .write {
            for (j, other) in resolved.enumerated() where j != i {
                if other.claim.role == .write && j > i { continue }  // each pair of outputs once
                if let kind = output.collision(with: other) {
                    throw PathCollision(kind: kind, output: output.claim, other: other.claim)
                }
            }
        }
        for output in resolved where output.claim.role == .write && output.isFolder {
            throw PathCollision(kind: .folder, output: output.claim, other: output.claim)
        }
    }
}

/// An output that would destroy or mix with another path of the same command.
public struct PathCollision: Error, Equatable, CustomStringConvertible, Sendable {
    /// How the paths collide.
    public enum Kind: Sendable, Equatable {
        /// Both name the same file (or folder).
        case sameFile
        /// The output is inside the state folder (or is the folder).
        case insideStateFolder
        /// Both outputs are standard output (`-`).
        case bothStandardOutput
        /// The output names an existing folder (`other` is the output itself): a file cannot be written there.
        case folder
    }

    /// How they collide.
    public var kind: Kind
    /// The output.
    public var output: PathClaims.Claim
    /// The path it collides with (an input, another output, the state folder).
    public var other: PathClaims.Claim

    public var description: String {
        switch kind {
        case .sameFile: return "\(output.option) and \(other.option) are the same file (\(output.path))"
        case .insideStateFolder:
            return "\(output.option) \(output.path) is inside the state folder \(other.option) \(other.path)"
        case .bothStandardOutput: return "\(output.option) and \(other.option) are both standard output (-)"
        case .folder: return "\(output.option) \(output.path) is a folder"
        }
    }
}

/// A claim's path as the system sees it.
private struct ResolvedPath {
    let claim: PathClaims.Claim
    /// The absolute path with symlinks, `.` and `..` resolved (for a path that does not exist, its nearest
    /// existing ancestor resolved, then the rest).
    let canonical: String
    /// Device and inode, when the path exists.
    let fileID: FileID?
    /// True for an existing device, FIFO or socket (written in place; collides with nothing).
    let isSpecial: Bool
    /// True for `-` (standard input or output).
    let isStandardStream: Bool
    /// True for an existing folder (or a symlink to one).
    let isFolder: Bool

    struct FileID: Equatable {
        var device: UInt64
        var inode: UInt64
    }

    init(_ claim: PathClaims.Claim) {
        self.claim = claim
        isStandardStream = claim.path == "-"
        canonical = isStandardStream ? "-" : PathResolution.canonical(claim.path)
        var status = stat()
        if !isStandardStream, stat(claim.path, &status) == 0 {
            fileID = FileID(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
            let type = status.st_mode & S_IFMT
            isSpecial = type != S_IFREG && type != S_IFDIR
            isFolder = type == S_IFDIR
        } else {
            fileID = nil
            isSpecial = false
            isFolder = false
        }
    }

    /// How this output collides with `other`, or nil.
    func collision(with other: ResolvedPath) -> PathCollision.Kind? {
        if isStandardStream || other.isStandardStream {
            let bothOutputs = isStandardStream && other.isStandardStream && other.claim.role == .write
            return bothOutputs ? .bothStandardOutput : nil
        }
        if isSpecial || other.isSpecial { return nil }
        if other.claim.role == .stateFolder {
            let inside = canonical == other.canonical || canonical.hasPrefix(other.canonical == "/" ? "/" : other.canonical + "/")
            return inside || (fileID != nil && fileID == other.fileID) ? .insideStateFolder : nil
        }
        if let fileID, fileID == other.fileID { return .sameFile }
        return canonical == other.canonical ? .sameFile : nil
    }
}

/// Resolving paths the way `open` will: symlinks followed, `.` and `..` taken after them.
enum PathResolution {
    /// The absolute, resolved form of `path`, whether or not it exists.
    static func canonical(_ path: String, depth: Int = 0) -> String {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        if let real = realPath(absolute) { return real }
        // A dangling symlink: `open(O_CREAT)` creates its target.
        if depth < 40, let target = try? FileManager.default.destinationOfSymbolicLink(atPath: absolute) {
            let parent = (absolute as NSString).deletingLastPathComponent
            return canonical(target.hasPrefix("/") ? target : parent + "/" + target, depth: depth + 1)
        }
        let trimmed = absolute.hasSuffix("/") && absolute.count > 1 ? String(absolute.dropLast()) : absolute
        let parent = (trimmed as NSString).deletingLastPathComponent
        let name = (trimmed as NSString).lastPathComponent
        if parent == trimmed || name.isEmpty { return trimmed }
        let resolvedParent = canonical(parent, depth: depth + 1)
        switch name {
        case ".": return resolvedParent
        case "..": return (resolvedParent as NSString).deletingLastPathComponent
        default: return resolvedParent == "/" ? "/" + name : resolvedParent + "/" + name
        }
    }

    /// `realpath(3)`: nil when the path does not exist.
    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
