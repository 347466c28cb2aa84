"""scikit-learn's bundled handwritten digits (1,797 images of 8×8 pixels, 10 classes), split once.

Small enough that a deep MLP trains in seconds on a CPU, real enough to show what an
initialisation or a normalisation does; chapter 6 strings the same images into digit sequences.
The split is a seeded hash of each image's index (:func:`seqlab.data.splits.split_by_hash`), so
every lesson sees the same images in the same split; pixels are standardised with the training
split's mean and standard deviation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seqlab.data.cache import MissingDataError
from seqlab.data.splits import split_by_hash

FRACTIONS = (0.7, 0.1, 0.2)


@dataclass(frozen=True)
class DigitSplits:
    """Standardised images ``(N, 64)`` float32 and labels ``(N,)`` int64 per split, and the raw 8×8 images."""

    train: tuple[torch.Tensor, torch.Tensor]
    valid: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    mean: torch.Tensor  # (64,): the training split's pixel means
    std: torch.Tensor  # (64,): the training split's pixel standard deviations (plus 1e-6)


def load_digits_raw() -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 images as (N, 8, 8) float32 in [0, 16] and labels (N,) int64."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:  # pragma: no cover - scikit-learn is in requirements and in seqlab[data]
        raise MissingDataError("The handwritten digits ship with scikit-learn: pip install scikit-learn") from e
    digits = load_digits()
    return torch.tensor(digits.images, dtype=torch.float32), torch.tensor(digits.target, dtype=torch.long)


def digit_splits(fractions: tuple[float, float, float] = FRACTIONS, device: torch.device | str | None = None) -> DigitSplits:
    """The digits split into train / valid / test (default 70 / 10 / 20 %), standardised by the training split."""
    images, labels = load_digits_raw()
    flat = images.reshape(len(images), -1)  # (N, 64)
    parts = split_by_hash(list(range(len(labels))), key=lambda i: f"digit-{i}", fractions=fractions)
    train_idx = torch.tensor(parts["train"])
    mean, std = flat[train_idx].mean(0), flat[train_idx].std(0) + 1e-6
    x = (flat - mean) / std

    def take(name: str) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.tensor(parts[name], dtype=torch.long)
        return x[idx].to(device), labels[idx].to(device)

    return DigitSplits(take("train"), take("valid"), take("test"), mean, std)
