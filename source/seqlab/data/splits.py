"""Fixed train / validation / test splits by a seeded hash of each example's key.

The split of an example depends only on its key (its text, say) and the seed, not on the
order or size of the corpus, so every run and every student sees the same split, and adding
data never moves an old example to another split.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
SPLITS = ("train", "valid", "test")


def split_of(key: str, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: str = "seqlab") -> str:
    """``"train"``, ``"valid"`` or ``"test"`` for ``key``, with the given fractions."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-9:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    digest = hashlib.sha256(f"{seed}\x00{key}".encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
    if u < fractions[0]:
        return "train"
    return "valid" if u < fractions[0] + fractions[1] else "test"


def split_by_hash(
    items: Sequence[T],
    key: Callable[[T], str],
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: str = "seqlab",
) -> dict[str, list[T]]:
    """Partition ``items`` into ``{"train": [...], "valid": [...], "test": [...]}`` (order kept)."""
    out: dict[str, list[T]] = {name: [] for name in SPLITS}
    for item in items:
        out[split_of(key(item), fractions, seed)].append(item)
    return out
