"""Honest comparisons: the simple methods a new model has to beat.

* :func:`ppmi_svd`: count-based word vectors (positive pointwise mutual information, then a
  truncated SVD), the baseline of Levy, Goldberg & Dagan (2015) for word2vec.
* :class:`SnowNLPBayes`: snownlp's naive Bayes sentiment classifier, retrained on our split.
"""

from __future__ import annotations

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
