"""Optimizers (SGD, Adam, AdamW) and gradient-norm clipping.

Each optimizer holds a list of Parameters, reads ``p.grad`` (skipping None) and updates
``p.data`` in place. Per-parameter state (momentum buffers, Adam moments) is kept in the
parameter's dtype (float32) and saved with ``state_dict()`` so that training can resume
exactly where it stopped: ``opt.load_state_dict(opt.state_dict())`` continues the same
trajectory, bit for bit. The state dict is flat (scalars + one array per buffer).

Update rules (g = gradient, t = step count starting at 1):

* SGD:   g += wd * w;  b = mu * b + g (if mu > 0, b = g on the first step);  w -= lr * b
* Adam:  g += wd * w (L2 penalty in the gradient, "coupled");
         m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
         w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
* AdamW: w -= lr * wd * w (decoupled decay, before the Adam step), then Adam with wd = 0
         (Loshchilov & Hutter, 2019) -- the decay does not pass through the adaptive scaling.
"""
import numpy as np


class Optimizer:
    """Base: parameter list, ``zero_grad``, ``step`` counting and checkpointing of state."""

    _state_keys = ()       # names of per-parameter buffers, e.g. ("m", "v")
    _hyper_keys = ("lr",)  # hyper-parameters saved in the state dict

    def __init__(self, params, lr):
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got no trainable parameters")
        if lr < 0:
            raise ValueError(f"{type(self).__name__}: lr must be >= 0, got {lr}")
        self.lr = float(lr)
        self.t = 0                                           # steps taken
        self.state = [{k: np.zeros_like(p.data) for k in self._state_keys} for p in self.params]

    def zero_grad(self):
        """Drop every parameter's gradient."""
        for p in self.params:
            p.grad = None

    def step(self):
        """Apply one update to every parameter that has a gradient."""
        self.t += 1
        for p, st in zip(self.params, self.state):
            if p.grad is not None:
                self._update(p, np.asarray(p.grad, dtype=p.dtype), st)

    def _update(self, p, g, st):
        raise NotImplementedError

    def state_dict(self):
        """A flat dict: scalars ``type``, ``t`` and the hyper-parameters, plus one ndarray copy per
        buffer under ``"state.<param index>.<buffer>"`` (e.g. ``state.0.m``) -- so a checkpoint
        can keep the arrays in an ``.npz`` and the scalars in JSON."""
        sd = {"type": type(self).__name__, "t": self.t, **{k: getattr(self, k) for k in self._hyper_keys}}
        for i, st in enumerate(self.state):
            sd.update({f"state.{i}.{k}": v.copy() for k, v in st.items()})
        return sd

    def load_state_dict(self, sd):
        """Restore step count, hyper-parameters and buffers (checked against these parameters).

        Raises
        ------
        ValueError on a different optimizer type, missing/extra buffers or a shape mismatch.
        """
        name = type(self).__name__
        if sd.get("type") != name:
            raise ValueError(f"{name}.load_state_dict: state is for {sd.get('type')!r}")
        expected = {f"state.{i}.{k}" for i in range(len(self.params)) for k in self._state_keys}
        found = {k for k in sd if k.startswith("state.")}
        if found != expected:
            raise ValueError(f"{name}.load_state_dict: buffers do not match these {len(self.params)} "
                             f"parameters; missing {sorted(expected - found)[:5]}, "
                             f"unexpected {sorted(found - expected)[:5]}")
        for i, p in enumerate(self.params):
            for k in self._state_keys:
                if np.shape(sd[f"state.{i}.{k}"]) != p.shape:
                    raise ValueError(f"{name}.load_state_dict: buffer state.{i}.{k} has shape "
                                     f"{np.shape(sd[f'state.{i}.{k}'])}, parameter {i} has {p.shape}")
        self.t = int(sd["t"])
        for k in self._hyper_keys:
            setattr(self, k, tuple(sd[k]) if isinstance(sd[k], (list, tuple)) else float(sd[k]))
        self.state = [{k: np.array(sd[f"state.{i}.{k}"], dtype=p.dtype) for k in self._state_keys}
                      for i, p in enumerate(self.params)]
        return self


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and (coupled, L2) weight decay.

    Parameters
    ----------
    params : iterable of Parameters.
    lr : float
    momentum : float in [0, 1) -- 0 = plain SGD.
    weight_decay : float -- adds ``wd * w`` to the gradient.
    """

    _state_keys = ("buf",)
    _hyper_keys = ("lr", "momentum", "weight_decay")

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        super().__init__(params, lr)
        if not 0.0 <= momentum < 1.0 or weight_decay < 0:
            raise ValueError(f"SGD: need 0 <= momentum < 1 and weight_decay >= 0, "
                             f"got momentum={momentum}, weight_decay={weight_decay}")
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)

    def _update(self, p, g, st):
        if self.weight_decay:
            g = g + self.weight_decay * p.data
        if self.momentum:
            buf = st["buf"]
            if self.t == 1:
                buf[...] = g
            else:
                buf *= self.momentum
                buf += g
            g = buf
        p.data -= self.lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction; ``weight_decay`` is an L2 term in the gradient.

    Parameters
    ----------
    params : iterable of Parameters.
    lr : float -- 1e-3 is the usual default (SASRec's too).
    betas : (b1, b2) -- decay of the first and second moment averages.
    eps : float -- added to ``sqrt(v_hat)``; keeps rarely-updated rows from huge steps.
    weight_decay : float -- coupled L2 (use AdamW for decoupled decay).
    """

    _state_keys = ("m", "v")
    _hyper_keys = ("lr", "betas", "eps", "weight_decay")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        b1, b2 = betas
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0) or eps <= 0 or weight_decay < 0:
            raise ValueError(f"{type(self).__name__}: need betas in [0, 1), eps > 0, weight_decay >= 0; "
                             f"got betas={betas}, eps={eps}, weight_decay={weight_decay}")
        self.betas, self.eps, self.weight_decay = (float(b1), float(b2)), float(eps), float(weight_decay)

    def _update(self, p, g, st):
        if self.weight_decay:
            g = g + self.weight_decay * p.data
        self._adam(p, g, st)

    def _adam(self, p, g, st):
        b1, b2 = self.betas
        m, v = st["m"], st["v"]
        m *= b1
        m += (1 - b1) * g                                 # m = b1 m + (1 - b1) g
        v *= b2
        v += (1 - b2) * (g * g)                           # v = b2 v + (1 - b2) g^2
        step = self.lr / (1 - b1 ** self.t)
        denom = np.sqrt(v)
        denom *= 1.0 / np.sqrt(1 - b2 ** self.t)
        denom += self.eps
        p.data -= step * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay: ``w -= lr * wd * w`` then a plain Adam step.

    Parameters are those of Adam; ``weight_decay`` defaults to 0.01 here.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr, betas, eps, weight_decay)

    def _update(self, p, g, st):
        if self.weight_decay:
            p.data *= 1 - self.lr * self.weight_decay
        self._adam(p, g, st)


def clip_grad_norm(params, max_norm):
    """Scale all gradients together so their global L2 norm is at most ``max_norm``.

    Parameters
    ----------
    params : iterable of Parameters (those with ``grad is None`` are ignored).
    max_norm : float > 0

    Returns
    -------
    float : the total norm *before* clipping (useful to log).
    """
    if max_norm <= 0:
        raise ValueError(f"clip_grad_norm: max_norm must be > 0, got {max_norm}")
    grads = [p.grad for p in params if p.grad is not None]
    total = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads)))
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for g in grads:
            g *= scale
    return total
