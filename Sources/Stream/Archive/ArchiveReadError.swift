import Foundation

/// An error from reading an archive or compressed file through libarchive.
///
/// `message` says what went wrong in words a user can act on; `libraryMessage` keeps
/// `archive_error_string`'s text (or ISA-L's finding) and `status` the raw libarchive return code.
public struct ArchiveReadError: Error, CustomStringConvertible, Sendable {
    /// The archive (or nested member path, `outer.zip ▸ KuaiRec.zip`) being read.
    public var archive: String
    /// The member being read, when there is one.
    public var member: String?
    /// What went wrong.
    public var message: String
    /// The decoding library's own message, when it gave one (``library`` names the library).
    public var libraryMessage: String?
    /// The library that read the data: `libarchive`, or `ISA-L` for a member inflated by ``DeflateMemberReader``.
    public var library: String
    /// The raw libarchive status (`ARCHIVE_FATAL` = -30, ...), or 0.
    public var status: Int32
    /// How far reading had got when it failed (bytes and rows of the CSV), when known.
    public var progress: String?

    public init(
        archive: String, member: String? = nil, message: String, libraryMessage: String? = nil,
        library: String = "libarchive", status: Int32, progress: String? = nil
    ) {
        self.archive = archive
        self.member = member
        self.message = message
        self.libraryMessage = libraryMessage
        self.library = library
        self.status = status
        self.progress = progress
    }

    /// What a member whose data fails its CRC-32 or stated length is told.
    static let failsIntegrityCheck = "the member's data fails its integrity check (checksum or length): it is corrupt"
    /// What a member whose compressed data cannot be inflated is told.
    static let corruptData = "the compressed data is corrupt or truncated"

    public var description: String {
        var text = "\(archive)"
        if let member { text += " ▸ \(member)" }
        text += ": \(message)"
        if let libraryMessage, !libraryMessage.isEmpty { text += " (\(library): \(libraryMessage))" }
        if let progress { text += "; \(progress)" }
        if status != 0 { text += ". The file is damaged or was cut short: download or copy it again" }
        return text
    }
}
