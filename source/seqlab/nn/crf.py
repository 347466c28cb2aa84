r"""Linear-chain conditional random field (CRF): a score for a whole tag sequence, not one tag at a time.

A tagger's network gives emission scores ``E`` (B, T, K): how well tag ``j`` fits position ``t``.
A softmax tagger picks each position's tag on its own; a CRF adds a learned score ``A_{ij}`` for
moving from tag ``i`` to tag ``j`` (``transitions[i, j]``), and scores ``a_j`` for starting
(``start_transitions``) and ``b_j`` for ending (``end_transitions``) in tag ``j``. The names and
the U(-0.1, 0.1) initialisation are pytorch-crf's, so its state dicts load into this module.
Everything is batch first; ``mask`` (B, T) is True at real steps and left-aligned: a sequence of
length ``ℓ`` has ``mask[b, :ℓ]`` True and the rest False.

**Path score** of tags ``y_0 … y_{ℓ-1}`` (:meth:`LinearChainCRF.score`):

.. math::

   s(y) = a_{y_0} + \sum_{t=0}^{\ell-1} E_{t, y_t} + \sum_{t=1}^{\ell-1} A_{y_{t-1}, y_t} + b_{y_{\ell-1}},
   \qquad p(y \mid x) = \frac{\exp s(y)}{Z}, \qquad Z = \sum_{y'} \exp s(y').

**Forward algorithm** (:meth:`LinearChainCRF.log_partition`): the sum over all ``K^ℓ`` paths in
``O(ℓ K^2)``, in log space so that nothing overflows. ``α_t(j)`` is the log of the summed scores
of every path prefix that ends in tag ``j`` at step ``t``:

.. math::

   \alpha_0(j) = a_j + E_{0,j}, \qquad
   \alpha_t(j) = \operatorname{logsumexp}_i \bigl(\alpha_{t-1}(i) + A_{ij}\bigr) + E_{t,j}, \qquad
   \log Z = \operatorname{logsumexp}_j \bigl(\alpha_{\ell-1}(j) + b_j\bigr).

The loss (:meth:`LinearChainCRF.forward`) is the negative log-likelihood ``log Z - s(y)``. Its
gradient with respect to ``E_{t,j}`` is ``p(y_t = j | x) - [y_t = j]``: the derivative of
``log Z`` is the marginal probability of tag ``j`` at step ``t``.

**Viterbi** (:meth:`LinearChainCRF.decode`): the same recursion with ``max`` in place of
``logsumexp``, remembering which ``i`` won (the backpointer ``ψ``), then reading the best path
backwards from the best last tag:

.. math::

   \delta_t(j) = \max_i \bigl(\delta_{t-1}(i) + A_{ij}\bigr) + E_{t,j}, \quad
   \psi_t(j) = \operatorname{argmax}_i \bigl(\delta_{t-1}(i) + A_{ij}\bigr), \quad
   y_{\ell-1} = \operatorname{argmax}_j \bigl(\delta_{\ell-1}(j) + b_j\bigr), \quad
   y_{t-1} = \psi_t(y_t).

Both recursions run over the whole batch at once and loop over time only. At a padded step a row
keeps its ``α`` (or ``δ``) unchanged, so after the loop every row holds the value at its own last
real step; in Viterbi the padded steps' backpointers are the identity, so one backward pass over
the padded length walks every sequence back from its own end.

**Constraints.** Some tag pairs can never follow each other: in BMES word segmentation a word that
began (B) must continue (M) or end (E) before the next one begins. :func:`allowed_transitions` gives
the allowed start, transition and end tags; :meth:`LinearChainCRF.constrain` makes the CRF use
``-inf`` (or another value) for the rest, so they get probability 0 and Viterbi never chooses them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

REDUCTIONS = ("none", "sum", "mean", "token_mean")


def allowed_transitions(tags: Sequence[str] = ("B", "M", "E", "S")) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Which BMES tags may start, follow each other, and end: ``(start (K,), transitions (K, K), end (K,))``, bool.

    ``tags`` lists the tag of each index (any order, e.g. ``["S", "B", "M", "E"]``). A word is
    ``S`` or ``B M* E``, so after ``B`` or ``M`` comes ``M`` or ``E``; after ``E`` or ``S`` comes
    ``B`` or ``S``; a sentence starts with ``B`` or ``S`` and ends with ``E`` or ``S``. Forbidden:
    B→B, B→S, M→B, M→S, S→M, S→E, E→M, E→E, start→M/E, end after B/M.
    ``transitions[i, j]`` is True when tag ``tags[j]`` may follow ``tags[i]``.
    """
    tags = list(tags)
    if sorted(tags) != ["B", "E", "M", "S"]:
        raise ValueError(f"tags must be the four BMES tags B, M, E, S in some order, got {tags}")
    inside = {"B", "M"}  # a word is open after these
    start = torch.tensor([t in ("B", "S") for t in tags])  # (K,)
    end = torch.tensor([t in ("E", "S") for t in tags])  # (K,)
    trans = torch.tensor([[(j in ("M", "E")) == (i in inside) for j in tags] for i in tags])  # (K, K)
    return start, trans, end


class LinearChainCRF(nn.Module):
    """A linear-chain CRF over ``num_tags`` tags on top of emission scores (B, T, K); see the module docstring.

    ``forward(emissions, tags, mask)`` is the negative log-likelihood to minimise, ``decode`` the
    Viterbi paths, ``log_partition`` and ``score`` the two halves of the loss.
    """

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"num_tags must be >= 1, got {num_tags}")
        self.num_tags = num_tags
        self.start_transitions = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))  # a (K,)
        self.end_transitions = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))  # b (K,)
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))  # A (K, K)
        # constraints are not part of the state dict: a state dict loads with or without them
        self.register_buffer("start_allowed", None, persistent=False)
        self.register_buffer("transitions_allowed", None, persistent=False)
        self.register_buffer("end_allowed", None, persistent=False)
        self.forbidden_value = float("-inf")

    def constrain(self, start: torch.Tensor | None, transitions: torch.Tensor | None, end: torch.Tensor | None,
                  value: float = float("-inf")) -> LinearChainCRF:
        """Forbid what is False in the bool masks ``start`` (K,), ``transitions`` (K, K), ``end`` (K,)
        (e.g. ``crf.constrain(*allowed_transitions())``): those scores read as ``value`` in every method,
        and get no gradient. The parameters themselves are left as they are; ``None`` lifts a constraint.
        A large negative ``value`` such as -1e4 keeps the loss finite when a gold path breaks a rule."""
        K = self.num_tags
        for name, mask, shape in (("start", start, (K,)), ("transitions", transitions, (K, K)), ("end", end, (K,))):
            if mask is not None and (mask.shape != shape or mask.dtype != torch.bool):
                raise ValueError(f"{name} must be a bool tensor of shape {shape}, got {mask.dtype} {tuple(mask.shape)}")
        device = self.transitions.device
        self.start_allowed = None if start is None else start.to(device)
        self.transitions_allowed = None if transitions is None else transitions.to(device)
        self.end_allowed = None if end is None else end.to(device)
        self.forbidden_value = float(value)
        return self

    def _scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(a, A, b)`` with the constraints applied."""
        out = []
        for param, allowed in ((self.start_transitions, self.start_allowed),
                               (self.transitions, self.transitions_allowed),
                               (self.end_transitions, self.end_allowed)):
            out.append(param if allowed is None else param.masked_fill(~allowed, self.forbidden_value))
        return out[0], out[1], out[2]

    def _check(self, emissions: torch.Tensor, mask: torch.Tensor | None,
               tags: torch.Tensor | None = None) -> torch.Tensor:
        """Validate the inputs and return the mask (B, T) bool (all True when ``mask`` is None)."""
        K = self.num_tags
        if emissions.dim() != 3 or emissions.size(-1) != K:
            raise ValueError(f"emissions must have shape (B, T, {K}), got {tuple(emissions.shape)}")
        B, T = emissions.shape[:2]
        if T == 0:
            raise ValueError("emissions must have at least one time step")
        if mask is None:
            mask = torch.ones(B, T, dtype=torch.bool, device=emissions.device)
        if mask.shape != (B, T):
            raise ValueError(f"mask must have shape {(B, T)} like emissions' first two dimensions, "
                             f"got {tuple(mask.shape)}")
        if mask.dtype != torch.bool:
            raise ValueError(f"mask must be a bool tensor (True at real steps), got {mask.dtype}")
        if not bool(mask[:, 0].all()):
            raise ValueError("mask[:, 0] must be all True: every sequence needs at least its first step")
        if bool((mask[:, 1:] & ~mask[:, :-1]).any()):
            raise ValueError("mask must be left-aligned: once False in a row, it must stay False (padding at the end)")
        if tags is not None:
            if tags.shape != (B, T):
                raise ValueError(f"tags must have shape {(B, T)} like emissions' first two dimensions, "
                                 f"got {tuple(tags.shape)}")
            if tags.dtype.is_floating_point or tags.dtype == torch.bool:
                raise ValueError(f"tags must be integer tag ids, got {tags.dtype}")
            real = tags[mask]
            if real.numel() and (int(real.min()) < 0 or int(real.max()) >= K):
                raise ValueError(f"tags at real steps must be in [0, {K}), got {int(real.min())} to {int(real.max())}")
        return mask

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``log Z`` (B,) by the forward algorithm: the log of the summed exp-scores of all paths."""
        mask = self._check(emissions, mask)
        a, A, b = self._scores()
        alpha = a + emissions[:, 0]  # (B, K): α_0(j) = a_j + E_0j
        for t in range(1, emissions.size(1)):
            # α_t(j) = logsumexp_i(α_{t-1}(i) + A_ij) + E_tj
            step = torch.logsumexp(alpha.unsqueeze(2) + A, dim=1) + emissions[:, t]  # (B, K, 1) + (K, K) → (B, K)
            alpha = torch.where(mask[:, t, None], step, alpha)  # padded rows keep α
        return torch.logsumexp(alpha + b, dim=1)  # (B,)

    def score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The path score ``s(y)`` (B,) of ``tags`` (B, T): start + emissions + transitions + end, real steps only."""
        mask = self._check(emissions, mask, tags)
        a, A, b = self._scores()
        y = tags.long().masked_fill(~mask, 0)  # (B, T): padded steps read tag 0, then are masked out
        lengths = mask.sum(1)  # (B,)
        emit = emissions.gather(2, y.unsqueeze(2)).squeeze(2)  # (B, T): E_{t, y_t}
        trans = A[y[:, :-1], y[:, 1:]]  # (B, T-1): A_{y_{t-1}, y_t}
        last = y.gather(1, (lengths - 1).unsqueeze(1)).squeeze(1)  # (B,): y_{ℓ-1}
        zero = emissions.new_zeros(())
        return (a[y[:, 0]] + torch.where(mask, emit, zero).sum(1)
                + torch.where(mask[:, 1:], trans, zero).sum(1) + b[last])  # (B,)

    def forward(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor | None = None,
                reduction: str = "mean") -> torch.Tensor:
        """Negative log-likelihood ``log Z - s(y)`` of ``tags`` (B, T) given ``emissions`` (B, T, K).

        ``reduction``: ``"none"`` (B,), ``"sum"`` over the batch, ``"mean"`` over the batch (per
        sequence), ``"token_mean"`` the sum divided by the number of real tokens (per tag, the
        scale of a softmax tagger's cross-entropy). pytorch-crf returns the log-likelihood, the
        negative of this.
        """
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        mask = self._check(emissions, mask, tags)
        nll = self.log_partition(emissions, mask) - self.score(emissions, tags, mask)  # (B,)
        if reduction == "none":
            return nll
        if reduction == "sum":
            return nll.sum()
        if reduction == "mean":
            return nll.mean()
        return nll.sum() / mask.sum()

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor | None = None) -> list[list[int]]:
        """The Viterbi path of each sequence: a list of B lists, each as long as its real length."""
        mask = self._check(emissions, mask)
        a, A, b = self._scores()
        B, T, K = emissions.shape
        identity = torch.arange(K, device=emissions.device).expand(B, K)  # (B, K)
        delta = a + emissions[:, 0]  # (B, K): δ_0(j)
        backpointers = []
        for t in range(1, T):
            best, psi = (delta.unsqueeze(2) + A).max(dim=1)  # (B, K): max and argmax over the previous tag i
            m = mask[:, t, None]  # (B, 1)
            delta = torch.where(m, best + emissions[:, t], delta)  # δ_t(j); padded rows keep δ
            backpointers.append(torch.where(m, psi, identity))  # ψ_t(j); identity at padded steps
        tag = (delta + b).argmax(dim=1)  # (B,): y_{ℓ-1}, carried unchanged through the padding
        path = [tag]
        for psi in reversed(backpointers):
            tag = psi.gather(1, tag.unsqueeze(1)).squeeze(1)  # y_{t-1} = ψ_t(y_t)
            path.append(tag)
        path = torch.stack(path[::-1], dim=1)  # (B, T)
        return [row[:n].tolist() for row, n in zip(path, mask.sum(1).tolist())]

    def extra_repr(self) -> str:
        constrained = any(m is not None for m in (self.start_allowed, self.transitions_allowed, self.end_allowed))
        return f"num_tags={self.num_tags}" + (", constrained" if constrained else "")
