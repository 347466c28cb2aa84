"""Numbers that say how well a model does.

Word embeddings: cosine nearest neighbours, precision of neighbours within a word set and
analogy accuracy (3CosAdd, Mikolov et al. 2013).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

from seqlab.text import Vocab


def _unit_rows(embeddings: torch.Tensor) -> torch.Tensor:
    if embeddings.dim() != 2 or embeddings.size(0) == 0 or embeddings.size(1) == 0:
        raise ValueError(f"embeddings must be a non-empty (V, E) matrix, got shape {tuple(embeddings.shape)}")
    return F.normalize(embeddings.detach().float(), dim=1)


def _similarities_to(unit: torch.Tensor, index: int) -> torch.Tensor:
    """Cosine of every word with word ``index`` (V,); itself and the specials set to -2 (never chosen)."""
    sims = unit @ unit[index]  # (V,)
    sims[:4] = -2.0
    sims[index] = -2.0
    return sims


def cosine_neighbors(
    embeddings: torch.Tensor, vocab: Vocab, word: str, k: int = 10
) -> list[tuple[str, float]]:
    """The ``k`` words whose vectors have the highest cosine similarity to ``word``'s.

    The word itself and the four special tokens are never returned. Raises ``KeyError`` for a
    word outside the vocabulary (its ``<unk>`` vector would be meaningless).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if word not in vocab:
        raise KeyError(f"{word!r} is not in the vocabulary")
    sims = _similarities_to(_unit_rows(embeddings), vocab[word])
    top = torch.topk(sims, min(k, len(sims) - 5))
    return [(vocab.itos[i], float(s)) for s, i in zip(top.values, top.indices)]


def neighbor_precision(
    embeddings: torch.Tensor, vocab: Vocab, groups: Mapping[str, Sequence[str]], k: int = 5
) -> tuple[float, int]:
    """Mean fraction of each word's ``k`` nearest neighbours that belong to its own group.

    Words missing from the vocabulary are skipped; returns ``(precision, words scored)``.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    unit = _unit_rows(embeddings)
    scores = []
    for words in groups.values():
        present = [w for w in words if w in vocab]
        ids = {vocab[w] for w in present}
        if len(present) < 2:
            continue
        for w in present:
            top = torch.topk(_similarities_to(unit, vocab[w]), k).indices.tolist()
            scores.append(sum(i in ids for i in top) / min(k, len(present) - 1))
    if not scores:
        raise ValueError("no group has two words in the vocabulary")
    return sum(scores) / len(scores), len(scores)


def analogy_accuracy(
    embeddings: torch.Tensor, vocab: Vocab, analogies: Sequence[tuple[str, str, str, str]]
) -> tuple[float, int]:
    """Share of ``a : b :: c : d`` answered by ``argmax cos(x, b - a + c)`` over words ≠ a, b, c.

    Questions with a word outside the vocabulary are skipped; returns ``(accuracy, questions)``.
    """
    unit = _unit_rows(embeddings)
    questions = [q for q in analogies if all(w in vocab for w in q)]
    if not questions:
        raise ValueError("no analogy has all four words in the vocabulary")
    ids = torch.tensor([[vocab[w] for w in q] for q in questions])  # (N, 4)
    a, b, c, d = ids.unbind(1)
    target = unit[b] - unit[a] + unit[c]  # (N, E)
    sims = F.normalize(target, dim=1) @ unit.T  # (N, V)
    sims[:, :4] = -2.0
    for col in (a, b, c):
        sims[torch.arange(len(questions)), col] = -2.0
    correct = (sims.argmax(dim=1) == d).float().mean().item()
    return correct, len(questions)


def evaluate_embeddings(
    embeddings: torch.Tensor,
    vocab: Vocab,
    groups: Mapping[str, Sequence[str]],
    analogies: Mapping[str, Sequence[tuple[str, str, str, str]]],
    k: int = 5,
) -> dict[str, float]:
    """One row of scores: neighbour precision@k and analogy accuracy, overall and per relation."""
    row: dict[str, float] = {}
    row[f"鄰近詞 P@{k}"], _ = neighbor_precision(embeddings, vocab, groups, k)
    all_questions = [q for qs in analogies.values() for q in qs]
    row["類比 全部"], _ = analogy_accuracy(embeddings, vocab, all_questions)
    for name, qs in analogies.items():
        row[f"類比 {name}"], _ = analogy_accuracy(embeddings, vocab, qs)
    return row
