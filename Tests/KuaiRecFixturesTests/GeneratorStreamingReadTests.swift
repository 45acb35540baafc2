import CArchive
import Foundation
import Testing

@testable import KuaiRecFixtures

/// Reads generated archives the way a streaming consumer does: the outer zip through a
/// read callback with no seek callback, and the inner KuaiRec.zip through a second
/// libarchive reader whose read callback pulls `archive_read_data` from the first.
@Suite struct GeneratorStreamingReadTests {
    /// Callback state: a file descriptor, or an outer archive to pull from.
    final class Source {
        let fd: Int32
        let outer: OpaquePointer?
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 16)
        init(fd: Int32 = -1, outer: OpaquePointer? = nil) { self.fd = fd; self.outer = outer }
        deinit { buffer.deallocate() }
    }

    static func readCallback(
        _: OpaquePointer?, _ clientData: UnsafeMutableRawPointer?, _ out: UnsafeMutablePointer<UnsafeRawPointer?>?
    ) -> la_ssize_t {
        let source = Unmanaged<Source>.fromOpaque(clientData!).takeUnretainedValue()
        out!.pointee = UnsafeRawPointer(source.buffer)
        if let outer = source.outer {
            return archive_read_data(outer, source.buffer, 1 << 16)
        }
        return read(source.fd, source.buffer, 1 << 16)
    }

    struct Entry: Equatable { var name: String; var bytes: Int; var sizeKnown: Bool }

    /// Reads every entry of an archive opened on `source`; `onEntry` may consume the
    /// data itself (return true) or leave it to be counted here.
    func readAll(_ source: Source, onEntry: (OpaquePointer, String) throws -> [UInt8]?) throws -> [Entry] {
        let a = archive_read_new()!
        defer { archive_read_free(a) }
        archive_read_support_format_zip(a)
        let ctx = Unmanaged.passUnretained(source).toOpaque()
        let status = archive_read_open(a, ctx, nil, { Self.readCallback($0, $1, $2) }, nil)
        #expect(status == ARCHIVE_OK)
        var entries: [Entry] = []
        var entry: OpaquePointer?
        while true {
            let r = archive_read_next_header(a, &entry)
            if r == ARCHIVE_EOF { break }
            #expect(r == ARCHIVE_OK, "\(String(cString: archive_error_string(a)))")
            if r != ARCHIVE_OK { break }
            let name = String(cString: archive_entry_pathname(entry))
            var total = 0
            if let data = try onEntry(a, name) {
                total = data.count
            } else {
                let buf = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 16)
                defer { buf.deallocate() }
                while true {
                    let n = archive_read_data(a, buf, 1 << 16)
                    #expect(n >= 0)
                    if n <= 0 { break }
                    total += n
                }
            }
            entries.append(Entry(name: name, bytes: total, sizeKnown: archive_entry_size_is_set(entry) != 0))
        }
        return entries
    }

    @Test(arguments: [ArchiveWriter.Compression.store, .deflate])
    func nestedStreamingReadSeesEveryMember(outerCompression: ArchiveWriter.Compression) throws {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("GeneratorStreamingReadTests-\(ProcessInfo.processInfo.globallyUniqueString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = GeneratorConfig(users: 12, videos: 80, days: 5, seed: 3)
        config.outerCompression = outerCompression
        let path = dir.appendingPathComponent("k.zip").path
        let summary = try KuaiRecGenerator.write(config, to: path)
        let smallPath = dir.appendingPathComponent("small.csv").path
        _ = try KuaiRecGenerator.writeMatrixCSV(config, matrix: .small, to: smallPath)
        let expectedSmall = try [UInt8](Data(contentsOf: URL(fileURLWithPath: smallPath)))

        let fd = open(path, O_RDONLY)
        #expect(fd >= 0)
        defer { close(fd) }
        var innerEntries: [Entry] = []
        var smallBytes: [UInt8] = []
        let outerEntries = try readAll(Source(fd: fd)) { outer, name in
            guard name == "KuaiRec.zip" else { return nil }
            innerEntries = try readAll(Source(outer: outer)) { inner, innerName in
                guard innerName.hasSuffix("small_matrix.csv") else { return nil }
                let buf = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 16)
                defer { buf.deallocate() }
                while true {
                    let n = archive_read_data(inner, buf, 1 << 16)
                    if n <= 0 { break }
                    smallBytes.append(contentsOf: UnsafeRawBufferPointer(start: buf, count: n))
                }
                return smallBytes
            }
            return []  // the inner reader consumed the data
        }
        #expect(outerEntries.map(\.name) == KuaiRecGenerator.outerMembers)
        #expect(innerEntries.map(\.name) == KuaiRecGenerator.innerMembers)
        #expect(smallBytes == expectedSmall)
        let big = innerEntries.first { $0.name.hasSuffix("big_matrix.csv") }
        #expect(big?.bytes == summary.bigCSVBytes)
        // Streamed members have no size in their local header; the others do.
        #expect(big?.sizeKnown == false)
        #expect(innerEntries.first { $0.name.hasSuffix("user_features.csv") }?.sizeKnown == true)
    }
}
