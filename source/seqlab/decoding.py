"""Choosing the next token from a model's scores: greedy, temperature and top-k sampling.

With logits ``z`` over the vocabulary and temperature ``T > 0``:

.. math::

   p_i(T) = \\frac{\\exp(z_i / T)}{\\sum_j \\exp(z_j / T)}
          = \\frac{p_i^{1/T}}{\\sum_j p_j^{1/T}}

``T = 1`` samples from the model as it is; ``T → 0`` puts all mass on the arg max (greedy);
``T → ∞`` tends to the uniform distribution. Top-k keeps only the k largest scores first.
"""

from __future__ import annotations

import torch


def _check(temperature: float, top_k: int | None) -> None:
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0 (use greedy() for T → 0), got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1 or None, got {top_k}")


def greedy(logits: torch.Tensor) -> torch.Tensor:
    """The arg max over the last dimension: (..., V) → (...)."""
    return logits.argmax(dim=-1)


def apply_temperature(probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """Re-weight a probability vector: ``p^(1/T)`` renormalised, over the last dimension."""
    _check(temperature, None)
    if (probs < 0).any():
        raise ValueError("probs must be non-negative")
    logp = torch.log(probs.clamp_min(torch.finfo(probs.dtype).tiny)) / temperature
    return torch.softmax(logp.masked_fill(probs == 0, float("-inf")), dim=-1)


def sample(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one index per row from ``softmax(logits / T)``, restricted to the top k: (..., V) → (...)."""
    _check(temperature, top_k)
    scores = logits / temperature  # (..., V)
    if top_k is not None and top_k < scores.size(-1):
        kth = torch.topk(scores, top_k, dim=-1).values[..., -1:]  # (..., 1)
        scores = scores.masked_fill(scores < kth, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    flat = probs.reshape(-1, probs.size(-1))  # (N, V)
    return torch.multinomial(flat, 1, generator=generator).view(probs.shape[:-1])


@torch.no_grad()
def generate(
    model,
    start: list[int],
    max_len: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    eos_index: int | None = None,
    generator: torch.Generator | None = None,
) -> list[int]:
    """Continue ``start`` (token ids) one token at a time with ``model.step``.

    ``model.step(token (1,), state) -> (logits (1, V), state)``. Stops after ``max_len`` new
    tokens or at ``eos_index`` (not included). ``temperature`` ≤ 0 is refused; for greedy
    decoding use ``top_k=1``. Returns only the new tokens.
    """
    _check(temperature, top_k)
    if not start:
        raise ValueError("start must contain at least one token id")
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    state, logits = None, None
    for token in start:  # read the prompt
        logits, state = model.step(torch.tensor([token], device=device), state)
    out: list[int] = []
    for _ in range(max_len):
        nxt = int(sample(logits.float().cpu(), temperature, top_k, generator))
        if eos_index is not None and nxt == eos_index:
            break
        out.append(nxt)
        logits, state = model.step(torch.tensor([nxt], device=device), state)
    model.train(was_training)
    return out
