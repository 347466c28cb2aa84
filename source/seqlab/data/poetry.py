"""Tang poems from the chinese-poetry corpus (57,607 poems, already in Traditional Chinese).

The corpus comes as the npm package ``chinese-poetry@2.0.1``. It is fetched once with the npm
client (``npm pack``, no Node project needed) into the seqlab cache and checked by sha256; on
Colab, where npm may be missing, the same pinned tarball is downloaded from the npm registry
and checked the same way. The poems are then extracted once into a cached JSON file.
"""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

from seqlab.data.cache import cached_json, npm_tarball

PACKAGE, VERSION = "chinese-poetry", "2.0.1"
TARBALL = f"{PACKAGE}-{VERSION}.tgz"
TARBALL_SHA256 = "25b549e46919c3a0569db6b68ddc96956b04a484ea4518ad2bbd4f137e307e86"
_TANG_FILE = re.compile(r"^package/dist/quantangshi/poet\.tang\.(\d+)\.json$")


def poetry_tarball() -> Path:
    """The checked ``chinese-poetry-2.0.1.tgz`` in the cache, fetched first if needed."""
    return npm_tarball(PACKAGE, VERSION, TARBALL_SHA256, "The Tang poems")


def read_tang_poems(tarball: Path) -> list[dict]:
    """All ``poet.tang.*.json`` records of the tarball, in file order, as dicts with
    ``title``, ``author`` and ``paragraphs`` (lines of the poem)."""
    files: dict[int, list] = {}
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar:
            m = _TANG_FILE.match(member.name)
            if m and member.isfile():
                files[int(m.group(1))] = json.load(tar.extractfile(member))
    if not files:
        raise ValueError(f"{tarball} holds no package/dist/quantangshi/poet.tang.*.json")
    return [
        {"title": p.get("title", ""), "author": p.get("author", ""), "paragraphs": list(p.get("paragraphs", []))}
        for key in sorted(files)
        for p in files[key]
    ]


def tang_poems() -> list[dict]:
    """The 57,607 Tang poems: dicts with ``title``, ``author`` and ``paragraphs``."""
    return cached_json(f"tang-{TARBALL_SHA256[:12]}-v1.json", lambda: read_tang_poems(poetry_tarball()))



_NUMERAL = "一二三四五六七八九十百千○〇零"
SERIES = re.compile(rf"^[其之第]?[{_NUMERAL}]+$|[{_NUMERAL}]+[首章篇]$")
_BRACKETS = re.compile(r"[（）()\[\]【】〔〕《》<>]")


def plain_title(title: str, max_len: int = 12) -> str | None:
    """The title to predict, or None when the poem has none worth predicting.

    A title made of parts (雜曲歌辭 車遙遙, 秦中吟十首 重賦) keeps its last part; a numbered
    piece of a series (帝京篇十首 一, 宮詞 五十七), a fragment (句), a title with editorial
    brackets, and one shorter than 2 or longer than ``max_len`` characters give None.
    """
    parts = title.split()
    if not parts or SERIES.search(parts[-1]):
        return None
    last = parts[-1]
    if _BRACKETS.search(last) or not 2 <= len(last) <= max_len:
        return None
    return last


def poem_titles(max_len: int = 12) -> list[dict]:
    """(poem, title) pairs for title generation: dicts with ``title``, ``author`` and ``poem``
    (the lines joined), for the poems that :func:`plain_title` finds a title for (about 39k).

    Split them with ``split_by_hash(pairs, key=lambda p: p["poem"])`` so that a title shared
    by many poems (雜詩, 送人) can appear in every split but a poem in one only.
    """
    if max_len < 2:
        raise ValueError(f"max_len must be >= 2, got {max_len}")
    out = []
    for p in tang_poems():
        title = plain_title(p["title"], max_len)
        if title is not None and p["paragraphs"]:
            out.append({"title": title, "author": p["author"], "poem": "".join(p["paragraphs"])})
    return out


HANZI = r"[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f]"  # CJK ideographs (basic block, extensions A-G)
COUPLET = f"{HANZI}{{5}}，{HANZI}{{5}}[。！？；]"  # one couplet: 5 characters, comma, 5 characters, end mark


def is_five_character(lines: list[str]) -> bool:
    """True for a five-character quatrain (2 couplets) or regulated verse (4 couplets)."""
    return len(lines) in (2, 4) and all(re.fullmatch(COUPLET, line) for line in lines)


def five_character_poems(poems: list[dict] | None = None) -> list[str]:
    """The five-character quatrains and regulated verses of ``poems`` (default: all Tang poems), as texts.

    Lines are joined (「床前明月光，疑是地上霜。…」); a text that appears twice is kept once, first copy first.
    """
    texts = {}
    for poem in tang_poems() if poems is None else poems:
        if is_five_character(poem["paragraphs"]):
            texts.setdefault("".join(poem["paragraphs"]), None)
    return list(texts)


def poem_title_splits(
    max_len: int = 12,
    max_body_len: int | None = None,
    sizes: tuple[int | None, int | None, int | None] | None = None,
) -> dict[str, list[dict]]:
    """(poem → title) pairs for the conditional title generator, split 80/10/10 into
    ``{"train", "valid", "test"}``: dicts ``{"title": "靜夜思", "body": "牀前看月光，…", "author": "李白"}``.

    The split is the one chapters 3 and 4 use for poem texts, ``split_by_hash(..., key=poem text)``
    with the default seed, so a five-character poem in their test set is in this test set too,
    and a poem is in one split only (a title shared by many poems, 雜詩 or 送人, can be in all).
    ``max_body_len`` drops longer poems; ``sizes`` (train, valid, test; None for all of a split)
    keeps a seeded sample of each split, a smaller sample being part of a larger one.
    """
    from seqlab.data.splits import check_sizes, nested_samples, split_by_hash

    if max_body_len is not None and max_body_len < 1:
        raise ValueError(f"max_body_len must be None or >= 1, got {max_body_len}")
    sizes = check_sizes(sizes)
    pairs = [{"title": p["title"], "body": p["poem"], "author": p["author"]} for p in poem_titles(max_len)
             if max_body_len is None or len(p["poem"]) <= max_body_len]
    parts = split_by_hash(pairs, key=lambda p: p["body"])
    return nested_samples(parts, sizes, key=lambda p: p["body"], salt="poem-titles", noun="poems")
