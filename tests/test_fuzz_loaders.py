"""Fuzz every loader with malformed files: each outcome is a parse or a ValueError naming the file.

Files are built from mostly well-formed rows mixed with wrong column counts, junk lines,
bad or huge ids, negative / NaN / infinite / non-numeric timestamps, duplicated rows,
undecodable bytes and empty files. A hang fails the test (SIGALRM after 10 s). Each test
runs its format's property, then prints how many examples it tried and how they ended -- so
no test depends on another having run first.
"""
import signal
import tempfile
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from minih2rec.data import load

EXAMPLES = Counter()     # format -> examples tried
OUTCOMES = Counter()     # (format, "parse" / "error") -> examples

clean_ids = st.integers(0, 6).map(str)
clean_times = st.integers(0, 10**9).map(str)
ids = st.one_of(st.integers(0, 6).map(str), st.integers(0, 6).map(str),
                st.sampled_from(["9" * 30, "-3", "007", " 4 ", "", "a b", "ü", "x\x00"]))
times = st.one_of(st.integers(0, 10**9).map(str), st.integers(0, 10**9).map(str),
                  st.sampled_from(["-1", "nan", "NaN", "inf", "-inf", "abc", "", "1e400", "1.5",
                                   " 7 ", "0x10", "1_000"]))
junk = st.text(alphabet=st.sampled_from(list("ab1 \t|:,;\r\x00é€\u2028")), max_size=15)
words = st.text(alphabet=st.sampled_from(list("abc XYZ()'é-")), max_size=12)
flag = st.sampled_from(["0", "1", "0", "1", "2", ""])


def content(row, sep, header=st.none()):
    """Bytes of a file: header + rows, maybe duplicated, re-encoded or corrupted.

    ``row(clean)`` builds one data line; clean rows use only valid ids and timestamps.
    A "clean" file has only clean rows (so parses are common); the others mix in
    doubtful fields, wrong column counts and junk lines.
    """
    bad_row = st.lists(st.one_of(ids, times, junk), max_size=6).map(sep.join)
    dirty = st.lists(st.one_of(row(False), row(False), row(False), bad_row, junk), max_size=10)
    return st.one_of(
        st.builds(_assemble, header, st.lists(row(True), min_size=1, max_size=10),
                  st.sampled_from(["plain", "dup"]), st.integers(0, 10**6), st.just("utf-8")),
        st.builds(_assemble, header, dirty, st.sampled_from(["plain", "dup", "bad-bytes", "empty"]),
                  st.integers(0, 10**6), st.sampled_from(["utf-8", "utf-8", "latin-1"])))


def _assemble(header, rows, mode, where, encoding):
    lines = ([header] if header is not None else []) + rows
    if mode == "dup":
        lines = lines + rows
    data = ("\n".join(lines) + "\n").encode(encoding, errors="replace")
    if mode == "bad-bytes":
        k = where % (len(data) + 1)
        data = data[:k] + b"\xff\xc3(" + data[k:]
    if mode == "empty":
        data = b"" if where % 2 else b"\n  \r\n"
    return data


def join(sep, *parts):
    return st.tuples(*parts).map(sep.join)


def pick(clean, good, doubtful):
    return good if clean else doubtful


ML100K_DATA = content(lambda c: join("\t", pick(c, clean_ids, ids), pick(c, clean_ids, ids),
                                     st.just("4"), pick(c, clean_times, times)), "\t")
ML100K_ITEM = content(lambda c: st.tuples(pick(c, clean_ids, ids), words,
                                          st.sampled_from(["01-Jan-1995", "", "x"]),
                                          st.lists(pick(c, st.sampled_from("01"), flag),
                                                   min_size=19, max_size=19))
                      .map(lambda t: "|".join([t[0], t[1], t[2], "", "http://x"] + t[3])), "|")
ML1M_RATINGS = content(lambda c: join("::", pick(c, clean_ids, ids), pick(c, clean_ids, ids),
                                      st.just("5"), pick(c, clean_times, times)), "::")
ML1M_MOVIES = content(lambda c: join("::", pick(c, clean_ids, ids), words,
                                     st.sampled_from(["Drama|Comedy", "", "A||B"])), "::")
ATOMIC_HEADERS = st.sampled_from([
    "user_id:token\titem_id:token\trating:float\ttimestamp:float",
    "user_id:token\titem_id:token\trating:float\ttimestamp:float",
    "user_id:token\titem_id:token\trating:float\ttime:float",        # missing column
    "user_id\titem_id\trating\ttimestamp",                            # no types
    "user_id:token\titem_id:token\titem_id:token\ttimestamp:float",   # repeated name
])
ATOMIC_INTER = content(lambda c: join("\t", pick(c, clean_ids, ids), pick(c, clean_ids, ids),
                                      st.just("3"), pick(c, clean_times, times)),
                       "\t", ATOMIC_HEADERS)
ATOMIC_ITEM = content(lambda c: join("\t", pick(c, clean_ids, ids), words,
                                     st.sampled_from(["1995", ""]), words), "\t",
                      st.sampled_from(["item_id:token\tmovie_title:token_seq\trelease_year:token\t"
                                       "class:token_seq", "item:token\ttitle:token_seq"]))
SEPS = st.sampled_from([",", "\t", ";"])


@contextmanager
def time_limit(seconds):
    """Turn a hang into a TimeoutError (not a ValueError, so the test fails)."""
    def on_alarm(*_):
        raise TimeoutError(f"loader still running after {seconds} s")
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def check(fmt, folder, files, target, **kwargs):
    """Write ``files``, load ``target``; a parse must be valid, an error must name a file."""
    EXAMPLES[fmt] += 1
    paths = []
    for name, data in files.items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    try:
        with time_limit(10):
            inter = load(folder / target if target else folder, format=fmt, **kwargs)
    except ValueError as e:
        OUTCOMES[fmt, "error"] += 1
        assert any(str(p) in str(e) for p in paths), f"no file named in: {e}"
        return
    OUTCOMES[fmt, "parse"] += 1
    assert inter.num_interactions >= 1
    assert all(((s >= 1) & (s <= inter.num_items)).all() for s in inter.sequences)
    assert inter.item_text is None or len(inter.item_text) == inter.num_items + 1
    if kwargs.get("dedup", True):
        assert all(len(set(s.tolist())) == len(s) for s in inter.sequences)


k_cores = st.sampled_from([0, 0, 2, 3])


def fuzz(fmt, prop, capsys):
    """Run the hypothesis property ``prop`` of format ``fmt``; report and check its examples."""
    for key in (fmt, (fmt, "parse"), (fmt, "error")):
        EXAMPLES.pop(key, None), OUTCOMES.pop(key, None)
    prop()
    parsed, refused = OUTCOMES[fmt, "parse"], OUTCOMES[fmt, "error"]
    with capsys.disabled():
        print(f"\n{fmt} loader fuzzing: {EXAMPLES[fmt]} examples, {parsed} parsed, {refused} refused "
              f"naming the file")
    assert EXAMPLES[fmt] > 0 and parsed + refused == EXAMPLES[fmt], (fmt, EXAMPLES[fmt], parsed, refused)


def test_fuzz_ml100k(capsys):
    fuzz("ml-100k", _ml100k, capsys)


def test_fuzz_ml1m(capsys):
    fuzz("ml-1m", _ml1m, capsys)


def test_fuzz_atomic(capsys):
    fuzz("atomic", _atomic, capsys)


def test_fuzz_csv(capsys):
    fuzz("csv", _csv, capsys)


@given(ML100K_DATA, st.one_of(st.none(), ML100K_ITEM), k_cores, st.booleans())
def _ml100k(data, item, k, dedup):
    with tempfile.TemporaryDirectory() as d:
        files = {"u.data": data} if item is None else {"u.data": data, "u.item": item}
        check("ml-100k", Path(d), files, None, k_core=k, dedup=dedup)


@given(ML1M_RATINGS, st.one_of(st.none(), ML1M_MOVIES), k_cores)
def _ml1m(data, item, k):
    with tempfile.TemporaryDirectory() as d:
        files = {"ratings.dat": data} if item is None else {"ratings.dat": data, "movies.dat": item}
        check("ml-1m", Path(d), files, "ratings.dat", k_core=k)


@given(ATOMIC_INTER, st.one_of(st.none(), ATOMIC_ITEM), k_cores)
def _atomic(data, item, k):
    with tempfile.TemporaryDirectory() as d:
        files = {"x.inter": data} if item is None else {"x.inter": data, "x.item": item}
        check("atomic", Path(d), files, "x.inter", k_core=k)


@given(st.data(), SEPS, st.sampled_from([None, "user,item,timestamp", "item;user;ts;extra"]),
       k_cores)
def _csv(draw, sep, header, k):
    header = header.replace(",", sep) if header else None
    data = draw.draw(content(lambda c: join(sep, pick(c, clean_ids, ids), pick(c, clean_ids, ids),
                                            pick(c, clean_times, times)), sep, st.just(header)))
    text = draw.draw(content(lambda c: join("\t", pick(c, clean_ids, ids), words), "\t",
                             st.sampled_from([None, "item\ttext"])))
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        check("csv", folder, {"x.csv": data, "t.tsv": text}, "x.csv", k_core=k,
              item_text=folder / "t.tsv")

