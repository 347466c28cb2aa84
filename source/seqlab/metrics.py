"""Numbers that say how well a model does.

Word embeddings: cosine nearest neighbours, precision of neighbours within a word set and
analogy accuracy (3CosAdd, Mikolov et al. 2013).
Generated text: distinct-n (Li et al. 2016) and the repetition rate. Classification over skewed
classes: accuracy within groups of classes (frequent vs rare characters). Two classifiers on the
same test set: the paired difference of their accuracies and its standard error.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

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


def distinct_n(sequences: Sequence[Sequence[Hashable]], n: int = 1) -> float:
    """Distinct n-grams over all n-grams in ``sequences`` (Li et al. 2016), pooled: 1 = no n-gram repeats.

    Sequences shorter than ``n`` contribute nothing; raises ``ValueError`` when no sequence has an n-gram.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    grams = [tuple(seq[i : i + n]) for seq in sequences for i in range(len(seq) - n + 1)]
    if not grams:
        raise ValueError(f"no sequence has {n} tokens, so there is no {n}-gram to count")
    return len(set(grams)) / len(grams)


def repetition_rate(sequences: Sequence[Sequence[Hashable]], window: int | None = None) -> float:
    """Share of tokens that already occurred among the ``window`` tokens before them (all before: None).

    ``window=1`` counts immediate repeats (「你你你」); pooled over every token but each sequence's first.
    """
    if window is not None and window < 1:
        raise ValueError(f"window must be >= 1 or None, got {window}")
    repeats = total = 0
    for seq in sequences:
        for i in range(1, len(seq)):
            before = seq[max(0, i - window) : i] if window is not None else seq[:i]
            repeats += seq[i] in before
            total += 1
    if total == 0:
        raise ValueError("no sequence has two tokens")
    return repeats / total


def accuracy_by_group(
    predictions: torch.Tensor, targets: torch.Tensor, group_of_class: torch.Tensor, ignore_index: int | None = None
) -> list[tuple[float, int]]:
    """Accuracy of ``predictions`` among the targets of each group: ``[(accuracy, count), ...]`` per group id.

    ``group_of_class`` (C,) gives each class's group (0 .. G-1), e.g. frequency bands of the
    characters; targets equal to ``ignore_index`` are left out; a group with no target gets NaN.
    """
    if predictions.shape != targets.shape:
        raise ValueError(f"predictions {tuple(predictions.shape)} and targets {tuple(targets.shape)} differ in shape")
    pred, gold = predictions.reshape(-1), targets.reshape(-1)
    if ignore_index is not None:
        keep = gold != ignore_index
        pred, gold = pred[keep], gold[keep]
    groups = group_of_class.long()[gold]  # (N,)
    correct = (pred == gold).double()
    out = []
    for g in range(int(group_of_class.max()) + 1 if len(group_of_class) else 0):
        in_g = groups == g
        count = int(in_g.sum())
        out.append((correct[in_g].mean().item() if count else float("nan"), count))
    return out


def paired_accuracy_difference(correct_a: torch.Tensor, correct_b: torch.Tensor) -> tuple[float, float]:
    """Accuracy of b minus accuracy of a on the same examples, and the standard error of that difference.

    ``correct_a`` and ``correct_b`` (N,) say which examples each model got right. The examples are
    paired, so only those where exactly one model is right make the difference uncertain:
    ``se = std(d) / sqrt(N)`` with ``d = correct_b - correct_a`` per example. A gap beyond about two
    standard errors is unlikely to be luck of the test set.
    """
    if correct_a.shape != correct_b.shape or correct_a.dim() != 1 or len(correct_a) < 2:
        raise ValueError(f"correct_a and correct_b must be two (N,) tensors with N >= 2, got "
                         f"{tuple(correct_a.shape)} and {tuple(correct_b.shape)}")
    d = correct_b.double() - correct_a.double()  # (N,): +1, 0 or -1
    return d.mean().item(), (d.std() / len(d) ** 0.5).item()
