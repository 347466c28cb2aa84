"""Chinese numeral pairs: cn2an's labels in Traditional characters, lengths, splits."""

from collections import Counter

import cn2an
import pytest

from seqlab.data.numerals import SIMPLIFIED_ONLY, length_quotas, numeral_pairs, numeral_splits, to_chinese
from seqlab.text import to_traditional


@pytest.mark.parametrize("number, lower, upper", [
    (0, "零", "零"), (7, "七", "柒"), (10, "十", "壹拾"), (12, "十二", "壹拾貳"), (110, "一百一十", "壹佰壹拾"),
    (1005, "一千零五", "壹仟零伍"), (12005, "一萬二千零五", "壹萬貳仟零伍"), (101000, "十萬一千", "壹拾萬壹仟"),
    (2000000, "二百萬", "貳佰萬"), (100000010, "一億零一十", "壹億零壹拾"),
    (36, "三十六", "叄拾陸"),
])
def test_cn2an_conventions_in_traditional(number, lower, upper):
    assert to_chinese(number) == lower
    assert to_chinese(number, upper=True) == upper


def test_out_of_range_number_is_refused():
    with pytest.raises(ValueError, match="number"):
        to_chinese(10**16)
    with pytest.raises(ValueError, match="number"):
        to_chinese(-1)


def test_pairs_are_traditional_distinct_and_round_trip():
    pairs = numeral_pairs(3000, seed=1)
    assert len(pairs) == 3000
    assert len({p["arabic"] for p in pairs}) == 3000
    for p in pairs:
        assert cn2an.cn2an(p["chinese"], "strict") == int(p["arabic"])
        assert not SIMPLIFIED_ONLY & set(p["chinese"]), p
        assert to_traditional(p["chinese"], "s2t") == p["chinese"]  # nothing left to convert
        assert "兩" not in p["chinese"]
    uppers = [p for p in pairs if p["upper"]]
    assert 0.45 < len(uppers) / len(pairs) < 0.55
    assert all(set(p["chinese"]) <= set("零壹貳叄肆伍陸柒捌玖拾佰仟萬億") for p in uppers)
    assert all(set(p["chinese"]) <= set("零一二三四五六七八九十百千萬億") for p in pairs if not p["upper"])


def test_lengths_are_even_by_digit_count():
    assert length_quotas(90, 9) == [10] * 9
    assert length_quotas(900, 9) == [10, 90, 115, 115, 114, 114, 114, 114, 114]
    quotas = length_quotas(9000, 9)  # only 900 three-digit numbers exist
    assert quotas[:3] == [10, 90, 900] and sum(quotas) == 9000
    assert max(quotas[3:]) - min(quotas[3:]) <= 1
    counts = Counter(len(p["arabic"]) for p in numeral_pairs(9000, seed=0))
    assert counts == Counter({d + 1: q for d, q in enumerate(quotas)})
    with pytest.raises(ValueError, match="n="):
        length_quotas(101, 2)


def test_pairs_are_deterministic_and_depend_on_seed():
    assert numeral_pairs(200, seed=3) == numeral_pairs(200, seed=3)
    assert numeral_pairs(200, seed=3) != numeral_pairs(200, seed=4)
    assert all(not p["upper"] for p in numeral_pairs(100, seed=0, upper_fraction=0.0))
    assert all(len(p["arabic"]) <= 4 for p in numeral_pairs(100, seed=0, max_digits=4))


@pytest.mark.parametrize("kwargs, match", [
    ({"max_digits": 0}, "max_digits"), ({"max_digits": 17}, "max_digits"),
    ({"upper_fraction": 1.5}, "upper_fraction"), ({"n": -1}, "n must"),
])
def test_bad_arguments(kwargs, match):
    args = {"n": 10, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        numeral_pairs(args.pop("n"), **args)


def test_splits_have_the_sizes_and_share_no_number():
    splits = numeral_splits((6000, 500, 1000), seed=0)
    assert {k: len(v) for k, v in splits.items()} == {"train": 6000, "valid": 500, "test": 1000}
    numbers = {k: {p["arabic"] for p in v} for k, v in splits.items()}
    assert not numbers["train"] & numbers["valid"]
    assert not numbers["train"] & numbers["test"]
    assert not numbers["valid"] & numbers["test"]
    test_lengths = Counter(len(p["arabic"]) for p in splits["test"])
    assert all(test_lengths[d] >= 80 for d in range(3, 10))  # every long length is measurable
    assert splits == numeral_splits((6000, 500, 1000), seed=0)
    with pytest.raises(ValueError, match="sizes"):
        numeral_splits((10, 10))
