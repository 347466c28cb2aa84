"""Training data for skip-gram with negative sampling (word2vec, Mikolov et al. 2013).

From a corpus of word-id sentences this makes (center, context) pairs within a window,
after dropping frequent words at random ("subsampling"), and draws negative words from the
unigram distribution raised to the power 3/4.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch


def _check_window(window: int) -> None:
    if not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a positive int, got {window!r}")


def keep_probabilities(counts: Sequence[int] | np.ndarray, t: float = 1e-4) -> np.ndarray:
    """word2vec's subsampling: keep word w with probability ``min(1, sqrt(t/f) + t/f)``.

    ``f`` is w's share of all tokens; frequent words (的, 在, 是) are mostly dropped, rare kept.
    """
    if t <= 0:
        raise ValueError(f"t must be > 0, got {t}")
    counts = np.asarray(counts, dtype=np.float64)
    if counts.sum() <= 0:
        raise ValueError("counts must contain at least one positive count")
    f = counts / counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.sqrt(t / f) + t / f
    return np.where(f > 0, np.minimum(p, 1.0), 0.0)


def skipgram_pairs(
    sentences: Sequence[Sequence[int]],
    window: int,
    keep: np.ndarray | None = None,
    dynamic: bool = True,
    rng: np.random.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """All (center, context) id pairs at distance ``1..window`` inside each sentence.

    ``keep`` (per-id keep probability) subsamples words first; ``dynamic`` shrinks each center's
    window to a random ``b ~ U{1..window}`` as word2vec does, so near words count more.
    Returns two LongTensors of equal length. Pairs never cross a sentence boundary.
    """
    _check_window(window)
    rng = rng or np.random.default_rng(0)
    flat, sid = [], []
    for n, sentence in enumerate(sentences):
        ids = np.asarray(sentence, dtype=np.int64)
        if keep is not None and len(ids):
            ids = ids[rng.random(len(ids)) < keep[ids]]
        flat.append(ids)
        sid.append(np.full(len(ids), n, dtype=np.int64))
    if not flat or sum(len(a) for a in flat) < 2:
        raise ValueError("the corpus is empty: need at least two words to make a pair")
    ids, sent = np.concatenate(flat), np.concatenate(sid)
    reach = rng.integers(1, window + 1, size=len(ids)) if dynamic else np.full(len(ids), window)
    centers, contexts = [], []
    for d in range(1, window + 1):
        same = sent[:-d] == sent[d:]
        left = np.nonzero(same & (reach[:-d] >= d))[0]  # center i, context i + d
        right = np.nonzero(same & (reach[d:] >= d))[0]  # center i + d, context i
        centers += [ids[left], ids[right + d]]
        contexts += [ids[left + d], ids[right]]
    return torch.from_numpy(np.concatenate(centers)), torch.from_numpy(np.concatenate(contexts))


class NegativeSampler:
    """Draws negative word ids with probability proportional to ``count ** power``."""

    def __init__(self, counts: Sequence[int] | np.ndarray, power: float = 0.75) -> None:
        weights = torch.as_tensor(np.asarray(counts, dtype=np.float64)) ** power
        if weights.sum() <= 0:
            raise ValueError("counts must contain at least one positive count")
        self.probs = (weights / weights.sum()).float()

    def sample(self, batch: int, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """A (batch, k) LongTensor of negative ids."""
        if k < 1:
            raise ValueError(f"k (negatives per pair) must be >= 1, got {k}")
        return torch.multinomial(self.probs, batch * k, replacement=True, generator=generator).view(batch, k)


class SkipGramBatches:
    """An epoch-by-epoch iterable of ``(center, context, negatives)`` batches.

    Every epoch subsamples, pairs and shuffles anew (seeded), so ``fit`` can loop over it.
    """

    def __init__(
        self,
        sentences: Sequence[Sequence[int]],
        counts: Sequence[int] | np.ndarray,
        window: int = 5,
        negatives: int = 5,
        batch_size: int = 1024,
        t: float = 1e-4,
        max_pairs: int | None = None,
        seed: int = 0,
    ) -> None:
        _check_window(window)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if negatives < 1:
            raise ValueError(f"negatives must be >= 1, got {negatives}")
        self.sentences, self.window, self.negatives = sentences, window, negatives
        self.batch_size, self.max_pairs = batch_size, max_pairs
        self.keep = keep_probabilities(counts, t)
        self.sampler = NegativeSampler(counts)
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator().manual_seed(seed)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        center, context = skipgram_pairs(self.sentences, self.window, self.keep, rng=self.rng)
        order = torch.randperm(len(center), generator=self.generator)
        if self.max_pairs is not None:
            order = order[: self.max_pairs]
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            yield center[idx], context[idx], self.sampler.sample(len(idx), self.negatives, self.generator)
