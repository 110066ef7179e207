"""One writer per output folder: a lock file holding the PID and command of the run that owns it.

Two runs writing the same ``--out`` folder would interleave their checkpoints and
results (``results.json`` of one run next to ``best.npz`` of the other). A run
therefore holds ``OUT/run.lock`` while it writes:

* the file names the owner (PID, host, command, start time), so the error a second
  writer gets says *who* holds the folder;
* the lock itself is an ``flock`` on that file, which the operating system drops when
  the owner dies -- even by ``kill -9`` -- so a stale lock is recognised without
  guessing from PIDs, and taken over with a message naming the dead run.

On platforms without ``fcntl`` (Windows) the file alone is the lock: a leftover file
is reported with the advice to delete it if no run is using the folder.
"""
import json
import os
import socket
import sys
import time

try:
    import fcntl
except ImportError:          # Windows: no flock
    fcntl = None

LOCK_NAME = "run.lock"


class RunLockError(ValueError):
    """Another live run holds the output folder."""


class RunLock:
    """Context manager: hold ``folder/run.lock`` for the duration of a run.

    Parameters
    ----------
    folder : str -- the output folder (created if missing).
    command : str or None -- recorded in the lock file (default: this process's argv).
    log : callable -- receives the "taking over a stale lock" message.
    """

    def __init__(self, folder, command=None, log=print):
        self.folder = os.fspath(folder)
        self.path = os.path.join(self.folder, LOCK_NAME)
        self.command = command or " ".join([os.path.basename(sys.executable)] + sys.argv)
        self.log = log
        self._fd = None

    def __enter__(self):
        os.makedirs(self.folder, exist_ok=True)
        for _ in range(10):                      # retry if the file was replaced under us
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if not self._try_lock(fd):
                owner = _read_owner(fd)
                os.close(fd)
                raise RunLockError(f"output folder {self.folder} is in use by {_describe(owner)}; "
                                   f"wait for that run to finish or choose another --out"
                                   + ("" if fcntl else f" (if no run is using it, delete {self.path})"))
            if _same_file(fd, self.path):
                break
            os.close(fd)                         # locked a file that was just unlinked: try again
        else:
            raise RunLockError(f"could not lock {self.path}: it keeps being replaced by another process")
        previous = _read_owner(fd)
        if previous:
            self.log(f"taking over the stale lock of {_describe(previous)}, which is no longer running")
        record = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
                  "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def __exit__(self, *exc):
        self.release()
        return False

    def release(self):
        """Remove the lock file and drop the lock (idempotent)."""
        if self._fd is None:
            return
        try:
            os.unlink(self.path)                 # unlink while still locked: no one sees an empty file
        except FileNotFoundError:
            pass
        os.close(self._fd)                       # closing drops the flock
        self._fd = None

    def _try_lock(self, fd):
        if fcntl is None:                        # no flock: an owner's record in the file means "taken"
            return not _read_owner(fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False


def _same_file(fd, path):
    try:
        a, b = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _read_owner(fd):
    """The owner record in the lock file, or {} if it is empty or unreadable."""
    try:
        text = os.pread(fd, 65536, 0).decode("utf-8", "replace").strip()
        return json.loads(text) if text else {}
    except (OSError, ValueError):
        return {"command": "an unknown run (unreadable lock file)"}


def _describe(owner):
    if not owner:
        return "another run"
    where = f" on {owner['host']}" if owner.get("host") not in (None, socket.gethostname()) else ""
    since = f", started {owner['started']}" if owner.get("started") else ""
    return f"PID {owner.get('pid', '?')}{where} ({owner.get('command', '?')}{since})"
