import Foundation
import ReplayState
import ReplayStream

/// What a state folder says about the run that writes a given output file (for `replay tail --follow`), read
/// without writing to the folder: safe while a run writes it.
public enum OutputRunStatus: Equatable, Sendable {
    /// No run is recorded there: no folder, no database yet, no identity, or a folder that cannot be read.
    case noRun
    /// The folder's run writes another output: the path it records.
    case otherOutput(String)
    /// The file's run has not finished (it may be going, stopped, or stopped at `--until`).
    case running
    /// The file's run finished: an archive run replayed its last day and wrote every record final, or a live
    /// feed's input ended. Its last checkpoint was committed after the file was written and synced, so the
    /// file holds every record the run writes.
    case finished

    /// The status of the run of the state folder `directory` for the output file `path`.
    ///
    /// The folder's run is the file's when the file it wrote (the one its checkpoint names, or the one it
    /// claimed before its first checkpoint: same device and inode) is the file at `path`, or when the output
    /// path it records, resolved from the current folder, is `path` resolved.
    public static func of(stateDirectory directory: String, output path: String) -> OutputRunStatus {
        guard let store = try? StateStore(directory: directory, readOnly: true),
            let identity = try? store.identity()
        else { return .noRun }
        let progress = try? store.progress()
        var files: [FileIdentity] = []
        if let file = progress?.outputFingerprint?.file { files.append(file) }
        if let claim = try? store.payload(named: RunOutput.claimPayload),
            let file = try? JSONDecoder().decode(FileIdentity.self, from: Data(claim))
        {
            files.append(file)
        }
        guard identity.output != "-", isFile(path, oneOf: files) || resolved(identity.output) == resolved(path) else {
            return .otherOutput(identity.output)
        }
        if progress?.finished == true { return .finished }
        let live = try? LiveFeedState(payload: store.payload(named: LiveFeedState.payloadName))
        return live?.ended == true ? .finished : .running
    }

    /// True when `path` names one of `files` (following symlinks).
    private static func isFile(_ path: String, oneOf files: [FileIdentity]) -> Bool {
        var st = stat()
        guard stat(path, &st) == 0 else { return false }
        return files.contains(FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)))
    }

    /// `path` made absolute from the current folder, its symlinks resolved where it exists.
    private static func resolved(_ path: String) -> String {
        if let real = realpath(path, nil) {
            defer { free(real) }
            return String(cString: real)
        }
        return URL(fileURLWithPath: path).standardizedFileURL.path
    }
}
