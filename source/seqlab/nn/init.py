r"""Weight initialisation from scratch: why the variance of a weight should depend on its fan.

For one unit :math:`y = \sum_{i=1}^{n} w_i x_i` with :math:`w_i` and :math:`x_i` independent
and of mean zero,

.. math::

   \operatorname{Var}(y) = \sum_{i=1}^{n} \operatorname{Var}(w_i)\,\operatorname{Var}(x_i)
                         = n_\text{in}\,\operatorname{Var}(w)\,\operatorname{Var}(x) .

* **LeCun** keeps the forward signal: :math:`\operatorname{Var}(w) = 1/n_\text{in}`.
* **Xavier / Glorot** (Glorot & Bengio 2010) also wants the backward signal kept, which asks for
  :math:`1/n_\text{out}`, and takes the compromise :math:`\operatorname{Var}(w) = 2/(n_\text{in} + n_\text{out})`,
  times ``gain**2`` for the non-linearity (5/3 for tanh).
* **He / Kaiming** (He et al. 2015): ReLU zeroes half of its inputs, halving the second moment,
  so :math:`\operatorname{Var}(w) = 2/n_\text{fan}`.
* **Orthogonal** (Saxe et al. 2014): a matrix with all singular values 1 keeps the norm of every
  vector it multiplies, however many times; the usual choice for recurrent weights :math:`W_{hh}`.

Every function fills a tensor in place under ``torch.no_grad()`` and returns it, with the same
arguments and random-number calls as its ``torch.nn.init`` namesake, so the same ``generator``
gives the same numbers (the tests check it). :func:`initialize` applies one scheme to a model.
"""

from __future__ import annotations

import math

import torch
from torch import nn

SCHEMES = ("zeros", "constant", "small", "lecun", "xavier", "he", "orthogonal")
_GAINS = {"linear": 1.0, "identity": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3, "relu": math.sqrt(2.0), "selu": 3.0 / 4}


def calculate_fans(tensor: torch.Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight laid out as ``(out, in, *kernel)``, like ``nn.Linear``'s ``(out, in)``.

    Raises ``ValueError`` for fewer than 2 dimensions or a fan of 0 (an empty weight).
    """
    if tensor.dim() < 2:
        raise ValueError(f"fans need a weight of at least 2 dimensions (out, in, ...), got shape {tuple(tensor.shape)}")
    receptive = math.prod(tensor.shape[2:])  # 1 for a matrix
    fan_in, fan_out = tensor.size(1) * receptive, tensor.size(0) * receptive
    if fan_in == 0 or fan_out == 0:
        raise ValueError(f"a weight of shape {tuple(tensor.shape)} has fan_in {fan_in} and fan_out {fan_out}; both must be > 0")
    return fan_in, fan_out


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor that makes up for a non-linearity's effect on the variance (``torch.nn.init.calculate_gain``)."""
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity not in _GAINS:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}; expected one of {(*_GAINS, 'leaky_relu')}")
    return _GAINS[nonlinearity]


def _fan(tensor: torch.Tensor, mode: str) -> int:
    fan_in, fan_out = calculate_fans(tensor)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    return fan_in if mode == "fan_in" else fan_out


@torch.no_grad()
def xavier_uniform_(tensor: torch.Tensor, gain: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """:math:`U(-a, a)` with :math:`a = \\text{gain}\\sqrt{6/(n_\\text{in} + n_\\text{out})}`, so Var = gain² · 2/(n_in + n_out)."""
    fan_in, fan_out = calculate_fans(tensor)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))  # Var of U(-a, a) is a^2 / 3
    return tensor.uniform_(-a, a, generator=generator)


@torch.no_grad()
def xavier_normal_(tensor: torch.Tensor, gain: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """:math:`N(0, \\sigma^2)` with :math:`\\sigma = \\text{gain}\\sqrt{2/(n_\\text{in} + n_\\text{out})}`."""
    fan_in, fan_out = calculate_fans(tensor)
    return tensor.normal_(0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator=generator)


@torch.no_grad()
def he_uniform_(tensor: torch.Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                generator: torch.Generator | None = None) -> torch.Tensor:
    """:math:`U(-b, b)` with :math:`b = \\text{gain}\\sqrt{3/n}`: Var = gain²/n, 2/n for ReLU (``kaiming_uniform_``)."""
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(tensor, mode))
    return tensor.uniform_(-bound, bound, generator=generator)


@torch.no_grad()
def he_normal_(tensor: torch.Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
               generator: torch.Generator | None = None) -> torch.Tensor:
    """:math:`N(0, \\text{gain}^2/n)`: std :math:`\\sqrt{2/n}` for ReLU (``kaiming_normal_``)."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return tensor.normal_(0.0, std, generator=generator)


@torch.no_grad()
def lecun_normal_(tensor: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """:math:`N(0, 1/n_\\text{in})`: the forward condition alone; the initialisation SELU assumes."""
    fan_in, _ = calculate_fans(tensor)
    return tensor.normal_(0.0, 1.0 / math.sqrt(fan_in), generator=generator)


@torch.no_grad()
def orthogonal_(tensor: torch.Tensor, gain: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """A (semi-)orthogonal matrix times ``gain``: the Q of a Gaussian matrix's QR, signs fixed so Q is uniform.

    Rows are orthonormal when there are fewer rows than columns, columns otherwise; extra
    dimensions are flattened into columns, as ``torch.nn.init.orthogonal_`` does.
    """
    if tensor.dim() < 2:
        raise ValueError(f"orthogonal_ needs at least 2 dimensions, got shape {tuple(tensor.shape)}")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.size(0)
    cols = tensor.numel() // rows
    flat = tensor.new_empty((rows, cols)).normal_(0.0, 1.0, generator=generator)  # (rows, cols)
    if rows < cols:
        flat.t_()  # QR of the tall matrix, transposed back below
    q, r = torch.linalg.qr(flat)  # q: orthonormal columns
    q *= torch.diag(r, 0).sign()  # without this, QR's sign convention biases the distribution
    if rows < cols:
        q.t_()
    tensor.view_as(q).copy_(q)
    return tensor.mul_(gain)


@torch.no_grad()
def small_normal_(tensor: torch.Tensor, std: float = 0.01, generator: torch.Generator | None = None) -> torch.Tensor:
    """:math:`N(0, \\text{std}^2)` whatever the fan: the lecture's "取小一點的值", which vanishes in deep stacks."""
    if not std > 0:
        raise ValueError(f"std must be > 0, got {std}")
    return tensor.normal_(0.0, std, generator=generator)


def _fill(weight: torch.Tensor, scheme: str, gain: float, value: float, std: float,
          generator: torch.Generator | None) -> None:
    if scheme == "zeros":
        with torch.no_grad():
            weight.zero_()
    elif scheme == "constant":
        with torch.no_grad():
            weight.fill_(value)
    elif scheme == "small":
        small_normal_(weight, std, generator)
    elif scheme == "lecun":
        lecun_normal_(weight, generator)
    elif scheme == "xavier":
        xavier_uniform_(weight, gain, generator)
    elif scheme == "he":
        he_normal_(weight, nonlinearity="relu", generator=generator)
    elif scheme == "orthogonal":
        orthogonal_(weight, gain, generator)


def _blocks(name: str, module: nn.Module) -> int:
    """How many gate blocks a recurrent weight stacks: 4 for LSTM, 3 for GRU, 1 otherwise."""
    if not name.startswith(("weight_ih", "weight_hh")):
        return 1
    kind = type(module).__name__.upper()
    return 4 if "LSTM" in kind else 3 if "GRU" in kind else 1


def initialize(
    model: nn.Module,
    scheme: str,
    *,
    nonlinearity: str = "linear",
    recurrent: str | None = None,
    value: float = 0.5,
    std: float = 0.01,
    bias: float = 0.0,
    generator: torch.Generator | None = None,
) -> nn.Module:
    """Re-initialise every weight of ``model`` (every parameter of 2 or more dimensions) by ``scheme``.

    ``scheme`` is one of :data:`SCHEMES`: ``"zeros"``, ``"constant"`` (every weight ``value``),
    ``"small"`` (N(0, std²)), ``"lecun"``, ``"xavier"`` (uniform, with ``calculate_gain(nonlinearity)``),
    ``"he"`` (normal, fan_in, ReLU) or ``"orthogonal"``. Recurrent weights (``weight_hh*``) take
    ``recurrent`` instead when it is given, e.g. ``recurrent="orthogonal"``. Weights that stack the
    gates of an LSTM (4) or GRU (3) are filled block by block, so each gate's matrix has its own
    fans (and is itself orthogonal). Embeddings are left alone; every bias is set to ``bias``.
    Returns the model.
    """
    for name in (scheme, recurrent):
        if name is not None and name not in SCHEMES:
            raise ValueError(f"unknown initialisation scheme {name!r}; expected one of {SCHEMES}")
    gain = calculate_gain(nonlinearity)
    for module in model.modules():
        if isinstance(module, nn.Embedding):
            continue
        for name, param in module.named_parameters(recurse=False):
            if param.dim() >= 2:
                chosen = recurrent if recurrent is not None and name.startswith("weight_hh") else scheme
                for block in param.data.chunk(_blocks(name, module), dim=0):
                    _fill(block, chosen, gain, value, std, generator)
            elif name.startswith("bias"):
                with torch.no_grad():
                    param.fill_(bias)
    return model
