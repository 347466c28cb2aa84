r"""Focal loss (Lin et al. 2017): cross-entropy that stops rewarding what the model already gets right.

With :math:`p_t` the probability the model gives the target class and :math:`w_t` its class weight,

.. math::

   \mathrm{CE} = -w_t \log p_t, \qquad
   \mathrm{FL}_\gamma = -w_t\,(1 - p_t)^{\gamma} \log p_t .

The factor :math:`(1 - p_t)^\gamma` is close to 0 for an easy, well-classified example
(:math:`p_t \to 1`) and close to 1 for a hard one, so the frequent, easy classes that dominate
the cross-entropy of a skewed data set (the "winner takes all" of a character model that writes
「夢你你你的」) weigh less. :math:`\gamma = 0` is the cross-entropy itself; the class weights play the
role of the paper's :math:`\alpha`.

Inputs are batch first with the classes last: ``logits`` (..., C), e.g. (B, T, V) for a language
model, and ``target`` (...). ``F.cross_entropy`` wants the classes in dimension 1 ((B, V, T)), so
the equivalence with it is stated on flattened inputs: ``F.cross_entropy(logits.reshape(-1, C),
target.reshape(-1))``. The mean is the weighted mean that ``F.cross_entropy`` takes:
:math:`\sum_i \mathrm{FL}_i / \sum_i w_{t_i}` over the targets that are not ``ignore_index``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

REDUCTIONS = ("mean", "sum", "none")


def _check(logits: torch.Tensor, target: torch.Tensor, gamma: float, weight: torch.Tensor | None,
           reduction: str) -> None:
    if not gamma >= 0:
        raise ValueError(f"gamma must be >= 0 (0 gives the cross-entropy), got {gamma}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if logits.dim() < 1:
        raise ValueError("logits must have a class dimension last: (..., C)")
    if tuple(target.shape) != tuple(logits.shape[:-1]):
        raise ValueError(f"target must have shape {tuple(logits.shape[:-1])} (logits (..., C) without C), "
                         f"got {tuple(target.shape)}")
    if target.dtype not in (torch.long, torch.int, torch.int16, torch.int8, torch.uint8):
        raise ValueError(f"target must hold class indices (an integer tensor), got {target.dtype}")
    if weight is not None and tuple(weight.shape) != (logits.size(-1),):
        raise ValueError(f"weight must have shape (C,) = ({logits.size(-1)},), got {tuple(weight.shape)}")


def focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    gamma: float = 2.0,
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    """Focal loss of ``logits`` (..., C) for class indices ``target`` (...); see the module docstring.

    ``gamma = 0`` equals ``F.cross_entropy`` on the flattened inputs, with the same ``weight``,
    ``ignore_index`` and ``reduction`` (``"none"`` gives 0 at ignored positions; ``"mean"`` over
    no valid target is NaN, as torch's). Raises ``ValueError`` for ``gamma < 0`` or mismatched shapes.
    """
    _check(logits, target, gamma, weight, reduction)
    target = target.long()
    valid = target != ignore_index  # (...)
    safe = target.masked_fill(~valid, 0)  # any real class where ignored, so gather stays in range
    log_p = F.log_softmax(logits, dim=-1)  # (..., C)
    log_pt = log_p.gather(-1, safe.unsqueeze(-1)).squeeze(-1)  # (...): log p_t
    if gamma == 0:
        loss = -log_pt  # (1 - p_t)^0 = 1: skip the power, whose gradient at p_t = 1 would be 0 * inf
    else:
        one_minus_pt = -torch.expm1(log_pt)  # 1 - p_t, accurate when p_t is close to 1
        if gamma < 1:  # the derivative of x^gamma is infinite at 0: keep x a hair above it
            one_minus_pt = one_minus_pt.clamp_min(torch.finfo(logits.dtype).tiny)
        loss = -one_minus_pt.pow(gamma) * log_pt  # (...)
    w = valid.to(logits.dtype) if weight is None else weight.to(logits.dtype)[safe] * valid  # (...): w_t, 0 if ignored
    loss = loss * w
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / w.sum()


class FocalLoss(nn.Module):
    """:func:`focal_loss` as a module, with ``gamma`` checked once and ``weight`` kept as a buffer."""

    def __init__(self, gamma: float = 2.0, weight: torch.Tensor | None = None, ignore_index: int = -100,
                 reduction: str = "mean") -> None:
        super().__init__()
        if not gamma >= 0:
            raise ValueError(f"gamma must be >= 0 (0 gives the cross-entropy), got {gamma}")
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.gamma, self.ignore_index, self.reduction = float(gamma), ignore_index, reduction
        self.register_buffer("weight", None if weight is None else torch.as_tensor(weight, dtype=torch.float))

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return focal_loss(logits, target, self.gamma, self.weight, self.ignore_index, self.reduction)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, ignore_index={self.ignore_index}, reduction={self.reduction!r}"
