"""Chinese word segmentation (斷詞) as tagging: People's Daily sentences in Traditional characters, BMES tags.

The gold segmentation is the corpus's own (People's Daily, January 1998, segmented by hand; see
:func:`seqlab.data.corpora.peoples_daily`). Each character gets one tag: ``B`` begins a word of
two or more characters, ``M`` is inside one, ``E`` ends it, ``S`` is a word of one character
(銀行 / 行長 / 說 → B E B E S). How the sentences are made:

1. **Converted word by word with OpenCC ``s2tw``**, from the Simplified corpus. ``s2tw`` is
   ``s2t`` plus Taiwan's character forms (爲 → 為, 裏 → 裡, 衆 → 眾, 着 → 著), the forms the rest of
   the course shows, and like ``s2t`` it maps one character to one: on this corpus neither
   changes the length of any of its 1,121,447 words. ``s2twp`` would also swap vocabulary
   (软件 → 軟體, 信息 → 資訊) and change lengths, which breaks the tags. A word is still
   checked: if its Traditional form has another length, its sentence is dropped and counted
   (``misaligned`` in :func:`segmentation_stats`). Full-width digits and letters become ASCII
   (``１９９８年`` → ``1998年``, :func:`seqlab.text.normalize`), one character for one. The
   price of converting word by word is that OpenCC's phrases cannot see across a word: the
   one-character word 里 becomes 裡 (inside), so 十 / 里 / 長街 comes out as 十裡長街, while the
   whole string would give 十里長街.
2. **Sentences end at 。！？；** (punctuation words of the corpus), together with any closing
   quotes or brackets right after them (。” stays with its sentence). Paragraph ends also end a
   sentence.
3. **Punctuation is kept as words**, as the corpus segments it: ，、「 are one-character words
   (``S``), —— and …… two-character ones (``B E``). This is the convention of the SIGHAN
   bakeoffs, whose PKU data is this corpus, so a score here counts punctuation as words; a
   segmenter gets most of them right for free (:func:`is_punctuation` tells them apart for a
   score without them).
4. **Kept** if it has ``min_len`` to ``max_len`` characters (4 to 60 by default), once if it
   repeats.

The sentences are built once (a few seconds) and cached under a name that includes the corpus's
sha256, the hash of this file and OpenCC's version.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from seqlab.data.cache import MissingDataError, cached_json

CONVERSION = "s2tw"  # Taiwan character forms, one character for one
TERMINALS = frozenset("。！？；")
CLOSERS = frozenset("”’』」）》〉］")
TAGS = ("B", "M", "E", "S")
OPENCC_HINT = "pip install opencc-python-reimplemented   (or: pip install 'seqlab[data]')"
DEFAULT_SIZES = (6000, 500, 1000)


def bmes(words: Sequence[str]) -> list[str]:
    """One tag per character: ``["銀行", "說"]`` → ``["B", "E", "S"]``; an empty word is refused."""
    if isinstance(words, str):
        raise ValueError("words must be a list of words, not a str")
    tags = []
    for w in words:
        if not w:
            raise ValueError(f"empty word in {list(words)!r}")
        tags += ["S"] if len(w) == 1 else ["B"] + ["M"] * (len(w) - 2) + ["E"]
    return tags


def words_from_tags(text: str, tags: Sequence[str]) -> list[str]:
    """The words of ``text`` cut where ``tags`` say (``B``/``S`` start a word); the inverse of :func:`bmes`
    for valid tags, and a best reading of invalid ones (a word starts at every ``B`` or ``S`` and after
    every ``E`` or ``S``)."""
    if len(text) != len(tags):
        raise ValueError(f"text has {len(text)} characters but there are {len(tags)} tags")
    words, start = [], 0
    for i, tag in enumerate(tags):
        if tag not in TAGS:
            raise ValueError(f"tags must be B, M, E or S, got {tag!r}")
        if tag in "BS" and i > start:
            words.append(text[start:i])
            start = i
        if tag in "ES":
            words.append(text[start:i + 1])
            start = i + 1
    if start < len(text):
        words.append(text[start:])
    return words


def valid_bmes(tags: Sequence[str]) -> bool:
    """Whether ``tags`` is a well-formed BMES sequence (B M* E or S, over and over)."""
    inside = False
    for tag in tags:
        if tag not in TAGS or (tag in "BS") == inside:
            return False
        inside = tag in "BM"
    return not inside


def is_punctuation(word: str) -> bool:
    """Whether every character of ``word`` is Unicode punctuation or a symbol (，。「」——…… ●)."""
    return all(unicodedata.category(ch)[0] in "PS" for ch in word)


def _opencc_version() -> str:
    try:
        import opencc
    except ImportError as e:
        raise MissingDataError(f"The Traditional text comes from OpenCC, which is not installed. Install it: {OPENCC_HINT}") from e
    return str(getattr(opencc, "__version__", "unknown"))


def _sentences(simplified: list[tuple[str, str]], traditional: list[str], min_len: int, max_len: int,
               stats: Counter) -> Iterable[list[str]]:
    """The Traditional word lists of one paragraph's sentences; ``stats`` counts what is dropped."""
    sentence: list[tuple[str, str]] = []  # (simplified word, traditional word)

    def finish(words):
        stats["sentences"] += 1
        if any(len(s) != len(t) for s, t in words):
            stats["misaligned"] += 1
            return None
        n = sum(len(t) for _, t in words)
        if not min_len <= n <= max_len:
            stats["length"] += 1
            return None
        return [t for _, t in words]

    ended = False  # the last word was a terminal, maybe followed by closers
    for (word, _tag), t_word in zip(simplified, traditional):
        if ended and not (word in CLOSERS or t_word in CLOSERS):
            if (kept := finish(sentence)) is not None:
                yield kept
            sentence, ended = [], False
        sentence.append((word, t_word))
        if word in TERMINALS:
            ended = True
    if sentence and (kept := finish(sentence)) is not None:
        yield kept


def build_sentences(min_len: int = 4, max_len: int = 60) -> dict:
    """``{"sentences": [[word, ...], ...], "stats": {...}}`` from the whole corpus (uncached)."""
    from seqlab.data.corpora import convert_words, peoples_daily

    stats: Counter = Counter({k: 0 for k in ("misaligned", "length", "duplicate")})
    seen: set[str] = set()
    sentences = []
    for simplified in peoples_daily(traditional=False):
        stats["paragraphs"] += 1
        words = [w for w, _ in simplified]
        traditional = convert_words(words, CONVERSION)
        stats["words"] += len(words)
        stats["misaligned_words"] += sum(len(s) != len(t) for s, t in zip(words, traditional))
        for sentence in _sentences(simplified, traditional, min_len, max_len, stats):
            text = "".join(sentence)
            if text in seen:
                stats["duplicate"] += 1
                continue
            seen.add(text)
            sentences.append(sentence)
    stats["kept"] = len(sentences)
    stats["kept_characters"] = sum(len(w) for s in sentences for w in s)
    stats["kept_words"] = sum(len(s) for s in sentences)
    return {"sentences": sentences, "stats": dict(stats)}


def _cache_name(min_len: int, max_len: int) -> str:
    from seqlab.data.corpora import PEOPLES_DAILY

    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:10]
    return f"segmentation-{PEOPLES_DAILY[1][:10]}-{code}-opencc{_opencc_version()}-{min_len}-{max_len}.json"


def _load(min_len: int, max_len: int) -> dict:
    if not 1 <= min_len <= max_len:
        raise ValueError(f"need 1 <= min_len <= max_len, got min_len={min_len}, max_len={max_len}")
    return cached_json(_cache_name(min_len, max_len), lambda: build_sentences(min_len, max_len))


def segmented_sentences(min_len: int = 4, max_len: int = 60) -> list[dict]:
    """Every distinct sentence, in corpus order: dicts ``{"text": "銀行行長說。", "words": ["銀行", "行長",
    "說", "。"], "tags": ["B", "E", "B", "E", "S", "S"]}`` with ``"".join(words) == text`` and
    ``len(tags) == len(text)``."""
    return [{"text": "".join(words), "words": words, "tags": bmes(words)} for words in _load(min_len, max_len)["sentences"]]


def segmentation_stats(min_len: int = 4, max_len: int = 60) -> dict:
    """What the build kept and dropped: ``paragraphs``, ``words`` and ``misaligned_words`` (the
    conversion changed a word's length; 0 on this corpus), ``sentences`` seen, dropped as
    ``misaligned``, ``length`` or ``duplicate``; ``kept``, ``kept_words``, ``kept_characters``."""
    return dict(_load(min_len, max_len)["stats"])


def segmentation_splits(
    sizes: tuple[int | None, int | None, int | None] | None = DEFAULT_SIZES,
    *,
    min_len: int = 4,
    max_len: int = 60,
    seed: str = "segmentation",
) -> dict[str, list[dict]]:
    """:func:`segmented_sentences` split 80/10/10 by a seeded hash of the text, then cut to ``sizes``
    (train, valid, test) by a second hash, so a smaller split is part of a larger one.
    ``sizes=None`` (or None for one split) keeps all of it. Fast sizes: 6,000/500/1,000."""
    from seqlab.data.splits import check_sizes, split_and_sample

    sizes = check_sizes(sizes)  # refuse bad sizes before reading the corpus
    return split_and_sample(segmented_sentences(min_len, max_len), sizes, key=lambda s: s["text"], seed=seed,
                            noun="sentences")
