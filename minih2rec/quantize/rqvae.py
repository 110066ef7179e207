"""RQ-VAE: an MLP autoencoder with residual codebooks in its latent space (the paper's quantizer).

Shapes: n items, B batch, D content width, d latent width (``latent_dim``), L levels, K codes.

RQ-VAE (Zeghidour et al., 2021, SoundStream; Lee et al., 2022, "Autoregressive Image Generation
using Residual Quantization") as TIGER (Rajput et al., 2023) uses it for semantic IDs::

    z       = E(x)                                # MLP encoder, (B, d)
    r^1     = z
    c^l     = argmin_k ||r^l - C^l[k]||^2         # nearest codeword: the compiled kernel
    q^l     = C^l[c^l]
    r^{l+1} = r^l - q^l
    zq      = q^1 + ... + q^L                     # the quantized latent
    xr      = G(z + sg(zq - z))                   # MLP decoder behind a straight-through estimator

``sg`` (stop-gradient) is "this value, as a constant": here a Tensor built from the plain array,
so no gradient flows through it. The decoder therefore sees ``zq`` but its input gradient goes to
``z`` unchanged (argmin has no gradient; the straight-through estimator pretends it is the
identity). The loss, every term a mean over rows and components (like ``F.mse_loss``)::

    recon    = mean (x - xr)^2
    codebook = sum_l mean (sg(r^l) - q^l)^2       # pulls each used codeword toward its residuals
    commit   = beta * sum_l mean (r^l - sg(q^l))^2  # keeps the encoder close to its codewords
    total    = recon + codebook + commit

In the commitment term ``r^l = z - sg(q^1 + ... + q^{l-1})``: its gradient reaches the encoder
only, so ``r^l - sg(q^l) = z - sg(zq^{(l)})`` with partial sums ``zq^{(l)}`` -- Lee et al.'s form;
the codewords learn from the codebook term alone (TIGER's loss, with this reading of ``r^l``).

Codebooks start from RQ-KMeans (:class:`~minih2rec.quantize.residual.RQKMeans`) on the encoder's
initial latents, as TIGER does on its first batch; we use the first ``max(batch_size, init_items,
K)`` items of the first shuffled epoch (all items when fewer), so the codewords cover the data. Codes
that fall out of use are not re-seeded (no dead-code handling); ``history`` records the share of
codes used at each level in each epoch, so a collapse is visible.

Quality per level, honestly: the latent residual ``||z - zq^{(l)}||^2`` shrinks with l only when
each level offers a codeword closer to the residual than zero (true after the k-means init, not
guaranteed after training); the input-space error ``||x - G(zq^{(l)})||^2`` of a partial sum can
grow with l, since the decoder was trained on full sums only. :meth:`RQVAE.level_errors` measures
both; ``quantization_report(vae.latents(x), vae.encode(x), vae.codebooks)`` adds utilisation,
perplexity and collisions in the latent space, where the codebooks live.
"""
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .. import validate
from ..autograd import Tensor, no_grad
from ..kernels.codebook import nearest_codeword
from ..nn import Linear, Module, ModuleList, Parameter, init
from ..optim import Adam
from .residual import RQKMeans, dedup_level


class RQVAELoss(NamedTuple):
    """One batch's loss terms (scalar Tensors) and the codes they used."""

    total: Tensor
    recon: Tensor
    codebook: Tensor
    commit: Tensor           # already multiplied by beta
    codes: np.ndarray        # (B, L) int64


class RQVAENet(Module):
    """Encoder MLP, codebooks (L, K, d) and decoder MLP; :meth:`loss` is the whole objective."""

    def __init__(self, d_in, hidden, latent_dim, levels, codebook_size, rng):
        super().__init__()
        widths = [d_in, *hidden, latent_dim]                  # D -> hidden... -> d
        self.encoder = ModuleList(Linear(a, b, rng) for a, b in zip(widths[:-1], widths[1:]))
        back = widths[::-1]                                   # d -> ...hidden -> D
        self.decoder = ModuleList(Linear(a, b, rng) for a, b in zip(back[:-1], back[1:]))
        self.codebooks = Parameter(init.normal((levels, codebook_size, latent_dim), rng,
                                               std=latent_dim ** -0.5))   # (L, K, d); RQVAE.fit re-inits

    @staticmethod
    def _mlp(layers, h):
        """Linear + ReLU for every layer but the last (a plain linear output)."""
        for i, layer in enumerate(layers):
            h = layer(h)
            h = h.relu() if i < len(layers) - 1 else h
        return h

    def encode(self, x):
        """Tensor (B, D) -> latent z (B, d)."""
        return self._mlp(self.encoder, x)

    def decode(self, zq):
        """Tensor (B, d) -> reconstruction (B, D)."""
        return self._mlp(self.decoder, zq)

    def assign(self, z):
        """Greedy residual codes (B, L) int64 of latents ``z`` (B, d) ndarray."""
        r = np.array(z, dtype=self.codebooks.dtype)           # (B, d) residual, a copy
        codes = np.empty((r.shape[0], self.codebooks.shape[0]), dtype=np.int64)
        for l, book in enumerate(self.codebooks.data):        # book (K, d)
            codes[:, l], _ = nearest_codeword(r, book)
            r -= book[codes[:, l]]
        return codes

    def loss(self, x, beta, codes=None, frozen=None):
        """Total RQ-VAE loss of one batch (see the module docstring).

        Parameters
        ----------
        x : ndarray (B, D).
        beta : float -- commitment weight.
        codes : ndarray (B, L) int or None -- None: assign them from the current latents.
        frozen : (z_sg (B, d), books_sg (L, K, d)) ndarrays or None -- the values that the
            stop-gradients hold. None (training): the current latents and codebooks. Passing
            copies made once turns the loss into an ordinary function of the parameters, whose
            gradient is what autograd returns (this is how the tests gradient-check it).

        Returns
        -------
        RQVAELoss
        """
        dtype = self.codebooks.dtype
        x = Tensor(x, dtype=dtype)
        z = self.encode(x)                                    # (B, d)
        z_sg, books_sg = (z.data, self.codebooks.data) if frozen is None else frozen
        codes = self.assign(z_sg) if codes is None else np.asarray(codes)
        partial = np.zeros(z.shape, dtype=dtype)              # (B, d) sg(q^1 + ... + q^{l-1})
        codebook = commit = 0.0
        for l in range(self.codebooks.shape[0]):
            q = self.codebooks[l][codes[:, l]]                # (B, d) q^l, gradient into C^l
            r_sg = Tensor(z_sg - partial, dtype=dtype)        # sg(r^l)
            codebook = codebook + ((r_sg - q) ** 2).mean()
            partial = partial + books_sg[l][codes[:, l]]      # now sg(zq^{(l)})
            commit = commit + ((z - Tensor(partial, dtype=dtype)) ** 2).mean()   # r^l - sg(q^l)
        z_st = z + Tensor(partial - z_sg, dtype=dtype)        # straight-through: value zq, grad to z
        recon = ((x - self.decode(z_st)) ** 2).mean()
        commit = commit * beta
        return RQVAELoss(recon + codebook + commit, recon, codebook, commit, codes)


@dataclass
class LevelErrors:
    """Mean squared error per item after levels 1..l, in the latent and in the input space."""

    latent: np.ndarray          # (L,) mean ||z - zq^{(l)}||^2
    input: np.ndarray           # (L,) mean ||x - G(zq^{(l)})||^2 (decoder on the partial sum)
    latent_baseline: float      # mean ||z||^2: no code at all
    input_baseline: float       # mean ||x - G(0)||^2
    autoencoder: float          # mean ||x - G(z)||^2: the floor without quantization

    def format_table(self):
        """Text table, one row per level."""
        lines = [f"RQ-VAE error per level (mean squared error per item; autoencoder floor "
                 f"{self.autoencoder:.4g})", f"  {'levels':>6}  {'latent':>10}  {'input':>10}",
                 f"  {0:>6}  {self.latent_baseline:>10.4g}  {self.input_baseline:>10.4g}"]
        lines += [f"  {l + 1:>6}  {a:>10.4g}  {b:>10.4g}" for l, (a, b) in enumerate(zip(self.latent, self.input))]
        return "\n".join(lines)


class RQVAE:
    """RQ-VAE quantizer with the API of :class:`~minih2rec.quantize.residual.RQKMeans`.

    Parameters
    ----------
    levels : int -- L, code levels.
    codebook_size : int -- K, codes per level; must not exceed the number of items.
    latent_dim : int -- d, width of the encoder output and of the codewords.
    hidden : tuple of int -- hidden widths of the encoder (the decoder mirrors them).
    beta : float -- commitment weight (0.25 in VQ-VAE, RQ-VAE and TIGER).
    epochs, batch_size, lr : Adam training schedule (items shuffled every epoch).
    seed : int -- seeds weights, shuffling and the RQ-KMeans init: same seed, same codes.
    dedup : bool -- append the TIGER extra level that makes every tuple unique.
    init_items : int -- the codebook init sees ``max(batch_size, init_items, K)`` items (all if fewer).
    log : callable(str) or None -- receives one line per epoch; None is silent.

    Attributes
    ----------
    net : RQVAENet after :meth:`fit`, else None.
    history : list of dict -- per epoch: ``epoch``, ``recon``, ``codebook``, ``commit`` (beta
        included), ``total`` (row-weighted means of the batch losses during the epoch) and
        ``used`` (share of the K codes used at each level during the epoch).
    """

    method = "rq-vae"

    def __init__(self, levels=3, codebook_size=64, latent_dim=32, hidden=(128,), beta=0.25, epochs=50,
                 batch_size=256, lr=1e-3, seed=0, dedup=False, init_items=4096, log=None):
        self.levels, self.codebook_size, self.latent_dim, self.epochs, self.batch_size, self.init_items = (
            validate.whole(v, name, "RQVAE") for name, v in (
                ("levels", levels), ("codebook_size", codebook_size), ("latent_dim", latent_dim),
                ("epochs", epochs), ("batch_size", batch_size), ("init_items", init_items)))
        self.hidden = tuple(validate.whole(h, f"hidden[{i}]", "RQVAE") for i, h in enumerate(hidden))
        self.beta = float(validate.at_least(beta, 0, "beta", "RQVAE"))
        self.lr = float(validate.positive(lr, "lr", "RQVAE"))
        self.seed, self.dedup, self.log = seed, bool(dedup), log
        self.net, self.history = None, []

    def fit(self, x):
        """Train encoder, codebooks and decoder on item vectors ``x`` (n, D); returns self."""
        x = self._as_matrix(x, "fit")
        n, D = x.shape
        if self.codebook_size > n:
            raise ValueError(f"RQVAE.codebook_size={self.codebook_size} is larger than the number of "
                             f"items to quantize ({n}); use codebook_size <= {n}")
        rng = np.random.default_rng(self.seed)
        self.net = RQVAENet(D, self.hidden, self.latent_dim, self.levels, self.codebook_size, rng)
        opt = Adam(self.net.parameters(), lr=self.lr)
        order = rng.permutation(n)
        first = order[:max(self.batch_size, self.init_items, self.codebook_size)]
        with no_grad():
            z0 = self.net.encode(Tensor(x[first])).data       # (m, d) initial latents
        self.net.codebooks.data[...] = RQKMeans(self.levels, self.codebook_size, seed=self.seed).fit(z0).codebooks
        self.history = []
        for epoch in range(1, self.epochs + 1):
            if epoch > 1:
                order = rng.permutation(n)
            sums = np.zeros(4)                                # recon, codebook, commit, total (row-weighted)
            used = np.zeros((self.levels, self.codebook_size), dtype=bool)
            for s in range(0, n, self.batch_size):
                rows = order[s:s + self.batch_size]
                out = self.net.loss(x[rows], self.beta)
                opt.zero_grad()
                out.total.backward()
                opt.step()
                sums += len(rows) * np.array([t.item() for t in (out.recon, out.codebook, out.commit, out.total)])
                used[np.arange(self.levels)[None, :], out.codes] = True   # (B, L) codes -> (L, K) flags
            row = dict(zip(("recon", "codebook", "commit", "total"), (sums / n).tolist()))
            self.history.append({"epoch": epoch, **row, "used": used.mean(axis=1).tolist()})
            if self.log is not None:
                self.log(f"rq-vae epoch {epoch}/{self.epochs}: recon {row['recon']:.4g} codebook "
                         f"{row['codebook']:.4g} commit {row['commit']:.4g} total {row['total']:.4g} "
                         f"(mean squared error per component; codes used "
                         + " ".join(f"{u:.0%}" for u in used.mean(axis=1)) + ")")
        return self

    @property
    def codebooks(self):
        """(L, K, d) ndarray copy of the codebooks (latent space), or None before fit."""
        return None if self.net is None else self.net.codebooks.data.copy()

    def latents(self, x):
        """Encoder outputs z (n, d) of ``x`` (n, D): the space the codebooks live in."""
        return self._latents(x, "latents")

    def _latents(self, x, where):
        x = self._as_matrix(x, where, fitted=True)
        with no_grad():
            return self.net.encode(Tensor(x)).data

    def encode(self, x):
        """Codes of ``x`` (n, D): (n, L) int64 in ``[0, K)``; (n, L+1) with the dedup level."""
        z = self._latents(x, "encode")                        # (n, d); checks fit() ran first
        codes = self.net.assign(z)                            # (n, L)
        if self.dedup:
            codes = np.column_stack([codes, dedup_level(codes, self.codebook_size)])
        return codes

    def decode(self, codes, levels=None):
        """Reconstruction ``G(sum_{l <= levels} C^l[codes[:, l]])`` (n, D) in input space.

        Parameters
        ----------
        codes : int ndarray (n, >= levels); columns past ``levels`` (e.g. dedup) are ignored.
        levels : int in ``[0, L]`` or None (= L) -- decode a prefix of the tuple.
        """
        self._fitted("decode")
        levels = validate.in_range(self.levels if levels is None else levels, 0, self.levels, "levels",
                                   "RQVAE.decode")
        codes = validate.codes(codes, levels, self.codebook_size, "codes", "RQVAE.decode")   # (n, levels)
        books = self.net.codebooks.data
        zq = np.zeros((codes.shape[0], self.latent_dim), dtype=books.dtype)    # (n, d)
        for l in range(levels):
            zq += books[l][codes[:, l]]
        with no_grad():
            return self.net.decode(Tensor(zq)).data

    def level_errors(self, x):
        """Mean squared error per item after 1..L levels, latent and input space (see module doc).

        Returns
        -------
        LevelErrors
        """
        x = self._as_matrix(x, "level_errors", fitted=True)
        z = self.latents(x)                                   # (n, d)
        codes = self.net.assign(z)                            # (n, L)
        books = self.net.codebooks.data

        def err(a, b):                                        # mean over rows of ||a - b||^2, float64
            return float(np.mean(np.sum((a.astype(np.float64) - b) ** 2, axis=1)))
        zq = np.zeros_like(z)                                 # (n, d) partial sum zq^{(l)}
        latent, inp = [], []
        for l in range(self.levels):
            zq += books[l][codes[:, l]]
            latent.append(err(z, zq))
            inp.append(err(x, self.decode(codes, l + 1)))
        with no_grad():
            x_ae = self.net.decode(Tensor(z)).data            # (n, D) without quantization
        return LevelErrors(np.array(latent), np.array(inp), err(z, 0.0), err(x, self.decode(codes, 0)),
                           err(x, x_ae))

    def _fitted(self, where):
        """Raise a ValueError naming ``where`` if :meth:`fit` has not run."""
        if self.net is None:
            raise ValueError(f"RQVAE.{where}: call fit() first")

    def _as_matrix(self, x, where, fitted=False):
        if fitted:
            self._fitted(where)
        x = np.ascontiguousarray(validate.matrix(x, "x", f"RQVAE.{where}"), dtype=np.float32)
        validate.finite_rows(x, "x", f"RQVAE.{where}")
        if self.net is not None and fitted and x.shape[1] != self.net.encoder[0].d_in:
            raise ValueError(f"RQVAE.{where}: x has D={x.shape[1]} but the model was fit with "
                             f"D={self.net.encoder[0].d_in}")
        return x

    def __repr__(self):
        state = "fitted" if self.net is not None else "not fitted"
        return (f"RQVAE(levels={self.levels}, codebook_size={self.codebook_size}, latent_dim={self.latent_dim}, "
                f"hidden={self.hidden}, beta={self.beta}, epochs={self.epochs}, seed={self.seed}, "
                f"dedup={self.dedup}) [{state}]")
