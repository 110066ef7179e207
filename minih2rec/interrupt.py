"""Ctrl-C and SIGTERM: stop at a clean point, keep a resumable checkpoint, exit 128 + signal number.

Inside training, :class:`StopSignals` turns the first SIGINT (Ctrl-C) or SIGTERM
into a request the trainer honours after the current step: it saves ``last.npz``
and stops, and the run raises :class:`Interrupted` instead of evaluating weights
that were never selected. A second signal stops at once (:class:`Stop`), keeping
the last checkpoint written. The command line exits 130 after SIGINT and 143
after SIGTERM, the shell convention 128 + signal number.
"""
import signal


class Interrupted(Exception):
    """Training stopped on a signal after saving a resumable checkpoint.

    Attributes
    ----------
    signum : int -- the signal (``signal.SIGINT`` or ``signal.SIGTERM``).
    epoch, step : int -- the epoch in progress (1-based) and the steps it had completed.
    checkpoint : str or None -- the ``last.npz`` written, or None without an output folder.
    """

    def __init__(self, signum, epoch, step, checkpoint):
        self.signum, self.epoch, self.step, self.checkpoint = signum, epoch, step, checkpoint
        super().__init__(f"interrupted at epoch {epoch}, step {step}"
                         + (f"; saved {checkpoint}" if checkpoint else ""))

    @property
    def exit_code(self):
        return 128 + int(self.signum)


class Stop(KeyboardInterrupt):
    """A signal that stops the process at once (a second Ctrl-C, or SIGTERM outside training)."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self):
        return 128 + int(self.signum)


class StopSignals:
    """Context manager: record the first SIGINT/SIGTERM in ``.signum``; raise :class:`Stop` on the second.

    Outside the main thread signals cannot be caught; then nothing is installed and
    ``.signum`` stays None.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signum = None
        self._old = {}

    def __enter__(self):
        try:
            for s in self.SIGNALS:
                self._old[s] = signal.signal(s, self._handle)
        except ValueError:                   # not the main thread: the caller handles signals
            self._restore()
        return self

    def __exit__(self, *exc):
        self._restore()
        return False

    def _handle(self, signum, frame):
        if self.signum is not None:          # asked twice: stop now
            raise Stop(signum)
        self.signum = signum

    def _restore(self):
        for s, old in self._old.items():
            signal.signal(s, old)
        self._old = {}


def stop_on_sigterm():
    """Make SIGTERM raise :class:`Stop` (so ``finally`` blocks run and the CLI prints a message).

    Returns the previous handler (for ``signal.signal(signal.SIGTERM, old)``), or None if
    nothing was installed (not the main thread).
    """
    def handle(signum, frame):
        raise Stop(signum)
    try:
        return signal.signal(signal.SIGTERM, handle)
    except ValueError:                       # not the main thread
        return None
