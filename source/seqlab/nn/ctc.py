r"""Connectionist Temporal Classification (Graves et al. 2006): a loss for unaligned sequences.

A network reads T frames and gives, at every frame t, log-probabilities :math:`\log y_t(k)` over
V symbols, one of which is the **blank** :math:`\varnothing`. A frame-by-frame *alignment*
:math:`\pi = (\pi_1, \dots, \pi_T)` is read as a label sequence by the collapse :math:`\mathcal B`:
merge repeated neighbours, then drop the blanks (``1 1 ∅ 1 2 2`` → ``1 1 2``). CTC maximises the
probability of the target :math:`\mathbf l = (l_1, \dots, l_S)` summed over every alignment that
collapses to it,

.. math::

   p(\mathbf l \mid x) = \sum_{\pi \in \mathcal B^{-1}(\mathbf l)} \prod_{t=1}^{T} y_t(\pi_t),
   \qquad \mathrm{loss} = -\log p(\mathbf l \mid x).

**The extended sequence.** Put a blank before, between and after the labels:
:math:`\mathbf l' = (\varnothing, l_1, \varnothing, l_2, \dots, l_S, \varnothing)`, length
:math:`2S + 1`. An alignment is a path through :math:`\mathbf l'` that starts at :math:`l'_1` or
:math:`l'_2`, moves at every frame by 0, 1 or 2 positions, and ends at :math:`l'_{2S+1}` or
:math:`l'_{2S}`.

**The forward recursion** (α, in log space; positions s = 1 … 2S+1)

.. math::

   \log\alpha_1(1) = \log y_1(\varnothing), \qquad \log\alpha_1(2) = \log y_1(l_1), \qquad
   \log\alpha_1(s) = -\infty \ (s > 2)

   \log\alpha_t(s) = \log y_t(l'_s) + \operatorname{logsumexp}\big(\log\alpha_{t-1}(s),\;
   \log\alpha_{t-1}(s-1),\; \log\alpha_{t-1}(s-2)\ \text{if}\ \mathrm{skip}(s)\big)

   \mathrm{skip}(s) \iff l'_s \ne \varnothing \ \text{and}\ l'_s \ne l'_{s-2}

   \mathrm{loss} = -\operatorname{logsumexp}\big(\log\alpha_T(2S+1),\; \log\alpha_T(2S)\big)

The skip jumps over a blank, from one label straight to the next; it is allowed only between two
*different* labels, since ``2 2`` without a blank between collapses to a single ``2``.

**Feasibility.** Every label takes one frame, and every pair of equal neighbours (好棒棒's
``[1, 2, 2]`` has one) needs a blank frame between them, so a target is reachable only when

.. math::

   T \ge S + \#\{i : l_i = l_{i-1}\}.

Otherwise :math:`p(\mathbf l \mid x) = 0` and the loss is :math:`+\infty`; ``zero_infinity=True``
sets such losses, and their gradients, to zero (as ``F.ctc_loss`` does).

**Implementation.** Inputs are **batch first**: ``log_probs`` (B, T, V), as every loss in seqlab.
``torch.nn.functional.ctc_loss`` takes the same arguments with ``log_probs`` time first
(T, B, V), so the equivalent built-in call transposes there::

    F.ctc_loss(log_probs.transpose(0, 1), targets, input_lengths, target_lengths, blank=blank)

The recursion runs over the batch at once, a Python loop over time only: the emissions
:math:`\log y_t(l'_s)` are gathered once into a (B, T, 2S+1) tensor, the skip rule is a fixed
mask, and each step is one logsumexp over the windows :math:`(s-2, s-1, s)` of the previous α,
(B, 2S+1, 3). Each sequence's α is read at its own last frame, so padded frames never count.
The gradient is autograd's, through the recursion (backpropagating through α computes what the
paper's backward β recursion does). An impossible state holds a large finite negative number
instead of :math:`-\infty`: autograd's derivative of logsumexp at all :math:`-\infty` is
:math:`\exp((-\infty) - (-\infty)) = \mathrm{nan}`, which would poison every gradient it
touches; a loss at that level is reported as :math:`+\infty`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

REDUCTIONS = ("mean", "sum", "none")
IMPOSSIBLE = -1e30  # log 0 for the recursion: finite, so gradients stay free of nan


def _lengths(x, name: str, B: int, device: torch.device) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(list(x) if isinstance(x, Sequence) else x)
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise ValueError(f"{name} must hold integers, got {t.dtype}")
    if tuple(t.shape) != (B,):
        raise ValueError(f"{name} must have shape (B,) = ({B},), one length per sequence, got {tuple(t.shape)}")
    return t.to(device=device, dtype=torch.long)


def _check(log_probs, targets, input_lengths, target_lengths, blank, reduction):
    """Validate the arguments; return (input_lengths, target_lengths, padded targets (B, S_max))."""
    if not isinstance(log_probs, torch.Tensor) or log_probs.dim() != 3:
        shape = tuple(log_probs.shape) if isinstance(log_probs, torch.Tensor) else type(log_probs).__name__
        raise ValueError(f"log_probs must be a (B, T, V) tensor (batch first; F.ctc_loss's is (T, B, V)), "
                         f"got {shape}")
    if not log_probs.is_floating_point():
        raise ValueError(f"log_probs must be floating point (log-probabilities), got {log_probs.dtype}")
    B, T, V = log_probs.shape
    if isinstance(blank, bool) or not isinstance(blank, int) or not 0 <= blank < V:
        raise ValueError(f"blank must be an int in [0, V) = [0, {V}), got {blank!r}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    device = log_probs.device
    input_lengths = _lengths(input_lengths, "input_lengths", B, device)
    target_lengths = _lengths(target_lengths, "target_lengths", B, device)
    if B and (input_lengths.min() < 0 or input_lengths.max() > T):
        raise ValueError(f"input_lengths must lie in [0, T] = [0, {T}], got {input_lengths.tolist()}")
    if B and target_lengths.min() < 0:
        raise ValueError(f"target_lengths must be >= 0, got {target_lengths.tolist()}")
    if not isinstance(targets, torch.Tensor):
        raise ValueError(f"targets must be a tensor, got {type(targets).__name__}")
    if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
        raise ValueError(f"targets must hold label ids (an integer tensor), got {targets.dtype}")
    targets = targets.to(device=device, dtype=torch.long)
    S = int(target_lengths.max()) if B else 0  # the longest target
    s = torch.arange(S, device=device)  # (S,)
    valid = s < target_lengths[:, None]  # (B, S): which entries are labels, not padding
    if targets.dim() == 2:  # padded (B, S_pad)
        if targets.size(0) != B:
            raise ValueError(f"targets must have shape (B, S) with B = {B} (or be 1-D, concatenated), "
                             f"got {tuple(targets.shape)}")
        if S > targets.size(1):
            raise ValueError(f"target_lengths must be at most targets.size(1) = {targets.size(1)}, "
                             f"got {target_lengths.tolist()}")
        padded = targets[:, :S]  # (B, S)
    elif targets.dim() == 1:  # concatenated: sum(target_lengths) labels, one target after another
        total = int(target_lengths.sum())
        if total != targets.numel():
            raise ValueError(f"1-D (concatenated) targets must hold sum(target_lengths) = {total} labels, "
                             f"got {targets.numel()}")
        start = target_lengths.cumsum(0) - target_lengths  # (B,) where each target starts
        index = (start[:, None] + s).clamp(max=max(total - 1, 0))  # (B, S)
        padded = targets[index] if total else targets.new_zeros(B, S)  # (B, S)
    else:
        raise ValueError(f"targets must be padded (B, S) or concatenated 1-D, got {tuple(targets.shape)}")
    padded = torch.where(valid, padded, blank)  # (B, S), padding becomes the blank
    labels = padded[valid]
    if labels.numel() and (labels.min() < 0 or labels.max() >= V):
        raise ValueError(f"targets must be label ids in [0, V) = [0, {V}), got values from "
                         f"{int(labels.min())} to {int(labels.max())}")
    if (labels == blank).any():
        raise ValueError(f"targets must not contain the blank ({blank}) within target_lengths")
    return input_lengths, target_lengths, padded


def ctc_forward(log_probs: torch.Tensor, padded: torch.Tensor, input_lengths: torch.Tensor,
                target_lengths: torch.Tensor, blank: int) -> torch.Tensor:
    """-log p(l | x) for every sequence, (B,), by the α recursion; arguments already checked,
    ``padded`` (B, S) holds the targets with the blank as padding. Impossible targets give inf."""
    B, T, V = log_probs.shape
    S = padded.size(1)
    L = 2 * S + 1
    ext = padded.new_full((B, L), blank)  # (B, L) the extended sequence l'
    ext[:, 1::2] = padded
    e = log_probs.gather(2, ext[:, None, :].expand(B, T, L))  # (B, T, L): log y_t(l'_s)
    e = e.clamp(min=IMPOSSIBLE).transpose(0, 1)  # (T, B, L), frame t is e[t]
    skip = torch.zeros(B, L, dtype=torch.bool, device=ext.device)  # (B, L)
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    mask = e.new_zeros(B, L, 3)  # (B, L, 3): added to (α_{t-1}(s-2), α_{t-1}(s-1), α_{t-1}(s))
    mask[:, :, 0] = torch.where(skip, 0.0, IMPOSSIBLE)  # the jump from s-2 only where skip(s)
    pad = e.new_full((B, 2), IMPOSSIBLE)  # (B, 2): the positions s-2, s-1 before the start
    frames = e.unbind(0)  # T tensors (B, L), sliced once rather than at every step

    alpha = e.new_full((B, L), IMPOSSIBLE)  # (B, L)
    alpha[:, :2] = e[0, :, :2] if T else IMPOSSIBLE  # start at the first blank or the first label
    alphas = [alpha]
    for t in range(1, int(input_lengths.max()) if B else 0):
        prev = torch.cat([pad, alpha], dim=1)  # (B, L + 2): α_{t-1}(s - 2) is prev[:, s]
        window = prev.unfold(1, 3, 1)  # (B, L, 3): [α_{t-1}(s-2), α_{t-1}(s-1), α_{t-1}(s)], a view
        alpha = frames[t] + torch.logsumexp(window + mask, dim=-1)  # (B, L)
        alphas.append(alpha)
    alpha = torch.stack(alphas)  # (T_max, B, L)

    b = torch.arange(B, device=ext.device)
    last = (input_lengths - 1).clamp(min=0)  # (B,) each sequence's last frame
    end = alpha[last, b, 2 * target_lengths]  # (B,) α_T(2S+1): ended on the final blank
    label = alpha[last, b, (2 * target_lengths - 1).clamp(min=0)]  # (B,) α_T(2S): ended on l_S
    label = torch.where(target_lengths > 0, label, IMPOSSIBLE)  # no label to end on when S = 0
    log_p = torch.logsumexp(torch.stack([end, label]), dim=0)  # (B,)
    empty = torch.where(target_lengths == 0, 0.0, IMPOSSIBLE).to(log_p.dtype)  # T = 0: log p(∅)
    log_p = torch.where(input_lengths > 0, log_p, empty)  # (B,)
    return torch.where(log_p > IMPOSSIBLE / 2, -log_p, float("inf"))  # (B,)


def ctc_loss(
    log_probs: torch.Tensor,
    targets: torch.Tensor,
    input_lengths: torch.Tensor | Sequence[int],
    target_lengths: torch.Tensor | Sequence[int],
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> torch.Tensor:
    """The CTC loss, from scratch; ``F.ctc_loss``'s arguments, but ``log_probs`` batch first.

    ``log_probs`` (B, T, V): log-probabilities (``log_softmax`` over V); ``F.ctc_loss`` wants
    (T, B, V), so call it with ``log_probs.transpose(0, 1)``. ``targets``: padded (B, S) with any
    value after each target's length, or 1-D with the targets concatenated (sum of
    ``target_lengths`` labels); label ids in [0, V), never the blank. ``input_lengths`` (B,) in
    [0, T] and ``target_lengths`` (B,): tensors or sequences of ints, in any order (no sorting).
    ``reduction``: ``"none"`` gives the (B,) losses, ``"sum"`` their sum, ``"mean"`` divides each
    by its target length (at least 1) and averages over the batch, as ``F.ctc_loss`` does.
    ``zero_infinity=True`` replaces infinite losses (infeasible targets, see the module) and
    their gradients by zero. Half precision is computed in float32 and returned in float32.
    """
    input_lengths, target_lengths, padded = _check(log_probs, targets, input_lengths, target_lengths,
                                                   blank, reduction)
    if log_probs.dtype in (torch.float16, torch.bfloat16):
        log_probs = log_probs.float()
    loss = ctc_forward(log_probs, padded, input_lengths, target_lengths, blank)  # (B,)
    if zero_infinity:
        loss = torch.where(torch.isinf(loss), 0.0, loss)  # (B,), no gradient from those rows
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return (loss / target_lengths.clamp(min=1).to(loss.dtype)).mean()
