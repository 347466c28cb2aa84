"""Text to numbers: tokenizers, Traditional-Chinese conversion and the vocabulary.

The vocabulary reserves four special tokens at fixed indices, the ones every later chapter uses:

======  =====  ==========================================
index   token  meaning
======  =====  ==========================================
0       <pad>  padding to make sequences the same length
1       <bos>  beginning of sequence
2       <eos>  end of sequence
3       <unk>  any word outside the vocabulary
======  =====  ==========================================
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)


@lru_cache(maxsize=4)
def _opencc(config: str):
    import opencc

    return opencc.OpenCC(config)


def to_traditional(text: str, config: str = "s2twp") -> str:
    """Convert Simplified Chinese to Traditional with OpenCC.

    ``s2twp`` (default) also uses Taiwan vocabulary (软件 → 軟體, 内存 → 記憶體) and may change a
    word's length; ``s2t`` converts character by character and keeps alignment (needed for tags).
    """
    if config not in ("s2twp", "s2tw", "s2t"):
        raise ValueError(f"config must be 's2twp', 's2tw' or 's2t', got {config!r}")
    return _opencc(config).convert(text)


_FULLWIDTH_ALNUM = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\uff0e\uff05\u3000]")


def normalize(text: str) -> str:
    """NFKC on full-width digits, Latin letters, ``．``, ``％`` and the ideographic space only.

    ``１９９８年`` → ``1998年`` and ``２．５％`` → ``2.5%``; Chinese punctuation (，。「」) is kept.
    """
    return _FULLWIDTH_ALNUM.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)


def char_tokenize(text: str) -> list[str]:
    """One token per character, whitespace dropped: ``"詞 嵌入"`` → ``["詞", "嵌", "入"]``."""
    return [ch for ch in text if not ch.isspace()]


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def to_simplified(text: str) -> str:
    """Traditional → Simplified, character by character (OpenCC ``t2s``)."""
    return _opencc("t2s").convert(text)


def jieba_tokenize(text: str, via_simplified: bool = False) -> list[str]:
    """Segment Chinese text into words with jieba (precise mode), whitespace dropped.

    jieba's dictionary is Simplified, so on Traditional text it misses many words (廣大職工祝賀
    → 廣大職 / 工祝賀). With ``via_simplified=True`` the text is converted to Simplified
    (``t2s``, one character for one), segmented there, and the original is cut at the same
    places: 廣大 / 職工 / 祝賀. If the conversion ever changed the length, the original is
    segmented directly.
    """
    jieba = _jieba()
    if via_simplified:
        simple = to_simplified(text)
        if len(simple) == len(text):
            words, start = [], 0
            for w in jieba.lcut(simple):
                words.append(text[start:start + len(w)])
                start += len(w)
            return [w for w in words if not w.isspace()]
    return [w for w in jieba.lcut(text) if not w.isspace()]


class Vocab:
    """A two-way map between tokens and indices, with ``<pad> <bos> <eos> <unk>`` first.

    >>> v = Vocab.build([["貓", "說", "喵"], ["狗", "說", "汪"]])
    >>> v["說"], v["牛"] == v.unk_index
    (4, True)
    """

    def __init__(self, tokens: Iterable[str], counts: Counter | None = None) -> None:
        self.itos: list[str] = list(SPECIALS)
        for tok in tokens:
            if tok not in SPECIALS:
                self.itos.append(tok)
        self.stoi: dict[str, int] = {tok: i for i, tok in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("tokens must not repeat")
        self.counts: Counter = counts if counts is not None else Counter()

    @classmethod
    def build(
        cls,
        sentences: Iterable[Sequence[str]],
        min_freq: int = 1,
        max_size: int | None = None,
    ) -> "Vocab":
        """Count tokens and keep those seen at least ``min_freq`` times, most frequent first.

        Ties are broken by first appearance, so the same corpus always gives the same indices.
        ``max_size`` caps the number of ordinary tokens (the four specials come on top).
        """
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size < 1:
            raise ValueError(f"max_size must be >= 1 or None, got {max_size}")
        counts: Counter = Counter()
        for sentence in sentences:
            if isinstance(sentence, str):
                raise ValueError("sentences must be lists of tokens, not strings (tokenize first)")
            counts.update(sentence)
        kept = [tok for tok, n in counts.most_common() if n >= min_freq and tok not in SPECIALS]
        if max_size is not None:
            kept = kept[:max_size]
        if not kept:
            raise ValueError("the corpus is empty (no token reaches min_freq)")
        return cls(kept, counts)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        return self.stoi.get(token, self.unk_index)

    pad_index, bos_index, eos_index, unk_index = 0, 1, 2, 3

    def encode(self, tokens: Sequence[str], add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Tokens to indices; unknown tokens become ``<unk>``."""
        ids = [self[t] for t in tokens]
        return ([self.bos_index] if add_bos else []) + ids + ([self.eos_index] if add_eos else [])

    def decode(self, ids: Iterable[int], skip_specials: bool = True) -> list[str]:
        """Indices to tokens; ``skip_specials`` drops ``<pad> <bos> <eos>`` (keeps ``<unk>``)."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.itos):
                raise ValueError(f"index {i} is outside the vocabulary of size {len(self.itos)}")
            if skip_specials and i in (self.pad_index, self.bos_index, self.eos_index):
                continue
            out.append(self.itos[i])
        return out

    def __repr__(self) -> str:
        head = " ".join(self.itos[4:10])
        return f"Vocab(size={len(self)}, first=[{head} ...])"
