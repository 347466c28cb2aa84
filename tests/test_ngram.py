"""The Kneser-Ney baseline: a proper distribution, the textbook formula, and a usable generator."""

import math

import numpy as np
import pytest
import torch

from seqlab.baselines import KneserNeyLM
from seqlab.decoding import generate

V, EOS = 10, 2


def random_corpus(seed=0, n=300):
    rng = np.random.default_rng(seed)
    return [list(rng.integers(4, V, size=rng.integers(1, 7))) + [EOS] for _ in range(n)]


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_every_context_gives_a_distribution_over_predictable_words(order):
    lm = KneserNeyLM(V, order).fit(random_corpus())
    for context in ([], [5], [5, 6], [9, 9, 9], [3, 3]):
        p = lm.distribution(context)
        assert p.shape == (V,) and math.isclose(p.sum(), 1.0, rel_tol=1e-12)
        assert p[0] == 0 and p[1] == 0 and (p[2:] > 0).all()


def test_bigram_matches_the_formula_by_hand():
    # sentences "a b </s>" and "a c </s>" with a=4, b=5, c=6
    lm = KneserNeyLM(7, order=2).fit([[4, 5, EOS], [4, 6, EOS]])
    d2 = lm.discounts[1]
    # continuation counts: every word follows exactly one distinct context type except </s> (2: b, c)
    n_types = {4: 1, 5: 1, 6: 1, EOS: 2}
    total_cont = sum(n_types.values())
    d1 = lm.discounts[0]
    uniform = 1 / 5  # predictable words: </s>, <unk>, a, b, c
    p1 = {w: max(n_types.get(w, 0) - d1, 0) / total_cont + d1 * len(n_types) / total_cont * uniform for w in (2, 3, 4, 5, 6)}
    # after "a": seen b once and c once
    expected_b = (1 - d2) / 2 + d2 * 2 / 2 * p1[5]
    assert math.isclose(lm.distribution([4])[5], expected_b, rel_tol=1e-12)
    # an unseen context backs off to the unigram level entirely
    assert math.isclose(lm.distribution([3])[EOS], p1[EOS], rel_tol=1e-12)


def test_context_helps_on_structured_text_and_perplexity_is_exp_of_mean_nll():
    cycle = [[4, 5, 6, 7, 8, 9, EOS]] * 50
    uni = KneserNeyLM(V, 1).fit(cycle)
    tri = KneserNeyLM(V, 3).fit(cycle)
    assert tri.perplexity(cycle[:5]) < 1.5 < uni.perplexity(cycle[:5])
    s = cycle[0]
    assert math.isclose(tri.perplexity([s]), math.exp(-tri.log_prob(s) / len(s)))


def test_step_works_with_generate():
    lm = KneserNeyLM(V, 3).fit([[4, 5, 6, 7, EOS]] * 30)
    assert generate(lm, [1], 10, top_k=1, eos_index=EOS) == [4, 5, 6, 7]
    a = generate(lm, [1, 4], 10, eos_index=EOS, generator=torch.Generator().manual_seed(0))
    b = generate(lm, [1, 4], 10, eos_index=EOS, generator=torch.Generator().manual_seed(0))
    assert a == b


def test_bad_input():
    with pytest.raises(ValueError, match="order"):
        KneserNeyLM(V, 0)
    with pytest.raises(ValueError, match="pad"):
        KneserNeyLM(V, 2).fit([[1, 4, EOS]])  # <bos> inside a sentence
    with pytest.raises(ValueError, match="no sentences"):
        KneserNeyLM(V, 2).fit([])
    with pytest.raises(RuntimeError, match="fit"):
        KneserNeyLM(V, 2).distribution([4])
    with pytest.raises(ValueError, match="no tokens"):
        KneserNeyLM(V, 2).fit([[4, EOS]]).perplexity([])
