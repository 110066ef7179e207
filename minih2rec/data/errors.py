"""Errors raised by the data loaders: every message names the file and the line.

A loader collects the problems of a file while it reads it (up to
``MAX_REPORTED`` of them, plus a count) and raises one :class:`DataFormatError`
at the end, so a user fixes a broken file in one pass instead of one line at a time::

    ratings.dat:7: expected 4 fields separated by '::', got 3 (and 2 more problems:
    line 9: timestamp '-5' is negative; line 12: empty item id)
"""

MAX_REPORTED = 5   # problems spelled out in one message; the rest are counted


class DataFormatError(ValueError):
    """A data file that cannot be parsed. Subclass of ``ValueError``.

    Attributes
    ----------
    path : str -- the file.
    line : int or None -- 1-based line of the first problem (None: the whole file).
    problems : list of (line, message) -- the problems found (at most ``MAX_REPORTED``).
    total : int -- how many problems were found in all.
    """

    def __init__(self, path, line, message, problems=None, total=None):
        self.path = str(path)
        self.line = line
        self.problems = list(problems) if problems else [(line, message)]
        self.total = total if total is not None else len(self.problems)
        where = f"{self.path}:{line}" if line is not None else self.path
        text = f"{where}: {message}"
        rest = self.problems[1:]
        if self.total > 1:
            listed = "; ".join(f"line {ln}: {msg}" for ln, msg in rest)
            text += f" (and {self.total - 1} more problem{'s' if self.total > 2 else ''}"
            text += f": {listed}" if listed else ""
            text += ", ..." if self.total - 1 > len(rest) else ""
            text += ")"
        super().__init__(text)


class ProblemLog:
    """Collects (line, message) problems of one file; ``raise_if_any()`` raises them at once."""

    def __init__(self, path):
        self.path = str(path)
        self.problems = []
        self.total = 0

    def add(self, line, message):
        """Record a problem at 1-based ``line``."""
        self.total += 1
        if len(self.problems) < MAX_REPORTED:
            self.problems.append((line, message))

    def __bool__(self):
        return self.total > 0

    def raise_if_any(self):
        """Raise one DataFormatError for everything recorded (no-op when clean)."""
        if self.total:
            line, message = self.problems[0]
            raise DataFormatError(self.path, line, message, self.problems, self.total)
