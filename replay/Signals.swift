import Foundation
import Synchronization

/// Set by SIGINT/SIGTERM; the run polls it at safe points (day boundaries, between ingest blocks).
/// A lock-free atomic, so the signal handler may store into it.
let stopSignal = Atomic<Bool>(false)

/// True once SIGINT or SIGTERM arrived.
var stopSignalReceived: Bool { stopSignal.load(ordering: .relaxed) }

/// Installs SIGINT and SIGTERM handlers that request a stop at the next safe point, and ignores SIGPIPE.
///
/// The two signals are also unblocked: a parent may start us with them blocked (posix_spawn passes the
/// signal mask on), and a blocked SIGINT would never reach the handler. With SIGPIPE ignored, writing to a
/// pipe whose reader went away (`| head`) fails with EPIPE instead of killing the process: `tail` stops
/// cleanly, `run` ends with exit 141 and its last checkpoint standing.
func installStopHandlers() {
    signal(SIGPIPE, SIG_IGN)
    signal(SIGINT) { _ in stopSignal.store(true, ordering: .relaxed) }
    signal(SIGTERM) { _ in stopSignal.store(true, ordering: .relaxed) }
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGTERM)
    sigprocmask(SIG_UNBLOCK, &set, nil)
}
