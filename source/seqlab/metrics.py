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


# Word segmentation (chapter 6): BMES tags <-> words, and word-level precision / recall / F1.

BMES_TAGS = ("B", "M", "E", "S")


def words_to_bmes(words: Sequence[str]) -> list[str]:
    """One BMES tag per character: ``S`` for a one-character word, else ``B``, ``M`` … ``M``, ``E``.

    ``words_to_bmes(["中國", "經濟", "發展", "了"]) == ["B", "E", "B", "E", "B", "E", "S"]``;
    a three-character word is ``B M E``. Raises ``ValueError`` on an empty word.
    """
    if isinstance(words, str):
        raise ValueError(f"words must be a list of words, got one string ({words[:20]!r}); split it first")
    tags: list[str] = []
    for i, word in enumerate(words):
        if len(word) == 0:
            raise ValueError(f"words[{i}] is empty: every word needs at least one character")
        tags += ["S"] if len(word) == 1 else ["B"] + ["M"] * (len(word) - 2) + ["E"]
    return tags


def bmes_to_words(chars: Sequence[str], tags: Sequence[str]) -> list[str]:
    """Join the characters into words by their BMES tags; any tag sequence decodes, valid or not.

    The rule: a new word starts at character ``i`` when ``i == 0``, when ``tags[i]`` is ``B`` or
    ``S``, or when ``tags[i-1]`` is ``E`` or ``S`` (the word before has ended). So a valid sequence
    decodes as expected, and an invalid one keeps every character: ``B B`` is two words (a B starts
    one), ``S M E`` is ``S`` then the word ``ME`` (an M after nothing starts a word), ``B S`` is two
    one-character words, and a ``B``/``M`` at the end closes its word there.
    ``chars`` is a string or a list of characters (or tokens) as long as ``tags``.
    """
    if len(chars) != len(tags):
        raise ValueError(f"chars and tags must be as long as each other, got {len(chars)} characters "
                         f"and {len(tags)} tags")
    bad = [t for t in tags if t not in BMES_TAGS]
    if bad:
        raise ValueError(f"tags must be B, M, E or S, got {bad[0]!r}")
    words: list[str] = []
    for i, (char, tag) in enumerate(zip(chars, tags)):
        if i == 0 or tag in ("B", "S") or tags[i - 1] in ("E", "S"):
            words.append(char)  # a boundary before character i
        else:
            words[-1] += char
    return words


def word_spans(words: Sequence[str]) -> set[tuple[int, int]]:
    """The character span ``(start, end)`` (end exclusive) of every word: 中國/經濟 → ``{(0, 2), (2, 4)}``.

    Two segmentations of the same sentence share a word exactly when they share its span, so
    comparing spans (not strings) counts a repeated word once per place it occurs.
    """
    if isinstance(words, str):
        raise ValueError(f"words must be a list of words, got one string ({words[:20]!r}); split it first")
    spans, start = set(), 0
    for i, word in enumerate(words):
        if len(word) == 0:
            raise ValueError(f"words[{i}] is empty: every word needs at least one character")
        spans.add((start, start + len(word)))
        start += len(word)
    return spans


def segmentation_prf(predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> dict[str, float]:
    """Word-level precision, recall and F1 of a segmented corpus, as the SIGHAN bakeoff scores it.

    A predicted word is correct when the gold segmentation of that sentence has a word with the
    same character span (:func:`word_spans`). Counts are summed over the whole corpus:
    ``precision = correct / predicted words``, ``recall = correct / gold words``,
    ``f1 = 2PR / (P + R)`` (0 when both are 0). ``predicted`` and ``gold`` are lists of sentences,
    each a list of words; sentence by sentence they must join to the same characters (a
    segmenter splits text, it does not change it). Example: gold 中國/經濟/發展, predicted
    中國經濟/發展: only 發展 has the same span on both sides, so P = 1/2 (of 2 predicted words)
    and R = 1/3 (of 3 gold words); the characters of 中國 and 經濟 are right, the words are not.
    """
    for name, corpus in (("predicted", predicted), ("gold", gold)):
        if isinstance(corpus, str) or any(isinstance(sentence, str) for sentence in corpus):
            raise ValueError(f"{name} must be a list of sentences, each a list of words; got a string where a "
                             f"list was expected (wrap one sentence's words in a list)")
    if len(predicted) != len(gold):
        raise ValueError(f"predicted and gold must pair up sentence by sentence, got {len(predicted)} and "
                         f"{len(gold)} sentences")
    correct = n_predicted = n_gold = 0
    for i, (p, g) in enumerate(zip(predicted, gold)):
        if "".join(p) != "".join(g):
            raise ValueError(f"sentence {i} differs in its characters: predicted {''.join(p)[:30]!r}, "
                             f"gold {''.join(g)[:30]!r}")
        p_spans, g_spans = word_spans(p), word_spans(g)
        correct += len(p_spans & g_spans)
        n_predicted += len(p_spans)
        n_gold += len(g_spans)
    if n_predicted == 0 or n_gold == 0:
        raise ValueError("predicted and gold have no words: there is nothing to score")
    precision, recall = correct / n_predicted, correct / n_gold
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}
