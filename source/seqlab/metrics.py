"""Numbers that say how well a model does.

Word embeddings: cosine nearest neighbours, precision of neighbours within a word set and
analogy accuracy (3CosAdd, Mikolov et al. 2013).
Generated text: distinct-n (Li et al. 2016) and the repetition rate. Classification over skewed
classes: accuracy within groups of classes (frequent vs rare characters). Two classifiers on the
same test set: the paired difference of their accuracies and its standard error.
Language models: perplexity. Output sequences against references (chapter 5 on): edit distance,
character error rate, exact match, and chrF and BLEU computed by sacrebleu.
"""

from __future__ import annotations

import math
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


def perplexity(mean_nll: float) -> float:
    """``exp(mean_nll)``: the perplexity of a model whose mean negative log-likelihood per token is ``mean_nll``.

    ``mean_nll`` is the token-weighted mean cross-entropy in nats (``train.evaluate`` returns it as
    ``"loss"``); a perplexity of ``k`` means the model is as unsure as a uniform choice among ``k``
    tokens. Accepts a float, a NumPy scalar or a one-element tensor; a loss too large for
    ``math.exp`` gives ``inf`` instead of raising ``OverflowError`` (a diverged model), NaN stays NaN.
    """
    value = float(mean_nll)
    try:
        return math.exp(value)
    except OverflowError:
        return math.inf


def edit_distance(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions that turn ``a`` into ``b``.

    ``a`` and ``b`` are any sequences whose items compare with ``==`` (strings compare characters,
    lists of tokens compare words). The dynamic programme keeps one row of the table
    ``D[i][j]`` = distance between ``a[:i]`` and ``b[:j]``:

    .. math::

       D_{i,j} = \\min\\bigl(D_{i-1,j} + 1,\\ D_{i,j-1} + 1,\\ D_{i-1,j-1} + [a_i \\ne b_j]\\bigr),
       \\qquad D_{i,0} = i, \\quad D_{0,j} = j,

    in ``O(len(a) · len(b))`` time and ``O(len(b))`` memory.
    """
    prev = list(range(len(b) + 1))  # D[0][j] = j
    for i, x in enumerate(a, start=1):
        row = [i]  # D[i][0] = i
        for j, y in enumerate(b, start=1):
            row.append(min(prev[j] + 1,  # delete x
                           row[j - 1] + 1,  # insert y
                           prev[j - 1] + (x != y)))  # substitute (free if equal)
        prev = row
    return prev[-1]


def _check_corpus(hypotheses: Sequence, references: Sequence) -> None:
    for name, value in (("hypotheses", hypotheses), ("references", references)):
        if isinstance(value, str):
            raise ValueError(f"{name} must be a list of sentences, got one string ({value[:20]!r}); wrap it in a list")
    if len(hypotheses) != len(references):
        raise ValueError(f"hypotheses and references must pair up one to one, got {len(hypotheses)} hypotheses "
                         f"and {len(references)} references")
    if len(hypotheses) == 0:
        raise ValueError("hypotheses and references must not be empty")


def character_error_rate(hypotheses: Sequence[Sequence[Hashable]], references: Sequence[Sequence[Hashable]],
                         *, per_sentence: bool = False) -> float | list[float]:
    """Character error rate: edits needed to turn the hypotheses into the references, per reference character.

    By default this is the corpus CER, the one speech recognition reports:
    ``Σ edit_distance(h, r) / Σ len(r)`` over all pairs. Long sentences weigh more than short ones,
    and the number can exceed 1 when the hypotheses are longer than the references. With
    ``per_sentence=True`` the list of each pair's own ``edit_distance(h, r) / len(r)`` comes back
    instead (for a paired comparison or a histogram); their plain mean is a different number.
    Strings are compared character by character as given, spaces and punctuation included (normalise
    them first if they should not count); lists of tokens give a token (word) error rate.
    Raises ``ValueError`` when the lists differ in length, are empty, or a reference is empty.
    """
    _check_corpus(hypotheses, references)
    if any(len(r) == 0 for r in references):
        raise ValueError("every reference needs at least one character: the error rate divides by its length")
    edits = [edit_distance(h, r) for h, r in zip(hypotheses, references)]
    if per_sentence:
        return [e / len(r) for e, r in zip(edits, references)]
    return sum(edits) / sum(len(r) for r in references)


def exact_match(hypotheses: Sequence[Sequence[Hashable]], references: Sequence[Sequence[Hashable]]) -> float:
    """Share of hypotheses equal to their reference, on a 0–1 scale (like accuracy, unlike chrF and BLEU)."""
    _check_corpus(hypotheses, references)
    return sum(list(h) == list(r) for h, r in zip(hypotheses, references)) / len(references)


def _sacrebleu_metrics():
    try:
        from sacrebleu import metrics
    except ImportError as error:  # an optional dependency: the data extra
        raise ImportError("chrf and bleu need sacrebleu: pip install 'seqlab[data]' (or pip install sacrebleu)") \
            from error
    return metrics


def chrf(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus chrF (Popović 2015) of ``hypotheses`` against one reference each, on sacrebleu's 0–100 scale.

    chrF is the F-score (β = 2, recall weighted more) of character n-grams up to n = 6, so it needs
    no word segmentation and suits Chinese, where a word segmenter's mistakes would otherwise
    become the metric's. It is computed by ``sacrebleu.metrics.CHRF()`` with its defaults, so
    the number is comparable with any other chrF reported from sacrebleu. Identical lists score
    100, lists without a shared character 0.
    """
    _check_corpus(hypotheses, references)
    return float(_sacrebleu_metrics().CHRF().corpus_score(list(hypotheses), [list(references)]).score)


def bleu(hypotheses: Sequence[str], references: Sequence[str], *, tokenize: str = "zh") -> float:
    """Corpus BLEU (Papineni et al. 2002) of ``hypotheses`` against one reference each, on sacrebleu's 0–100 scale.

    BLEU is the geometric mean of the modified 1- to 4-gram precisions over the whole corpus,
    times a brevity penalty. Why a standard implementation: every choice (tokenisation,
    smoothing, sentence or corpus level) moves the number by several points. d2l.ai's own
    ``bleu`` scores one sentence at a time, without smoothing and without sacrebleu's
    tokenisation, so its numbers are not comparable with published BLEU (Post 2018, "A Call for
    Clarity in Reporting BLEU Scores", which introduced sacrebleu for that reason). This function
    calls ``sacrebleu.metrics.BLEU(tokenize=tokenize)``; with the default ``"zh"`` tokenizer each
    Chinese character is a token (non-Chinese text is tokenised as by ``"13a"``), so no word
    segmenter is involved. Pass ``tokenize="13a"`` for text in other scripts. A single short
    sentence can score 0 simply for lacking a matching 4-gram: report BLEU on a corpus, and
    prefer :func:`chrf` for short Chinese outputs.
    """
    _check_corpus(hypotheses, references)
    metric = _sacrebleu_metrics().BLEU(tokenize=tokenize)
    return float(metric.corpus_score(list(hypotheses), [list(references)]).score)
