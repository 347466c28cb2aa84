"""國字 → 注音: clauses of People's Daily in Traditional characters, one Zhuyin syllable per character.

The labels are `pypinyin <https://github.com/mozillazg/python-pinyin>`_'s (``Style.BOPOMOFO``),
so a model trained on them learns pypinyin, not a human annotator. For scale: on the CPP
polyphone benchmark pypinyin picks the right reading of a heteronym 86 % of the time, g2pM
97 % (Park & Lee, 2020). How the labels are made:

1. **Readings come from the Simplified text.** pypinyin's phrase dictionary is Simplified:
   銀行行長 gives ㄒㄧㄥˊ for 行, 银行行长 the right ㄏㄤˊ. So each paragraph is read in Simplified.
2. **The corpus's own word boundaries, pypinyin's phrases inside them.** Each hand-segmented
   word is read on its own (pypinyin splits it further with its phrase dictionary). Reading
   whole sentences instead lets a dictionary phrase cross a word boundary: 全心全意为人民 would
   read 为人 as a word (ㄨㄟˊ), 起了当年 gives 了 ㄌㄧㄠˇ; passing the words as a list without
   further splitting misses phrases inside long words (音乐会 → ㄌㄜˋ). On 1,500 paragraphs the
   within-word reading and the whole-sentence one disagree on 0.2 % of the characters, and the
   within-word one is right in most cases we looked at (为 before a noun remains its weak spot).
3. **Tones as written in Taiwan.** The neutral-tone dot goes first (˙ㄌㄜ, pypinyin writes ㄌㄜ˙),
   and 一 and 不 keep their citation tones (ㄧ, ㄅㄨˋ) as in the Ministry of Education's
   dictionary: pypinyin writes tone sandhi in some dictionary phrases only (一致 ㄧˊ, 一面 ㄧ),
   which is noise, not a heteronym.
4. **Attached to Traditional characters with OpenCC ``s2tw``**, word by word. ``s2tw`` is
   ``s2t`` plus Taiwan's character forms (爲 → 為, 裏 → 裡, 衆 → 眾, 着 → 著), still one character
   for one; ``s2twp`` also swaps vocabulary (软件 → 軟體, 信息 → 資訊) and would put 件's
   reading on 體: :func:`zhuyin_stats` counts how many kept clauses ``s2twp`` would change.
   A word is kept only when its Traditional form has as many characters as the Simplified one
   (on this corpus ``s2tw`` never changes a length), and a clause only when each reading's
   syllable (tone aside) is one that pypinyin knows for the Traditional character:
   洋参 → 洋蔘 labelled ㄘㄢ, or 纯朴 → 純樸 labelled ㄆㄧㄠˊ, is dropped. Tones are not compared
   because pypinyin's single-character table of Traditional characters has Taiwan tones and no
   neutral tone (績 ㄐㄧ, 個 ㄍㄜˋ), while the labels have the Mainland ones.
5. **Clauses, Han characters only.** A paragraph is cut at its punctuation tokens; a clause
   is kept if it has only Han characters (no digits, Latin letters) and ``min_len`` to
   ``max_len`` of them, and kept once if it repeats.

**The labels are Mainland Putonghua written in Zhuyin**, not the Taiwan standard: 成績 is
labelled ㄔㄥˊ ㄐㄧˋ (Taiwan: ㄐㄧ), 這個 ˙ㄍㄜ, 垃圾 ㄌㄚ ㄐㄧ. The source is a Mainland newspaper and a
Mainland dictionary; a model can only learn what the labels say.

The clauses are built once (about a minute) and cached under a name that includes the corpus's
sha256, the hash of this file and pypinyin's version, so a change to any of them rebuilds it.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

from seqlab.data.cache import MissingDataError, cached_json

HAN = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f]+$")
CONVERSION = "s2tw"  # Taiwan character forms, one character for one
CITATION = {"一": "ㄧ", "不": "ㄅㄨˋ"}  # no tone sandhi in the labels
NEUTRAL = "˙"
PYPINYIN_HINT = "pip install pypinyin   (or: pip install 'seqlab[data]')"


def _pypinyin():
    try:
        import pypinyin
    except ImportError as e:
        raise MissingDataError(f"The Zhuyin labels come from pypinyin, which is not installed. Install it: {PYPINYIN_HINT}") from e
    return pypinyin


def taiwan_style(reading: str) -> str:
    """pypinyin's ``ㄌㄜ˙`` → ``˙ㄌㄜ``: the neutral-tone dot written first, as in Taiwan."""
    if reading.endswith(NEUTRAL):
        return NEUTRAL + reading[:-1]
    return reading


def word_zhuyin(word: str) -> list[str | None]:
    """The readings of one Simplified word, one per character (None for a character without one):
    ``"银行"`` → ``["ㄧㄣˊ", "ㄏㄤˊ"]``. pypinyin may split the word further by its phrase dictionary."""
    pypinyin = _pypinyin()
    out = pypinyin.lazy_pinyin(word, style=pypinyin.Style.BOPOMOFO, errors=lambda chars: ["\x00"] * len(chars))
    if len(out) != len(word):
        return [None] * len(word)
    return [None if r == "\x00" or not r else CITATION.get(ch, taiwan_style(r)) for ch, r in zip(word, out)]


def zhuyin_of(words: Sequence[str]) -> list[str | None]:
    """The readings of a Simplified sentence given as its words: ``["银行", "行长"]`` →
    ``["ㄧㄣˊ", "ㄏㄤˊ", "ㄏㄤˊ", "ㄓㄤˇ"]``. Pass words, not one string, to keep their boundaries."""
    if isinstance(words, str):
        raise ValueError("words must be a list of words (the sentence segmented), not a str")
    return [r for w in words for r in word_zhuyin(w)]


TONES = "ˊˇˋ˙"


def syllable(reading: str) -> str:
    """A reading without its tone mark: ``"ㄏㄤˊ"`` → ``"ㄏㄤ"``."""
    return reading.translate({ord(t): None for t in TONES})


@lru_cache(maxsize=None)
def syllables_of(char: str) -> frozenset[str]:
    """The toneless syllables of :func:`readings_of`."""
    return frozenset(syllable(r) for r in readings_of(char))


@lru_cache(maxsize=None)
def readings_of(char: str) -> frozenset[str]:
    """Every reading pypinyin knows for one character (in the style of the labels)."""
    pypinyin = _pypinyin()
    readings = pypinyin.pinyin(char, style=pypinyin.Style.BOPOMOFO, heteronym=True)[0]
    return frozenset(CITATION.get(char, taiwan_style(r)) for r in readings)


def default_reading(char: str) -> str | None:
    """pypinyin's reading of a character on its own (no context), or None if it has none."""
    return word_zhuyin(char)[0] if len(char) == 1 else None


def _clauses(simplified: list[tuple[str, str]], traditional: list[str], twp: list[str],
             min_len: int, max_len: int, stats: Counter) -> Iterable[tuple[str, str]]:
    """(text, "ㄧㄣˊ ㄏㄤˊ …") for the clauses of one paragraph; ``stats`` counts what is dropped."""
    clause: list[tuple[str, str, str]] = []  # (simplified word, traditional word, s2twp word)
    for (word, tag), t_word, p_word in zip(simplified + [("", "w")], traditional + [""], twp + [""]):
        if tag != "w":
            clause.append((word, t_word, p_word))
            continue
        if not clause:
            continue
        words, clause = clause, []
        s_text = "".join(w for w, _, _ in words)
        stats["clauses"] += 1
        stats["characters"] += len(s_text)
        if not HAN.match(s_text):
            stats["not_han"] += 1
            continue
        if not min_len <= len(s_text) <= max_len:
            stats["length"] += 1
            continue
        if any(len(t) != len(w) for w, t, _ in words):
            stats["misaligned"] += 1
            stats["misaligned_characters"] += len(s_text)
            continue
        text = "".join(t for _, t, _ in words)
        readings = zhuyin_of([w for w, _, _ in words])
        if any(r is None or syllable(r) not in syllables_of(ch) for ch, r in zip(text, readings)):
            stats["reading_mismatch"] += 1
            stats["reading_mismatch_characters"] += len(s_text)
            continue
        twp_text = "".join(p for _, _, p in words)
        if len(twp_text) != len(text):
            stats["s2twp_length_differs"] += 1
        elif twp_text != text:
            stats["s2twp_characters_differ"] += 1
        yield text, " ".join(readings)


def build_clauses(min_len: int = 4, max_len: int = 30) -> dict:
    """``{"clauses": [[text, zhuyin], ...], "stats": {...}}`` from the whole corpus (uncached)."""
    from seqlab.data.corpora import convert_words, peoples_daily

    stats: Counter = Counter({k: 0 for k in ("not_han", "length", "misaligned", "reading_mismatch", "duplicate")})
    seen: set[str] = set()
    clauses = []
    for simplified, twp in zip(peoples_daily(traditional=False), peoples_daily(traditional=True)):
        stats["paragraphs"] += 1
        traditional = convert_words([w for w, _ in simplified], CONVERSION)
        for text, zhuyin in _clauses(simplified, traditional, [w for w, _ in twp], min_len, max_len, stats):
            if text in seen:
                stats["duplicate"] += 1
                continue
            seen.add(text)
            clauses.append([text, zhuyin])
    stats["kept"] = len(clauses)
    stats["kept_characters"] = sum(len(t) for t, _ in clauses)
    return {"clauses": clauses, "stats": dict(stats)}


def _cache_name(min_len: int, max_len: int) -> str:
    from seqlab.data.corpora import PEOPLES_DAILY

    pypinyin = _pypinyin()
    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:10]
    return f"zhuyin-{PEOPLES_DAILY[1][:10]}-{code}-pypinyin{pypinyin.__version__}-{min_len}-{max_len}.json"


def _load(min_len: int, max_len: int) -> dict:
    if not 1 <= min_len <= max_len:
        raise ValueError(f"need 1 <= min_len <= max_len, got min_len={min_len}, max_len={max_len}")
    return cached_json(_cache_name(min_len, max_len), lambda: build_clauses(min_len, max_len))


def zhuyin_clauses(min_len: int = 4, max_len: int = 30) -> list[dict]:
    """Every distinct clause: dicts ``{"text": "銀行行長", "zhuyin": ["ㄧㄣˊ", "ㄏㄤˊ", "ㄏㄤˊ", "ㄓㄤˇ"]}``
    with ``len(text) == len(zhuyin)``, in corpus order."""
    return [{"text": t, "zhuyin": z.split(" ")} for t, z in _load(min_len, max_len)["clauses"]]


def zhuyin_stats(min_len: int = 4, max_len: int = 30) -> dict:
    """What the build kept and dropped: clauses seen, dropped as ``not_han``, ``length``,
    ``misaligned`` (the conversion changed a word's length), ``reading_mismatch``, ``duplicate``; ``kept``;
    and among the kept ones how many ``s2twp`` would have changed (``s2twp_characters_differ``,
    ``s2twp_length_differs``)."""
    return dict(_load(min_len, max_len)["stats"])


def zhuyin_splits(
    sizes: tuple[int | None, int | None, int | None] | None = (8000, 500, 1000),
    *,
    min_len: int = 4,
    max_len: int = 30,
    seed: str = "zhuyin",
) -> dict[str, list[dict]]:
    """:func:`zhuyin_clauses` split 80/10/10 by a seeded hash of the text, then cut to ``sizes``
    (train, valid, test) by a second hash, so a smaller split is part of a larger one.
    ``sizes=None`` (or None for one split) keeps all of it. Fast sizes: 8,000/500/1,000."""
    from seqlab.data.splits import check_sizes, split_and_sample

    sizes = check_sizes(sizes)  # refuse bad sizes before reading the corpus
    return split_and_sample(zhuyin_clauses(min_len, max_len), sizes, key=lambda c: c["text"], seed=seed,
                            noun="clauses")


def reading_counts(pairs: Iterable[dict]) -> dict[str, Counter]:
    """How often each character takes each reading: ``{"行": Counter({"ㄒㄧㄥˊ": 812, "ㄏㄤˊ": 95}), ...}``."""
    counts: dict[str, Counter] = {}
    for pair in pairs:
        if len(pair["text"]) != len(pair["zhuyin"]):
            raise ValueError(f"text and zhuyin differ in length: {pair}")
        for ch, r in zip(pair["text"], pair["zhuyin"]):
            counts.setdefault(ch, Counter())[r] += 1
    return counts


def heteronyms(pairs: Iterable[dict], min_count: int = 1) -> set[str]:
    """The characters (破音字) that take more than one reading in ``pairs``, counting a reading only
    if it occurs at least ``min_count`` times."""
    return {ch for ch, c in reading_counts(pairs).items() if sum(n >= min_count for n in c.values()) > 1}
