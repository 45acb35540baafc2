import Logging

/// A run of the panel over one input, described by its configuration: ``ArchiveRun`` (an archive, a folder or
/// a CSV, ingested once and replayed) or ``LiveRun`` (a live feed). Each kind adds its `run(shouldStop:onEvent:)`.
public struct Run<Configuration: Sendable> {
    /// What to run.
    public let configuration: Configuration
    /// Where the run logs (the ingest's timings, the replay's checkpoints).
    public let logger: Logger

    public init(configuration: Configuration, logger: Logger = Logger(label: "replay")) {
        self.configuration = configuration
        self.logger = logger
    }
}
