import Foundation

/// Set by SIGINT/SIGTERM; the run polls it at safe points (day boundaries, between ingest blocks).
nonisolated(unsafe) var stopSignalReceived: sig_atomic_t = 0

/// Installs SIGINT and SIGTERM handlers that request a stop at the next safe point.
func installStopHandlers() {
    signal(SIGINT) { _ in stopSignalReceived = 1 }
    signal(SIGTERM) { _ in stopSignalReceived = 1 }
}
