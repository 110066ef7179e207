"""Smoke-size training runs through the command line, shared by the reliability tests."""
import json
import os

from minih2rec.__main__ import main

# seconds per run: a one-block model, 3 epochs at most
TINY = ["--train-preset", "tiny", "--max-len", "20", "--d", "16", "--blocks", "1",
        "--no-progress", "--protocols", "full"]


def train(out, *extra, data="synthetic"):
    """``python -m minih2rec train --data DATA TINY... --out OUT EXTRA...``; returns the exit code.

    Synthetic data is the tiny preset (200 users x 150 items).
    """
    size = ["--preset", "tiny"] if str(data) == "synthetic" else []
    return main(["train", "--data", str(data), *size, *TINY, "--out", str(out), *extra])


def results(out):
    """The ``results.json`` of run folder ``out``."""
    with open(os.path.join(out, "results.json")) as f:
        return json.load(f)


def write_csv(path, inter):
    """Write ``inter`` as a ``user,item,timestamp`` CSV (raw ids; timestamps = position in the sequence)."""
    with open(path, "w") as f:
        f.write("user,item,timestamp\n")
        for u, seq in zip(inter.user_ids, inter.sequences):
            for t, i in enumerate(seq):
                f.write(f"{u},{inter.item_ids[i]},{t}\n")
