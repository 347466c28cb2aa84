"""From lists of token ids to padded batches: padding, lengths, masks and length buckets; and
shuffled mini-batches of fixed-size examples (images, feature vectors)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch


def pad_sequences(
    sequences: Sequence[Sequence[int]], pad_index: int = 0, max_len: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists into a (B, T) LongTensor; returns it with the lengths (B,).

    ``max_len`` truncates longer sequences (keeping their beginning). Empty sequences are
    refused: a model cannot read zero tokens.
    """
    if not sequences:
        raise ValueError("sequences must not be empty")
    if max_len is not None and max_len < 1:
        raise ValueError(f"max_len must be >= 1 or None, got {max_len}")
    lengths = [min(len(s), max_len) if max_len else len(s) for s in sequences]
    if min(lengths) == 0:
        raise ValueError("every sequence needs at least one token")
    batch = torch.full((len(sequences), max(lengths)), pad_index, dtype=torch.long)  # (B, T)
    for b, (seq, n) in enumerate(zip(sequences, lengths)):
        batch[b, :n] = torch.as_tensor(list(seq[:n]), dtype=torch.long)
    return batch, torch.tensor(lengths)


def length_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """(B, T) bool mask, True at real tokens: ``mask[b, t] = t < lengths[b]``."""
    T = int(lengths.max()) if max_len is None else max_len
    return torch.arange(T, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)


def bucket_batches(
    lengths: Sequence[int], batch_size: int, shuffle: bool = True, generator: torch.Generator | None = None
) -> Iterator[list[int]]:
    """Index batches of similar length (less padding): sort by length, cut, shuffle the batches."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if shuffle:
        batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
    yield from batches


def shuffled_batches(*tensors: torch.Tensor, batch_size: int) -> list[tuple[torch.Tensor, ...]]:
    """One epoch of mini-batches: the rows of ``tensors`` (same first dimension) in a random order.

    The order comes from torch's global generator, so ``seed_everything`` (which
    ``seqlab.experiment.compare`` calls before making each run's batches) fixes it; the last batch
    may be smaller. Returns a list of tuples, one slice of every tensor each.
    """
    if not tensors:
        raise ValueError("give at least one tensor")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    n = tensors[0].size(0)
    if any(t.size(0) != n for t in tensors):
        raise ValueError(f"tensors must have the same first dimension, got {[tuple(t.shape) for t in tensors]}")
    order = torch.randperm(n, device=tensors[0].device)
    return [tuple(t[order[i : i + batch_size]] for t in tensors) for i in range(0, n, batch_size)]
