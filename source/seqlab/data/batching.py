"""From lists of token ids to padded batches: padding, lengths, masks and length buckets; the
batches a language model and a seq2seq model train on; and shuffled mini-batches of fixed-size
examples (images, feature vectors).

Every batch shape the lessons use lives here:

* language model (teacher forcing): :class:`LMBatch` ``(inputs, targets)``, both (B, T), from
  :func:`make_lm_batch` or, one epoch after another, :class:`LanguageModelBatches`;
* seq2seq: :class:`Seq2SeqBatch` ``(src, src_lengths, tgt_in, tgt_out)`` from
  :func:`make_seq2seq_batch` and :func:`seq2seq_batches`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import NamedTuple

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


class LMBatch(NamedTuple):
    """A language-model batch for teacher forcing: ``inputs`` ``<bos> w_1 … w_n`` and ``targets``
    ``w_1 … w_n <eos>``, both (B, T), padded with ``<pad>``. A tuple, so ``model.loss(*batch)`` works."""

    inputs: torch.Tensor  # (B, T)
    targets: torch.Tensor  # (B, T)


def make_lm_batch(sequences: Sequence[Sequence[int]], pad_index: int = 0) -> LMBatch:
    """One teacher-forcing batch from encoded sequences ``<bos> w_1 … w_n <eos>`` (at least 2 ids each).

    The padded (B, T + 1) matrix is cut one step apart: ``inputs = x[:, :-1]``,
    ``targets = x[:, 1:]``. A shorter sequence's padding lands in both, so a loss that ignores
    ``pad_index`` in the targets never scores it.
    """
    if any(len(s) < 2 for s in sequences):
        raise ValueError("every sequence needs at least 2 ids (an input and a target), e.g. <bos> ... <eos>")
    x, _ = pad_sequences(sequences, pad_index=pad_index)  # (B, T + 1)
    return LMBatch(x[:, :-1], x[:, 1:])  # (B, T) each


class LanguageModelBatches:
    """Length-bucketed teacher-forcing batches, re-made on every pass: iterate it once per epoch.

    ``sequences`` are encoded ``<bos> w_1 … w_n <eos>`` id lists. Each pass groups them with
    :func:`bucket_batches` (similar lengths, less padding) and yields one :class:`LMBatch` per
    group. With ``shuffle`` the order of the groups comes from a ``torch.Generator`` seeded once
    with ``seed``, so every epoch sees a new order and the whole run is reproducible; without
    it the groups come shortest first (evaluation). ``len()`` is the number of batches.
    """

    def __init__(self, sequences: Sequence[Sequence[int]], batch_size: int, *, pad_index: int = 0,
                 shuffle: bool = True, seed: int = 0) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not sequences:
            raise ValueError("sequences must not be empty")
        self.sequences, self.batch_size, self.pad_index, self.shuffle = sequences, batch_size, pad_index, shuffle
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.sequences) / self.batch_size)

    def __iter__(self) -> Iterator[LMBatch]:
        lengths = [len(ids) for ids in self.sequences]
        for idx in bucket_batches(lengths, self.batch_size, self.shuffle, self.generator):
            yield make_lm_batch([self.sequences[i] for i in idx], self.pad_index)


class Seq2SeqBatch(NamedTuple):
    """A seq2seq batch. The decoder is trained with teacher forcing: it reads ``tgt_in`` and
    predicts ``tgt_out``, the same target shifted one step.

    * ``src`` (B, S): source ids, padded with ``<pad>``;
    * ``src_lengths`` (B,): real length of every source (for ``lengths=`` and attention masks);
    * ``tgt_in`` (B, T): ``<bos> y_1 … y_n``, padded;
    * ``tgt_out`` (B, T): ``y_1 … y_n <eos>``, padded (``T = max n + 1``).
    """

    src: torch.Tensor  # (B, S)
    src_lengths: torch.Tensor  # (B,)
    tgt_in: torch.Tensor  # (B, T)
    tgt_out: torch.Tensor  # (B, T)


def _check_pairs(pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> None:
    if not pairs:
        raise ValueError("pairs must not be empty")
    for k, pair in enumerate(pairs):
        if len(pair) != 2:
            raise ValueError(f"pairs[{k}] must be a (source ids, target ids) pair, got {len(pair)} items")
        if len(pair[0]) == 0:
            raise ValueError(f"pairs[{k}] has an empty source: an encoder cannot read zero tokens")


def make_seq2seq_batch(pairs: Sequence[tuple[Sequence[int], Sequence[int]]], *, bos_index: int, eos_index: int,
                       pad_index: int = 0) -> Seq2SeqBatch:
    """One :class:`Seq2SeqBatch` from ``(source ids, target ids)`` pairs, in the order given.

    The source is used as it is (add ``<eos>`` to it yourself if the encoder should see one); the
    target gets ``<bos>`` in front for ``tgt_in`` and ``<eos>`` behind for ``tgt_out``. An empty
    target is allowed: the decoder then only learns to stop (``<bos>`` → ``<eos>``).
    """
    _check_pairs(pairs)
    src, src_lengths = pad_sequences([s for s, _ in pairs], pad_index=pad_index)  # (B, S), (B,)
    tgt_in, _ = pad_sequences([[bos_index, *t] for _, t in pairs], pad_index=pad_index)  # (B, T)
    tgt_out, _ = pad_sequences([[*t, eos_index] for _, t in pairs], pad_index=pad_index)  # (B, T)
    return Seq2SeqBatch(src, src_lengths, tgt_in, tgt_out)


def seq2seq_batches(
    pairs: Sequence[tuple[Sequence[int], Sequence[int]]],
    batch_size: int,
    *,
    bos_index: int,
    eos_index: int,
    pad_index: int = 0,
    shuffle: bool = True,
    generator: torch.Generator | None = None,
    bucket: bool = True,
) -> list[Seq2SeqBatch]:
    """One epoch of seq2seq batches (:class:`Seq2SeqBatch`) over ``pairs``, every pair exactly once.

    With ``bucket`` the pairs are grouped by source length with :func:`bucket_batches` (sorted,
    cut, and with ``shuffle`` the groups put in a random order), so a batch wastes little
    padding on the encoder side; without it, ``shuffle`` permutes the pairs and they are cut in
    that order. The randomness comes from ``generator`` (torch's global generator when ``None``).
    The list is fixed: call the function again (with the same generator) for the next epoch's order.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    _check_pairs(pairs)
    if bucket:
        groups = list(bucket_batches([len(s) for s, _ in pairs], batch_size, shuffle, generator))
    else:
        order = torch.randperm(len(pairs), generator=generator).tolist() if shuffle else list(range(len(pairs)))
        groups = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [make_seq2seq_batch([pairs[i] for i in idx], bos_index=bos_index, eos_index=eos_index,
                               pad_index=pad_index) for idx in groups]
