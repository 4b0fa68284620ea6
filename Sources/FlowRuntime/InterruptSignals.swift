import Glibc

/// Counts SIGINT, SIGTERM and SIGHUP while a run is in progress, for the builder loop to read on
/// its own thread: the handler only counts (what a handler may do), and every signal the run
/// then sends to its steps goes out from the loop.
final class InterruptSignals {
    private static let handled = [SIGINT, SIGTERM, SIGHUP]
    private var saved: [Int32: sigaction] = [:]

    /// How many arrived since `install`: the first stops the run, a second one kills its steps now.
    var count: Int { Int(interruptCount) }

    func install() {
        interruptCount = 0
        // A parent may have started flow with these signals blocked (a test runner's thread,
        // some CI agents): unblock them, or Ctrl-C would stay pending forever.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for s in Self.handled { sigaddset(&unblock, s) }
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        for s in Self.handled {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { _ in interruptCount += 1 }
            sigemptyset(&action.sa_mask)
            var old = sigaction()
            sigaction(s, &action, &old)
            saved[s] = old
        }
    }

    /// Puts back the handlers that were there before `install`.
    func restore() {
        for (s, old) in saved {
            var o = old
            sigaction(s, &o, nil)
        }
        saved = [:]
    }
}

/// The handler's counter: a plain C global is what a signal handler may touch.
// nonisolated(unsafe): a sig_atomic_t that only the handler increments and only the runner's
// thread reads and resets (before it installs the handler).
nonisolated(unsafe) private var interruptCount: sig_atomic_t = 0
