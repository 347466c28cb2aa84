"""Word segmentation data: People's Daily sentences in Traditional characters with BMES tags, and jieba."""

from collections import Counter

import pytest

from seqlab.baselines import JiebaSegmenter
from seqlab.data import segmentation
from seqlab.data.segmentation import (bmes, is_punctuation, segmentation_splits, segmentation_stats,
                                      segmented_sentences, valid_bmes, words_from_tags)
from seqlab.text import to_traditional


def spans(words):
    out, start = set(), 0
    for w in words:
        out.add((start, start + len(w)))
        start += len(w)
    return out


def prf(hyps, refs):
    """Word-level precision, recall, F1 over character spans."""
    tp = sum(len(spans(h) & spans(r)) for h, r in zip(hyps, refs))
    p, r = tp / sum(map(len, hyps)), tp / sum(map(len, refs))
    return p, r, 2 * p * r / (p + r)


@pytest.fixture(scope="module")
def splits():
    return segmentation_splits()


def test_bmes_round_trip_and_validity():
    assert bmes(["銀行", "行長", "說", "。"]) == ["B", "E", "B", "E", "S", "S"]
    assert bmes(["三中全會"]) == ["B", "M", "M", "E"]
    assert words_from_tags("銀行行長說", ["B", "E", "B", "E", "S"]) == ["銀行", "行長", "說"]
    assert words_from_tags("abc", ["B", "B", "M"]) == ["a", "bc"]  # invalid tags still give a reading
    assert valid_bmes(["B", "E", "S"]) and not valid_bmes(["B", "S"]) and not valid_bmes(["M"]) and not valid_bmes(["B"])
    with pytest.raises(ValueError):
        bmes("銀行")
    assert is_punctuation("，") and is_punctuation("——") and not is_punctuation("說")


def test_sentences_end_at_terminals_and_keep_closing_quotes():
    paragraph = [("他", "r"), ("说", "v"), ("：", "w"), ("“", "w"), ("好", "a"), ("。", "w"), ("”", "w"),
                 ("银行", "n"), ("行长", "n"), ("来", "v"), ("了", "y"), ("！", "w"), ("对", "a")]
    traditional = [to_traditional(w, "s2tw") for w, _ in paragraph]
    stats = Counter()
    got = list(segmentation._sentences(paragraph, traditional, 2, 60, stats))
    assert got == [["他", "說", "：", "“", "好", "。", "”"], ["銀行", "行長", "來", "了", "！"]]
    assert stats["length"] == 1 and stats["sentences"] == 3  # 對 alone is too short
    stats = Counter()  # a conversion that changes a word's length drops the sentence
    assert list(segmentation._sentences(paragraph[:3], ["他", "說說", "："], 2, 60, stats)) == []
    assert stats["misaligned"] == 1


def test_every_sentence_is_aligned_and_traditional(splits):
    for rows in splits.values():
        for row in rows:
            text, words, tags = row["text"], row["words"], row["tags"]
            assert "".join(words) == text and len(text) == len(tags) == sum(map(len, words))
            assert 4 <= len(text) <= 60 and valid_bmes(tags) and tags == bmes(words)
            assert words_from_tags(text, tags) == words
            assert not any(ch.isspace() for ch in text)
    texts = "".join(r["text"] for r in splits["train"])
    assert "為" in texts and "们" not in texts and "这" not in texts and "国" not in texts  # s2tw forms
    stats = segmentation_stats()
    assert stats["misaligned_words"] == 0 and stats["kept"] > 30_000


def test_splits_are_sized_disjoint_and_deterministic(splits):
    assert [len(splits[k]) for k in ("train", "valid", "test")] == [6000, 500, 1000]
    texts = {k: {r["text"] for r in v} for k, v in splits.items()}
    assert texts["train"].isdisjoint(texts["valid"]) and texts["train"].isdisjoint(texts["test"])
    assert texts["valid"].isdisjoint(texts["test"])
    again = segmentation_splits()
    assert all(again[k] == splits[k] for k in splits)
    smaller = segmentation_splits((600, 50, 100))
    assert all({r["text"] for r in smaller[k]} <= texts[k] for k in splits)  # nested samples
    assert len({r["text"] for r in segmented_sentences()}) == len(segmented_sentences())  # kept once


def test_jieba_via_simplified_beats_jieba_on_traditional_text(splits):
    refs = [r["words"] for r in splits["valid"]]
    via = JiebaSegmenter(via_simplified=True)
    direct = JiebaSegmenter(via_simplified=False)
    hyp_via = [via.segment(r["text"]) for r in splits["valid"]]
    hyp_direct = [direct.segment(r["text"]) for r in splits["valid"]]
    assert all("".join(h) == r["text"] for h, r in zip(hyp_via, splits["valid"]))
    f_via, f_direct = prf(hyp_via, refs)[2], prf(hyp_direct, refs)[2]
    assert 0.75 < f_via < 0.95 and f_via > f_direct + 0.03
    assert valid_bmes(via.tags(splits["valid"][0]["text"]))
    assert prf([["銀行", "行長"]], [["銀行", "行長"]]) == (1.0, 1.0, 1.0)
