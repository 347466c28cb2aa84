"""國字 → 注音 labels: pypinyin on the Simplified words, attached to Traditional characters."""

from collections import Counter

import pytest

from seqlab.baselines import MostFrequentReading
from seqlab.data import zhuyin
from seqlab.data.zhuyin import (heteronyms, reading_counts, taiwan_style, zhuyin_clauses, zhuyin_of, zhuyin_splits,
                                zhuyin_stats)
from seqlab.text import to_traditional


@pytest.mark.parametrize("words, expected", [
    (["银行", "行长"], "ㄧㄣˊ ㄏㄤˊ ㄏㄤˊ ㄓㄤˇ"),
    (["他", "长大", "了"], "ㄊㄚ ㄓㄤˇ ㄉㄚˋ ˙ㄌㄜ"),
    (["重新", "开始"], "ㄔㄨㄥˊ ㄒㄧㄣ ㄎㄞ ㄕˇ"),
    (["很", "重要"], "ㄏㄣˇ ㄓㄨㄥˋ ㄧㄠˋ"),
    (["觉得", "很", "好"], "ㄐㄩㄝˊ ˙ㄉㄜ ㄏㄣˇ ㄏㄠˇ"),
    (["都市"], "ㄉㄨ ㄕˋ"), (["都", "是"], "ㄉㄡ ㄕˋ"),
    (["音乐会"], "ㄧㄣ ㄩㄝˋ ㄏㄨㄟˋ"),  # pypinyin's phrase 音乐 is found inside the corpus word
    (["为", "人民", "服务"], "ㄨㄟˋ ㄖㄣˊ ㄇㄧㄣˊ ㄈㄨˊ ㄨˋ"),  # the word boundary keeps 为人 apart
    (["团结", "一致"], "ㄊㄨㄢˊ ㄐㄧㄝˊ ㄧ ㄓˋ"),  # 一 and 不 in citation tone, no sandhi
    (["不", "要"], "ㄅㄨˋ ㄧㄠˋ"),
])
def test_known_readings(words, expected):
    assert " ".join(zhuyin_of(words)) == expected


def test_traditional_text_reads_worse_which_is_why_labels_come_from_simplified():
    from pypinyin import Style, lazy_pinyin

    assert lazy_pinyin("銀行行長", style=Style.BOPOMOFO)[1] == "ㄒㄧㄥˊ"  # wrong: pypinyin's phrases are Simplified
    assert zhuyin_of(["银行", "行长"])[1] == "ㄏㄤˊ"


def test_neutral_tone_dot_goes_first_and_a_str_is_refused():
    assert taiwan_style("ㄌㄜ˙") == "˙ㄌㄜ" and taiwan_style("ㄏㄤˊ") == "ㄏㄤˊ"
    with pytest.raises(ValueError, match="list of words"):
        zhuyin_of("银行行长")


def test_clauses_of_a_paragraph_keep_only_aligned_han_clauses():
    paragraph = [("银行", "n"), ("行长", "n"), ("说", "v"), ("，", "w"), ("１９９８年", "t"), ("很", "d"), ("好", "a"),
                 ("，", "w"), ("好", "a"), ("。", "w"), ("他", "r"), ("长大", "v"), ("了", "y"), ("！", "w")]
    words = [w for w, _ in paragraph]
    traditional = [to_traditional(w, "s2tw") for w in words]
    stats = Counter()
    got = list(zhuyin._clauses(paragraph, traditional, traditional, 4, 30, stats))
    assert got == [("銀行行長說", "ㄧㄣˊ ㄏㄤˊ ㄏㄤˊ ㄓㄤˇ ㄕㄨㄛ"), ("他長大了", "ㄊㄚ ㄓㄤˇ ㄉㄚˋ ˙ㄌㄜ")]
    assert stats["not_han"] == 1 and stats["length"] == 1 and stats["clauses"] == 4
    stats = Counter()  # a conversion that changes a word's length drops the clause
    assert list(zhuyin._clauses(paragraph[:4], ["銀行", "行長長", "說", "，"], traditional, 4, 30, stats)) == []
    assert stats["misaligned"] == 1


def test_reading_counts_and_heteronyms():
    pairs = [{"text": "銀行行長", "zhuyin": ["ㄧㄣˊ", "ㄏㄤˊ", "ㄏㄤˊ", "ㄓㄤˇ"]},
             {"text": "行長", "zhuyin": ["ㄒㄧㄥˊ", "ㄔㄤˊ"]}]
    assert reading_counts(pairs)["行"] == Counter({"ㄏㄤˊ": 2, "ㄒㄧㄥˊ": 1})
    assert heteronyms(pairs) == {"行", "長"}
    assert heteronyms(pairs, min_count=2) == set()
    with pytest.raises(ValueError, match="length"):
        reading_counts([{"text": "行", "zhuyin": []}])


def test_most_frequent_reading_baseline():
    pairs = [{"text": "銀行行長", "zhuyin": ["ㄧㄣˊ", "ㄏㄤˊ", "ㄏㄤˊ", "ㄓㄤˇ"]},
             {"text": "行", "zhuyin": ["ㄒㄧㄥˊ"]}]
    model = MostFrequentReading().fit(pairs)
    assert model.predict("行長好") == ["ㄏㄤˊ", "ㄓㄤˇ", "ㄏㄠˇ"]  # 好 unseen: pypinyin's own reading
    assert MostFrequentReading("<unk>").fit(pairs).predict("好行") == ["<unk>", "ㄏㄤˊ"]
    with pytest.raises(ValueError, match="fit"):
        MostFrequentReading().predict("行")
    with pytest.raises(ValueError, match="length"):
        MostFrequentReading().fit([{"text": "行長", "zhuyin": ["ㄏㄤˊ"]}])


@pytest.fixture(scope="module")
def splits():
    return zhuyin_splits()


def test_real_clauses_are_traditional_aligned_han(splits):
    assert {k: len(v) for k, v in splits.items()} == {"train": 8000, "valid": 500, "test": 1000}
    for rows in splits.values():
        for row in rows:
            assert len(row["text"]) == len(row["zhuyin"]) and 4 <= len(row["text"]) <= 30
            assert zhuyin.HAN.match(row["text"])
    texts = "".join(r["text"] for rows in splits.values() for r in rows)
    assert not set(texts) & set("们这说时为会对经国过长门东车见关无书问实现两进")  # no Simplified left
    assert not set(texts) & set("爲裏衆羣峯着")  # OpenCC's s2t forms, not Taiwan's
    assert {"們", "為", "裡", "著"} <= set(texts)


def test_real_splits_are_disjoint_deterministic_and_nested(splits):
    texts = {k: {r["text"] for r in v} for k, v in splits.items()}
    assert not texts["train"] & texts["test"] and not texts["train"] & texts["valid"] and not texts["valid"] & texts["test"]
    assert zhuyin_splits() == splits
    small = zhuyin_splits((100, 10, 10))
    assert {r["text"] for r in small["test"]} <= texts["test"]
    with pytest.raises(ValueError, match="sizes"):
        zhuyin_splits((1, 2))
    with pytest.raises(ValueError, match="fewer"):
        zhuyin_splits((10**6, 1, 1))


def test_real_corpus_stats_and_heteronyms(splits):
    stats = zhuyin_stats()
    assert stats["paragraphs"] == 19484
    assert 100_000 < stats["kept"] == len(zhuyin_clauses()) < 120_000
    assert stats["misaligned"] == 0  # s2tw keeps every word's length
    assert stats["s2twp_characters_differ"] > 2_000  # s2twp would have put readings on other characters (軟體)
    counts = reading_counts(splits["train"])
    assert {"ㄏㄤˊ", "ㄒㄧㄥˊ"} <= set(counts["行"]) and {"ㄓㄤˇ", "ㄔㄤˊ"} <= set(counts["長"])
    assert {"行", "長", "重", "得", "著", "都", "樂", "為"} <= heteronyms(splits["train"])
