# %% [markdown]
# # Solutions · 11 Real data
#
# These exercises need no MovieLens files.

# %%
import sys
from pathlib import Path

try:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tutorials/: checks.py
except NameError:                                                  # in a notebook
    sys.path.insert(0, str(Path.cwd().parent))

import re

import numpy as np

from minih2rec.data import kcore_mask
from minih2rec.semantic import tfidf, tokenize

from checks import check

# %% [markdown]
# **11.1** Lowercase, split on non-alphanumerics: `python's` becomes `python` and `s`, and
# the 1-character `s` is dropped.

# %%
text_111 = "Monty Python's Life of Brian (1979). Genres: Comedy"
yours = [t for t in re.split(r"[^0-9a-z]+", text_111.lower()) if len(t) > 1]
assert check("11.1 tokens of a title", yours, tokenize(text_111))

# %% [markdown]
# **11.2** n = 5. "star wars" holds `star` (in 3 documents) and `wars` (in 2), once each:
# `idf(star) = ln(6/4) + 1 = 1.405`, `idf(wars) = ln(6/3) + 1 = 1.693`; every other term has
# weight 0; divide by the norm `sqrt(1.405² + 1.693²)`.

# %%
docs_112 = ["star wars", "star trek", "wars of the worlds", "toy story", "story of star trek"]
X_112, vocab_112 = tfidf(docs_112)
n = len(docs_112)
df = {t: sum(t in tokenize(d) for d in docs_112) for t in vocab_112}
row = np.array([tokenize(docs_112[0]).count(t) * (np.log((1 + n) / (1 + df[t])) + 1) for t in vocab_112])
yours = row / np.linalg.norm(row)
assert check("11.2 TF-IDF row of 'star wars'", yours, X_112.toarray()[0])

# %% [markdown]
# **11.3** Item 2 has one row (user 2's), so it goes; then user 2 has one row left (item 1),
# so it goes too; then item 1 has rows from users 0 and 1 only — still 2. Users 0 and 1 keep
# items 0 and 1: the first four rows survive.

# %%
users_113 = np.array([0, 0, 1, 1, 2, 2])
items_113 = np.array([0, 1, 0, 1, 1, 2])
yours = np.array([True, True, True, True, False, False])
assert check("11.3 2-core rows", yours, kcore_mask(users_113, items_113, 2))
