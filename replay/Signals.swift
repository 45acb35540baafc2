import Foundation

/// Set by SIGINT/SIGTERM; the run polls it at safe points (day boundaries, between ingest blocks).
nonisolated(unsafe) var stopSignalReceived: sig_atomic_t = 0

/// Installs SIGINT and SIGTERM handlers that request a stop at the next safe point.
///
/// The two signals are also unblocked: a parent may start us with them blocked (posix_spawn passes the
/// signal mask on), and a blocked SIGINT would never reach the handler.
func installStopHandlers() {
    signal(SIGINT) { _ in stopSignalReceived = 1 }
    signal(SIGTERM) { _ in stopSignalReceived = 1 }
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGTERM)
    sigprocmask(SIG_UNBLOCK, &set, nil)
}
