import pytest

from seqlab.baselines import SnowNLPBayes
from seqlab.data.splits import split_by_hash, split_of


def test_split_depends_only_on_the_key():
    keys = [f"標題 {i}" for i in range(3000)]
    parts = split_by_hash(keys, key=str)
    assert sum(map(len, parts.values())) == 3000
    assert 0.75 < len(parts["train"]) / 3000 < 0.85 and 0.07 < len(parts["test"]) / 3000 < 0.13
    again = split_by_hash(list(reversed(keys)) + ["new"], key=str)
    assert set(again["test"]) - {"new"} == set(parts["test"])
    assert split_of("x", seed="a") in ("train", "valid", "test")
    assert {split_of(k, seed="other") for k in keys[:200]} == {"train", "valid", "test"}


@pytest.mark.parametrize("fractions", [(0.5, 0.5), (0.8, 0.3, -0.1), (0.5, 0.2, 0.2)])
def test_bad_fractions(fractions):
    with pytest.raises(ValueError, match="fractions"):
        split_of("x", fractions)


def test_snownlp_bayes_learns_a_toy_task():
    pos = ["這本書非常好看，推薦", "品質很好，很滿意", "好用，值得買", "非常喜歡，很好"] * 5
    neg = ["很差，非常失望", "品質太差了，退貨", "不好用，浪費錢", "失望，很糟糕"] * 5
    model = SnowNLPBayes().fit(pos + neg, [1] * len(pos) + [0] * len(neg))
    assert model.predict(["很好，推薦", "太差了，失望"]) == [1, 0]
    with pytest.raises(ValueError, match="labels"):
        SnowNLPBayes().fit(["a"], [2])
    with pytest.raises(ValueError, match="as many"):
        SnowNLPBayes().fit(["a", "b"], [1])


def test_snownlp_bayes_with_another_tokenizer():
    from seqlab.text import char_tokenize

    model = SnowNLPBayes(char_tokenize).fit(["好好好", "讚讚", "壞壞", "差差差"], [1, 1, 0, 0])
    assert model.predict(["好讚", "壞差"]) == [1, 0]
