/// The notebook's archive inventory: the outer download's members and the inner `KuaiRec.zip`'s
/// `KuaiRec 2.0/data/` members, with their uncompressed sizes.
///
/// Only headers are read: a zip opened from a file is read through its central directory (libarchive's
/// seekable reader), and `KuaiRec.zip` is stored in the download, so it is opened in place. A
/// compressed inner zip is read streaming, which inflates its members to step over them.
public struct ArchiveInventory: Sendable, Equatable {
    /// One member: its path inside its archive and its uncompressed size in bytes (nil when unknown).
    public struct Member: Sendable, Equatable {
        public var path: String
        public var bytes: Int64?
    }

    /// The input's own members (`outer_inventory`).
    public var outer: [Member]
    /// The data members of the inner archive (`inner_inventory`): every member under `KuaiRec 2.0/data/`.
    public var inner: [Member]

    /// The inner archive's member prefix the notebook keeps.
    public static let dataPrefix = "KuaiRec 2.0/data/"

    /// Lists `input` (the download, or `KuaiRec.zip` itself, whose data members then make `inner`).
    /// - Throws: ``ArchiveReadError`` when the archive is damaged, ``InputError`` when it is not an archive.
    public static func read(input: String) throws -> ArchiveInventory {
        let reader = try ArchiveReader(path: input)
        var outer: [Member] = []
        var inner: [Member] = []
        while let entry = try reader.nextEntry() {
            if reader.isRawFormat {
                throw InputError(input: input, message: "not an archive (a single file); inspect lists zip archives")
            }
            let path = entry.isDirectory && !entry.path.hasSuffix("/") ? entry.path + "/" : entry.path
            outer.append(Member(path: path, bytes: entry.size))
            if NSStringPath(path).base == "KuaiRec.zip" {
                let nested: ArchiveReader
                if let range = reader.storedMemberRange(size: entry.size), let file = reader.filePath {
                    nested = try ArchiveReader(path: file, start: range.start, length: range.length, name: "\(input) ▸ \(path)")
                } else {
                    nested = try ArchiveReader(nestedIn: reader, name: path)
                }
                while let e = try nested.nextEntry() {
                    let p = e.isDirectory && !e.path.hasSuffix("/") ? e.path + "/" : e.path
                    if p.hasPrefix(dataPrefix) { inner.append(Member(path: p, bytes: e.size)) }
                }
            }
        }
        if !outer.contains(where: { NSStringPath($0.path).base == "KuaiRec.zip" }) {
            inner = outer.filter { $0.path.hasPrefix(dataPrefix) }
        }
        return ArchiveInventory(outer: outer, inner: inner)
    }
}

/// The last path component of an archive member path (`a/b/KuaiRec.zip` → `KuaiRec.zip`).
struct NSStringPath {
    let base: String
    init(_ path: String) {
        base = path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? path
    }
}
