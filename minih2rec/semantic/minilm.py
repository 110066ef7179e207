"""all-MiniLM-L6-v2, a sentence encoder, as a NumPy forward pass (float32, no autograd).

Glossary: B texts in a batch, T tokens (longest in the batch), d = 384 width, H = 12 heads,
dh = d / H = 32 per head, F = 1536 feed-forward width, N = 6 layers.

The encoder is BERT with small sizes, and a sentence vector is the mean of its outputs:

1. **Embeddings** ``h = LN(W_word[ids] + W_pos[0..T-1] + W_type[0])`` -- (B, T, d).
2. **N post-LN layers**, each::

       a = LN(h + Attn(h) W_o + b_o)                 # self-attention over the real tokens
       h = LN(a + GELU(a W_1 + b_1) W_2 + b_2)         # feed-forward, GELU with erf

   ``Attn``: per head, ``softmax(q k^T / sqrt(dh) + mask) v`` with q, k, v linear maps of h;
   the mask is a huge negative number on padding keys, so padding never influences a real token.
   LN is LayerNorm with eps 1e-12, as in the published config.
3. **Mean pooling** over the real tokens (``[CLS]`` and ``[SEP]`` included, padding not),
   then **L2 normalisation**: cosine similarity becomes a dot product.

Weights are read with :mod:`.safetensors` (memory-mapped) and the text is tokenized by
:class:`.wordpiece.WordPiece`. Texts are sorted by length and batched, so a short title is
never padded to the length of a long one.
"""
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .encoder_weights import find_encoder_weights, fingerprint_files
from .safetensors import load_safetensors
from .wordpiece import WordPiece

_P = 0.3275911            # Abramowitz & Stegun 7.1.26: erf(x) = 1 - t (a1 + t (a2 + ...)) exp(-x^2)
_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)   # t = 1 / (1 + p x)


def erf(x):
    """Error function of a float array, absolute error below 2e-7 (Abramowitz & Stegun 7.1.26).

    NumPy has no ``erf``; this rational-times-Gaussian approximation is as exact as float32
    needs and is made of ufuncs only.
    """
    x = np.asarray(x)
    z = np.abs(x)
    t = 1.0 / (1.0 + _P * z)
    poly = _A[4]
    for a in _A[3::-1]:                                       # Horner: a1 + t (a2 + t (... a5))
        poly = a + t * poly
    y = 1.0 - (t * poly) * np.exp(-z * z)
    return np.copysign(y, x).astype(x.dtype, copy=False)


def gelu(x, block=1 << 16):
    """GELU with the exact (erf) form: ``x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))``.

    Evaluated ``block`` elements at a time: the dozen temporaries of :func:`erf` then stay in
    the CPU cache instead of streaming (B*T, F) arrays through memory a dozen times (2x faster).
    """
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty_like(flat)
    for s in range(0, flat.size, block):
        u = flat[s:s + block]
        out[s:s + block] = 0.5 * u * (1.0 + erf(u * np.float32(1 / math.sqrt(2))))
    return out.reshape(x.shape)


def linear(x, weight, bias):
    """``x W^T + b`` over the last axis, as one 2-D product (a stacked 3-D product is ~3x slower).

    x (..., in), weight (out, in) as published (PyTorch layout), bias (out,) -> (..., out).
    """
    y = x.reshape(-1, x.shape[-1]) @ weight.T + bias                        # (B*T, out)
    return y.reshape(*x.shape[:-1], weight.shape[0])


def layer_norm(x, weight, bias, eps):
    """LayerNorm over the last axis: ``(x - mean) / sqrt(var + eps) * weight + bias``."""
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    var = (xc * xc).mean(axis=-1, keepdims=True)
    return xc / np.sqrt(var + eps) * weight + bias


@dataclass
class MiniLMConfig:
    """Sizes of the encoder, read from the published ``config.json``."""
    vocab_size: int = 30522
    width: int = 384            # d
    layers: int = 6             # N
    heads: int = 12             # H
    ffn: int = 1536             # F
    max_positions: int = 512    # rows of the position table
    eps: float = 1e-12          # LayerNorm epsilon of the published model
    max_length: int = 256       # sentence-transformers' max_seq_length: longer texts are truncated

    @classmethod
    def from_dir(cls, folder):
        """Read ``config.json`` (and ``sentence_bert_config.json`` if present) of ``folder``."""
        folder = Path(folder)
        try:
            c = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            st = folder / "sentence_bert_config.json"
            max_length = json.loads(st.read_text(encoding="utf-8")).get("max_seq_length", 256) if st.is_file() else 256
            act = c.get("hidden_act", "gelu")
            if act != "gelu":
                raise ValueError(f"hidden_act {act!r} (only the erf GELU of BERT is implemented)")
            return cls(c["vocab_size"], c["hidden_size"], c["num_hidden_layers"], c["num_attention_heads"],
                       c["intermediate_size"], c["max_position_embeddings"], c.get("layer_norm_eps", 1e-12),
                       min(int(max_length), c["max_position_embeddings"]))
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"encoder config in {folder}: {exc}") from exc


class MiniLM:
    """The sentence encoder: tokenizer + weights + forward pass.

    Build it with :meth:`load`; then ``encode(texts)`` gives (n, d) unit vectors.

    Attributes
    ----------
    config : MiniLMConfig
    tokenizer : WordPiece
    params : dict name -> ndarray, the published tensor names (``encoder.layer.0.attention...``)
    folder : Path the weights were read from (None if built from arrays)
    """

    def __init__(self, params, config, tokenizer, folder=None):
        self.config, self.tokenizer, self.folder = config, tokenizer, folder
        self.params = {k[len("bert."):] if k.startswith("bert.") else k: v for k, v in params.items()}
        missing = [k for k in self._names() if k not in self.params]
        if missing:
            raise ValueError(f"encoder weights lack {len(missing)} tensors, e.g. {missing[0]!r}")
        d = config.width
        if self.params["embeddings.word_embeddings.weight"].shape != (config.vocab_size, d):
            raise ValueError(f"word embeddings have shape {self.params['embeddings.word_embeddings.weight'].shape}; "
                             f"config says ({config.vocab_size}, {d})")
        if len(tokenizer) != config.vocab_size:
            raise ValueError(f"vocab.txt has {len(tokenizer)} tokens; the config says {config.vocab_size}")
        self._qkv = [self._fuse_qkv(i) for i in range(config.layers)]
        self._fingerprint = None

    @classmethod
    def load(cls, path=None):
        """Load from ``path`` (a folder) or from the installed weights package; see :mod:`.encoder_weights`."""
        folder = find_encoder_weights(path)
        config = MiniLMConfig.from_dir(folder)
        tokenizer = WordPiece.from_file(folder / "vocab.txt", max_length=config.max_length)
        return cls(load_safetensors(folder / "model.safetensors"), config, tokenizer, folder)

    def _names(self):
        names = ["embeddings." + n for n in ("word_embeddings.weight", "position_embeddings.weight",
                                              "token_type_embeddings.weight", "LayerNorm.weight", "LayerNorm.bias")]
        for i in range(self.config.layers):
            p = f"encoder.layer.{i}."
            names += [p + f"attention.self.{m}.{w}" for m in ("query", "key", "value") for w in ("weight", "bias")]
            names += [p + n for n in ("attention.output.dense.weight", "attention.output.dense.bias",
                                      "attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias",
                                      "intermediate.dense.weight", "intermediate.dense.bias",
                                      "output.dense.weight", "output.dense.bias",
                                      "output.LayerNorm.weight", "output.LayerNorm.bias")]
        return names

    def _fuse_qkv(self, i):
        """One (3d, d) matrix and (3d,) bias for q, k, v of layer i: one matmul instead of three."""
        p = f"encoder.layer.{i}.attention.self."
        w = np.concatenate([self.params[p + m + ".weight"] for m in ("query", "key", "value")], axis=0)  # (3d, d)
        b = np.concatenate([self.params[p + m + ".bias"] for m in ("query", "key", "value")])           # (3d,)
        return np.ascontiguousarray(w, dtype=np.float32), b.astype(np.float32)

    def fingerprint(self):
        """SHA-256 of the weight, vocabulary and config files (cache key of encoded content)."""
        if self._fingerprint is None:
            self._fingerprint = fingerprint_files(self.folder) if self.folder is not None else "in-memory"
        return self._fingerprint

    # ---------------------------------------------------------------- forward pass
    def embed(self, ids):
        """Step 1: token + position + type embeddings, LayerNorm. ids (B, T) -> (B, T, d)."""
        p, T = self.params, ids.shape[1]
        h = (p["embeddings.word_embeddings.weight"][ids]                      # (B, T, d)
             + p["embeddings.position_embeddings.weight"][:T]                 # (T, d)
             + p["embeddings.token_type_embeddings.weight"][0])               # (d,) every token is type 0
        return layer_norm(h, p["embeddings.LayerNorm.weight"], p["embeddings.LayerNorm.bias"], self.config.eps)

    def attention(self, h, mask, i):
        """Multi-head self-attention of layer i (before its output projection). (B, T, d) -> (B, T, d)."""
        B, T, d = h.shape
        H = self.config.heads
        w, b = self._qkv[i]
        qkv = linear(h, w, b).reshape(B, T, 3, H, d // H).transpose(2, 0, 3, 1, 4)   # (3, B, H, T, dh)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = q @ k.transpose(0, 1, 3, 2) * np.float32(1 / math.sqrt(d // H))  # (B, H, T, T)
        scores += np.where(mask, 0, np.finfo(np.float32).min).astype(np.float32)[:, None, None, :]
        scores -= scores.max(axis=-1, keepdims=True)                          # stable softmax
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        return (scores @ v).transpose(0, 2, 1, 3).reshape(B, T, d)            # (B, T, d)

    def layer(self, h, mask, i):
        """Encoder layer i (step 2): attention + residual + LN, then FFN + residual + LN."""
        p, eps = self.params, self.config.eps
        pre = f"encoder.layer.{i}."
        a = linear(self.attention(h, mask, i), p[pre + "attention.output.dense.weight"],
                   p[pre + "attention.output.dense.bias"])                                   # (B, T, d)
        a = layer_norm(h + a, p[pre + "attention.output.LayerNorm.weight"],
                       p[pre + "attention.output.LayerNorm.bias"], eps)
        f = gelu(linear(a, p[pre + "intermediate.dense.weight"], p[pre + "intermediate.dense.bias"]))  # (B, T, F)
        f = linear(f, p[pre + "output.dense.weight"], p[pre + "output.dense.bias"])         # (B, T, d)
        return layer_norm(a + f, p[pre + "output.LayerNorm.weight"], p[pre + "output.LayerNorm.bias"], eps)

    def hidden_states(self, ids, mask):
        """Token outputs of the last layer. ids, mask (B, T) -> (B, T, d) float32."""
        h = self.embed(ids)
        for i in range(self.config.layers):
            h = self.layer(h, mask, i)
        return h

    @staticmethod
    def pool(h, mask):
        """Step 3: mean over real tokens, then unit L2 norm. (B, T, d), (B, T) -> (B, d)."""
        m = mask[:, :, None].astype(h.dtype)                                  # (B, T, 1)
        mean = (h * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)          # (B, d)
        return mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)

    def encode(self, texts, batch_tokens=4096, progress=False, log=print):
        """Sentence vectors of ``texts``.

        Parameters
        ----------
        texts : sequence of str.
        batch_tokens : int -- texts are sorted by length and grouped so that each batch holds
            at most this many (padded) tokens; bounds memory, and short texts stay short.
        progress : bool -- print texts/s and tokens/s as batches finish.

        Returns
        -------
        ndarray (n, d) float32, unit rows, in the order of ``texts``.
        """
        rows = [self.tokenizer.encode(t) for t in texts]
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        order = np.argsort(lengths, kind="stable")
        out = np.zeros((len(rows), self.config.width), dtype=np.float32)
        t0, done, tokens, s = time.perf_counter(), 0, 0, 0
        while s < len(order):
            e = s + 1
            while e < len(order) and (e - s + 1) * int(lengths[order[e]]) <= batch_tokens:
                e += 1
            batch = order[s:e]
            T = int(lengths[batch[-1]])                                       # longest in the batch
            ids = np.full((len(batch), T), self.tokenizer.pad, dtype=np.int64)  # (B, T)
            mask = np.zeros((len(batch), T), dtype=bool)
            for b, r in enumerate(batch):
                ids[b, :lengths[r]], mask[b, :lengths[r]] = rows[r], True
            out[batch] = self.pool(self.hidden_states(ids, mask), mask)
            done, tokens, s = done + len(batch), tokens + int(lengths[batch].sum()), e
            if progress:
                dt = max(time.perf_counter() - t0, 1e-9)
                log(f"  encoded {done:,}/{len(rows):,} texts ({done / dt:,.0f} texts/s, {tokens / dt:,.0f} tokens/s)")
        return out
