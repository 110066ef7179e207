"""One writer per output folder: a live second writer is refused by name, a dead one's lock is taken over."""
import json
import os
import subprocess
import sys
import time

import pytest

from minih2rec.__main__ import main
from minih2rec.run_lock import LOCK_NAME, RunLock, RunLockError

pytestmark = pytest.mark.numpy_backend

HOLDER = """
import sys, time
from minih2rec.run_lock import RunLock
with RunLock(sys.argv[1], command="holder-run --out X"):
    print("locked", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def held(tmp_path):
    """A second process holding ``tmp_path/run`` -- a live writer."""
    folder = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield folder, proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_second_live_writer_is_refused_naming_the_owner(held):
    folder, pid = held
    with pytest.raises(RunLockError) as info:
        with RunLock(str(folder)):
            pass
    msg = str(info.value)
    assert f"PID {pid}" in msg and "holder-run --out X" in msg and str(folder) in msg and "--out" in msg
    assert json.load(open(folder / LOCK_NAME))["pid"] == pid      # the owner's lock is untouched


def test_train_into_a_folder_in_use_is_one_clear_error(held, capsys):
    folder, pid = held
    rc = main(["train", "--data", "synthetic", "--preset", "tiny", "--train-preset", "tiny",
               "--out", str(folder), "--no-progress"])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("error: output folder") and f"PID {pid}" in err and err.count("\n") == 1
    assert not (folder / "results.json").exists()


def test_compare_into_a_folder_in_use_is_refused_before_training(held, capsys):
    folder, pid = held
    rc = main(["compare", "--data", "synthetic", "--preset", "tiny", "--train-preset", "tiny",
               "--models", "sasrec", "--out", str(folder), "--no-progress"])
    assert rc == 2
    out, err = capsys.readouterr()
    assert err.startswith("error: output folder") and f"PID {pid}" in err and err.count("\n") == 1
    assert "seed 0" not in out                        # nothing was trained
    assert not (folder / "compare.json").exists()


def test_stale_lock_of_a_dead_process_is_taken_over_with_a_message(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead_pid = int(dead.stdout)                       # that process has exited
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / LOCK_NAME).write_text(json.dumps({"pid": dead_pid, "command": "old-run --out X"}))
    messages = []
    with RunLock(str(folder), command="new-run", log=messages.append):
        record = json.load(open(folder / LOCK_NAME))
        assert record["pid"] == os.getpid() and record["command"] == "new-run"
    assert len(messages) == 1 and f"PID {dead_pid}" in messages[0] and "no longer running" in messages[0]
    assert not (folder / LOCK_NAME).exists()          # released on exit


def test_two_runs_in_one_process_are_refused_too(tmp_path):
    with RunLock(str(tmp_path)):
        with pytest.raises(RunLockError, match=f"PID {os.getpid()}"):
            with RunLock(str(tmp_path)):
                pass
    with RunLock(str(tmp_path)):                       # free again after the first released it
        pass


def test_lock_is_released_when_the_holder_is_killed(held):
    folder, pid = held
    os.kill(pid, 9)                                    # kill -9: no cleanup runs in the holder
    for _ in range(100):
        try:
            messages = []
            with RunLock(str(folder), log=messages.append):
                break
        except RunLockError:
            time.sleep(0.05)                           # the kernel drops the lock as the process dies
    else:
        pytest.fail("the lock of a killed process was never released")
    assert f"PID {pid}" in messages[0]
