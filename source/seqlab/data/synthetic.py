"""Synthetic tasks with a known answer, for showing what a model can remember.

The adding problem (Hochreiter & Schmidhuber 1997): each step carries a pair
``(value ~ U(0, 1), marker ∈ {0, 1})``; exactly two markers are 1, one in each half of the
sequence, and the target is the sum of the two marked values. Always predicting the mean
target 1.0 gives MSE = Var(u1 + u2) = 2/12 ≈ 0.167, the baseline a model must beat.
"""

from __future__ import annotations

import torch


def adding_problem(n: int, length: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` sequences of ``length`` steps: inputs (n, length, 2) and targets (n,)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if length < 2:
        raise ValueError(f"length must be >= 2 (one marker in each half), got {length}")
    values = torch.rand(n, length, generator=generator)  # (N, T)
    half = length // 2
    first = torch.randint(0, half, (n,), generator=generator)  # (N,)
    second = torch.randint(half, length, (n,), generator=generator)  # (N,)
    markers = torch.zeros(n, length)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = values[rows, first] + values[rows, second]  # (N,)
    return torch.stack([values, markers], dim=-1), targets  # (N, T, 2), (N,)


BASELINE_MSE = 1 / 6  # predicting 1.0 always: Var(U1 + U2) = 2 * (1/12)
