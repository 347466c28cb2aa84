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


def check_sizes(sizes) -> tuple:
    """``sizes`` as a (train, valid, test) tuple: None (keep everything) or three non-negative ints / None."""
    sizes = (None, None, None) if sizes is None else tuple(sizes)
    if len(sizes) != 3 or any(s is not None and s < 0 for s in sizes):
        raise ValueError(f"sizes must be three non-negative integers or None (train, valid, test), got {sizes}")
    return sizes


def nested_samples(
    parts: dict[str, list[T]], sizes, key: Callable[[T], str], salt: str, noun: str = "examples"
) -> dict[str, list[T]]:
    """Cut each split to its size (``sizes`` as in :func:`check_sizes`) by a second seeded hash of
    ``key``, keeping the split's order: the items with the smallest ``sha256(salt \\0 key)`` stay,
    so a smaller sample is always part of a larger one and the sample never depends on the corpus order."""
    out = {}
    for name, size in zip(SPLITS, check_sizes(sizes)):
        rows = parts[name]
        if size is not None:
            if size > len(rows):
                raise ValueError(f"the {name} split has {len(rows):,} {noun}, fewer than the {size:,} asked for")
            rank = [hashlib.sha256(f"{salt}\x00{key(r)}".encode("utf-8")).digest() for r in rows]
            keep = set(sorted(range(len(rows)), key=rank.__getitem__)[:size])
            rows = [r for i, r in enumerate(rows) if i in keep]
        out[name] = rows
    return out


def split_and_sample(
    items: Sequence[T], sizes, key: Callable[[T], str], seed: str, noun: str = "examples"
) -> dict[str, list[T]]:
    """:func:`split_by_hash` (80/10/10, seeded by ``seed``) then :func:`nested_samples` cut to
    ``sizes`` by a second hash salted ``seed + "\\0sample"``: the split every derived corpus uses."""
    sizes = check_sizes(sizes)
    parts = split_by_hash(items, key=key, seed=seed)
    return nested_samples(parts, sizes, key=key, salt=f"{seed}\x00sample", noun=noun)
