import pytest
import torch

from seqlab.decoding import apply_temperature, greedy, sample


def test_temperature_reweights_as_p_to_the_one_over_t():
    p = torch.tensor([0.5, 0.3, 0.2])
    torch.testing.assert_close(apply_temperature(p, 1.0), p)
    expected = p ** 2 / (p ** 2).sum()
    torch.testing.assert_close(apply_temperature(p, 0.5), expected)
    assert apply_temperature(p, 1e-3).argmax() == 0 and apply_temperature(p, 1e-3)[0] > 0.999
    torch.testing.assert_close(apply_temperature(p, 1e4), torch.full((3,), 1 / 3), atol=1e-3, rtol=0)
    assert apply_temperature(torch.tensor([0.0, 1.0]), 2.0).tolist() == [0.0, 1.0]


def test_sample_matches_softmax_frequencies_and_is_reproducible():
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0])
    g = torch.Generator().manual_seed(0)
    draws = sample(logits.expand(40_000, 4), temperature=0.7, generator=g)
    freq = torch.bincount(draws, minlength=4).float() / 40_000
    torch.testing.assert_close(freq, torch.softmax(logits / 0.7, -1), atol=0.01, rtol=0)
    a = sample(logits.expand(50, 4), generator=torch.Generator().manual_seed(3))
    b = sample(logits.expand(50, 4), generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_top_k_and_greedy():
    logits = torch.tensor([[0.0, 3.0, 2.9, -5.0]])
    draws = sample(logits.expand(2000, 4), temperature=5.0, top_k=2, generator=torch.Generator().manual_seed(1))
    assert set(draws.tolist()) == {1, 2}
    assert sample(logits, top_k=1).item() == 1 == greedy(logits).item()
    assert sample(torch.randn(2, 3, 7)).shape == (2, 3)


@pytest.mark.parametrize("kwargs, message", [({"temperature": 0}, "temperature"), ({"temperature": -1.0}, "temperature"),
                                             ({"top_k": 0}, "top_k")])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sample(torch.zeros(3), **kwargs)
    if "temperature" in kwargs:
        with pytest.raises(ValueError, match="temperature"):
            apply_temperature(torch.tensor([0.5, 0.5]), kwargs["temperature"])


def test_repetition_penalty_divides_positive_and_multiplies_negative_logits():
    from seqlab.decoding import penalize_repetition

    z = torch.tensor([2.0, -1.0, 0.5, 3.0])
    out = penalize_repetition(z, [0, 1, 0], 2.0)
    torch.testing.assert_close(out, torch.tensor([1.0, -2.0, 0.5, 3.0]))
    assert penalize_repetition(z, [0], 1.0) is z
    with pytest.raises(ValueError, match="repetition_penalty"):
        penalize_repetition(z, [0], 0.5)


def test_prompt_ids_refuses_empty_and_unknown_start_words():
    from seqlab.decoding import prompt_ids
    from seqlab.text import Vocab, char_tokenize

    vocab = Vocab.build([list("天氣很好"), list("天天向上")])
    assert prompt_ids(vocab, "天氣", char_tokenize) == [vocab.bos_index, vocab["天"], vocab["氣"]]
    assert prompt_ids(vocab, ["天"], char_tokenize, add_bos=False) == [vocab["天"]]
    with pytest.raises(ValueError, match="empty"):
        prompt_ids(vocab, "", char_tokenize)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        prompt_ids(vocab, "雨", char_tokenize)


# ---------------------------------------------------------------- the batched decoding interface

import itertools
import math

from seqlab.decoding import (beam_search, decoder_step, expand_state, first_choices, generate, greedy_search,
                             penalize_repetition, reorder_state, repetition_penalty, sample_search, suppress,
                             temperature, top_k, top_p)

BOS, EOS = 0, 1


def markov(matrix):
    """A decoder whose next-token distribution depends only on the last token: row ``matrix[token]``."""
    logp = torch.tensor(matrix, dtype=torch.float64).log()

    def step(tokens, state):
        return logp[tokens], state
    return step


def random_markov(V, seed):
    g = torch.Generator().manual_seed(seed)
    m = torch.rand(V, V, generator=g, dtype=torch.float64) + 0.05
    m[:, BOS] = 0.0  # <bos> is never generated
    return (m / m.sum(1, keepdim=True)).tolist()


def brute_force(matrix, max_len, alpha=0.0):
    """Every sequence of words (ids ≥ 2) that ends in <eos> before max_len or is cut at max_len, scored."""
    words = range(2, len(matrix))
    out = []
    for n in range(max_len + 1):
        for seq in itertools.product(words, repeat=n):
            path = [BOS, *seq] + ([EOS] if n < max_len else [])
            logp = sum(math.log(matrix[a][b]) for a, b in zip(path, path[1:]))
            size = n + 1 if n < max_len else n
            out.append((list(seq), logp / ((5 + size) / 6) ** alpha))
    return sorted(out, key=lambda x: -x[1])


class TinyLSTM(torch.nn.Module):
    """An LSTM decoder with a batch-first (h, c) state, each (N, H)."""

    def __init__(self, V=7, H=8, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.embedding, self.cell, self.out = torch.nn.Embedding(V, H), torch.nn.LSTMCell(H, H), torch.nn.Linear(H, V)
        with torch.no_grad():
            self.out.bias[BOS] = -20.0
            self.out.bias[EOS], self.out.weight[EOS] = 0.3, 6 * self.out.weight[EOS]  # <eos> depends on the state

    @torch.no_grad()
    def step(self, tokens, state):
        h, c = self.cell(self.embedding(tokens), state)  # (N, H) each
        return self.out(h).log_softmax(-1), (h, c)

    def log_prob(self, tokens, state, max_len):
        """log p(tokens + <eos>) from ``state`` (one row), the <eos> term only when len < max_len."""
        path = [BOS, *tokens] + ([EOS] if len(tokens) < max_len else [])
        total = 0.0
        for a, b in zip(path, path[1:]):
            logp, state = self.step(torch.tensor([a]), state)
            total += float(logp[0, b])
        return total


def random_state(B, H=8, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, H, generator=g), torch.randn(B, H, generator=g)


def test_state_helpers_map_over_nested_tuples_and_none():
    a, b, c = torch.arange(3), torch.arange(6).view(3, 2), torch.arange(3) * 10
    state = (a, (b, c))
    idx = torch.tensor([2, 0])
    r = reorder_state(state, idx)
    assert r[0].tolist() == [2, 0] and r[1][0].tolist() == [[4, 5], [0, 1]] and r[1][1].tolist() == [20, 0]
    e = expand_state(state, 2)
    assert e[0].tolist() == [0, 0, 1, 1, 2, 2] and e[1][0].shape == (6, 2)
    assert reorder_state(None, idx) is None and expand_state(None, 3) is None
    with pytest.raises(TypeError, match="state"):
        expand_state({"h": a}, 2)


def test_beam_one_equals_greedy_and_scores_are_the_models_log_probability():
    model, state = TinyLSTM(), random_state(6)
    greedy_out = greedy_search(model.step, state, bos_id=BOS, eos_id=EOS, max_len=6)
    beam_out = beam_search(model.step, state, bos_id=BOS, eos_id=EOS, beam_size=1, max_len=6)
    assert [hyps[0][0] for hyps in beam_out] == greedy_out
    assert {len(t) for t in greedy_out} != {6}  # some rows stop at <eos>, some run to max_len
    assert all(len(hyps) == 1 for hyps in beam_out)
    for b, hyps in enumerate(beam_search(model.step, state, bos_id=BOS, eos_id=EOS, beam_size=4, max_len=6)):
        assert len(hyps) == 4
        assert [s for _, s in hyps] == sorted((s for _, s in hyps), reverse=True)
        for tokens, score in hyps:
            assert EOS not in tokens and BOS not in tokens
            one = (state[0][b:b + 1], state[1][b:b + 1])
            assert score == pytest.approx(model.log_prob(tokens, one, 6), abs=1e-5)


@pytest.mark.parametrize("alpha", [0.0, 0.8])
def test_a_beam_as_large_as_all_sequences_finds_the_exhaustive_ranking(alpha):
    matrix, max_len = random_markov(4, seed=3), 4
    exact = brute_force(matrix, max_len, alpha)  # 31 sequences of two words
    (hyps,) = beam_search(markov(matrix), None, bos_id=BOS, eos_id=EOS, beam_size=len(exact), max_len=max_len,
                          length_penalty=alpha, batch_size=1)
    # a Markov chain gives equal scores to reorderings with the same transitions: compare by sequence
    found = {tuple(t): s for t, s in hyps}
    assert len(found) == len(hyps) == len(exact)
    for tokens, score in exact:
        assert found[tuple(tokens)] == pytest.approx(score, abs=1e-5)
    assert all(a >= b - 1e-5 for (_, a), (_, b) in zip(hyps, hyps[1:]))  # best first (ties up to rounding)
    (small,) = beam_search(markov(matrix), None, bos_id=BOS, eos_id=EOS, beam_size=3, max_len=max_len,
                           length_penalty=alpha, batch_size=1)
    assert small[0][1] == pytest.approx(exact[0][1], abs=1e-5)  # here even a beam of 3 finds the optimum


def test_batch_items_do_not_leak_into_each_other():
    model, state = TinyLSTM(seed=2), random_state(5, seed=7)
    together = beam_search(model.step, state, bos_id=BOS, eos_id=EOS, beam_size=3, max_len=7)
    greedy_together = greedy_search(model.step, state, bos_id=BOS, eos_id=EOS, max_len=7)
    for b in range(5):
        one = (state[0][b:b + 1], state[1][b:b + 1])
        (alone,) = beam_search(model.step, one, bos_id=BOS, eos_id=EOS, beam_size=3, max_len=7)
        assert [t for t, _ in alone] == [t for t, _ in together[b]]
        assert [s for _, s in alone] == pytest.approx([s for _, s in together[b]], abs=1e-5)
        assert greedy_search(model.step, one, bos_id=BOS, eos_id=EOS, max_len=7) == [greedy_together[b]]
    assert len({tuple(tuple(t) for t, _ in h) for h in together}) > 1  # the inputs really differ


def two_kinds():
    """Row state 0: <eos> is almost certain; row state 1: <eos> never comes."""
    ends = torch.tensor([[0.0, 0.9, 0.05, 0.05]] * 4).log()
    never = torch.tensor([[0.0, 0.0, 0.7, 0.3], [0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.7, 0.3], [0.0, 0.0, 0.4, 0.6]]).log()
    calls = []

    def step(tokens, kind):
        calls.append(tokens.tolist())
        return torch.where(kind[:, None] == 0, ends[tokens], never[tokens]), kind
    return step, calls, never


def test_eos_ends_a_row_and_max_len_hypotheses_finish_as_they_are():
    step, calls, never = two_kinds()
    kind = torch.tensor([0, 1])
    assert greedy_search(step, kind, bos_id=BOS, eos_id=EOS, max_len=5) == [[], [2, 2, 2, 2, 2]]
    assert len(calls) == 5 and all(c[0] == EOS for c in calls[1:])  # the finished row only feeds <eos> on
    ended, running = beam_search(step, kind, bos_id=BOS, eos_id=EOS, beam_size=2, max_len=3)
    assert ended[0] == ([], pytest.approx(math.log(0.9)))
    (best, s1), (second, s2) = running
    assert best == [2, 2, 2] and second == [2, 2, 3]  # cut at max_len, no <eos> term in the score
    assert s1 == pytest.approx(3 * math.log(0.7)) and s2 == pytest.approx(2 * math.log(0.7) + math.log(0.3))


def test_beam_search_stops_early_when_no_live_beam_can_win():
    calls = []
    matrix = [[0.0, 0.9, 0.05, 0.05]] * 4

    def step(tokens, state):
        calls.append(1)
        return markov(matrix)(tokens, state)
    (hyps,) = beam_search(step, None, bos_id=BOS, eos_id=EOS, beam_size=2, max_len=20, batch_size=1)
    assert len(calls) == 2 and hyps[0] == ([], pytest.approx(math.log(0.9)))


def test_length_penalty_lets_the_longer_hypothesis_win_as_the_formula_says():
    matrix = [[0.0, 0.5, 0.5], [0.0, 1.0, 0.0], [0.0, 0.9, 0.1]]  # <bos>, <eos>, a
    short, long = math.log(0.5), math.log(0.5) + math.log(0.9)
    kw = dict(bos_id=BOS, eos_id=EOS, beam_size=2, max_len=3, batch_size=1)
    (plain,) = beam_search(markov(matrix), None, **kw)
    assert plain == [([], pytest.approx(short)), ([2], pytest.approx(long))]
    (penalized,) = beam_search(markov(matrix), None, length_penalty=1.0, **kw)
    assert penalized == [([2], pytest.approx(long / (7 / 6))), ([], pytest.approx(short / 1.0))]


def test_processors_keep_the_right_sets():
    z = torch.tensor([[1.0, 3.0, 2.0, 3.0, 0.0]])
    empty = torch.zeros(1, 0, dtype=torch.long)
    kept = lambda s: set(torch.nonzero(s[0] > float("-inf")).view(-1).tolist())
    assert kept(top_k(2)(z, empty)) == {1, 3} and kept(top_k(3)(z, empty)) == {1, 2, 3}
    assert top_k(9)(z, empty) is z
    p = torch.tensor([[0.15, 0.5, 0.05, 0.3]]).log()  # order by probability: 1, 3, 0, 2
    assert [kept(top_p(q)(p, empty)) for q in (0.45, 0.75, 0.85, 1.0)] == [{1}, {1, 3}, {0, 1, 3}, {0, 1, 2, 3}]
    torch.testing.assert_close(temperature(0.5)(z, empty), z * 2)
    assert kept(suppress([1, 4])(z, empty)) == {0, 2, 3}
    assert kept(first_choices([0, 2])(z, empty)) == {0, 2}
    assert first_choices([0, 2])(z, torch.tensor([[3]])) is z  # only the first new token


def test_repetition_penalty_formula_with_prompt_and_output():
    z = torch.tensor([[2.0, -1.0, 0.5, 3.0]] * 4)
    generated = torch.tensor([[0], [3], [2], [2]])
    out = repetition_penalty(2.0, prompt=[1])(z, generated)
    torch.testing.assert_close(out, torch.tensor([[1.0, -2.0, 0.5, 3.0], [2.0, -2.0, 0.5, 1.5],
                                                  [2.0, -2.0, 0.25, 3.0], [2.0, -2.0, 0.25, 3.0]]))
    # one prompt per input: with B = 2 and 4 rows, rows 0-1 belong to input 0 and rows 2-3 to input 1
    per_input = repetition_penalty(2.0, prompt=[[1], [0, 3]])(z, torch.zeros(4, 0, dtype=torch.long))
    torch.testing.assert_close(per_input[:2], torch.tensor([[2.0, -2.0, 0.5, 3.0]] * 2))
    torch.testing.assert_close(per_input[2:], torch.tensor([[1.0, -1.0, 0.5, 1.5]] * 2))
    torch.testing.assert_close(out[0], penalize_repetition(z[0], [1, 0], 2.0))


def test_searches_apply_processors_and_sampling_follows_the_model():
    matrix = random_markov(5, seed=4)
    kw = dict(bos_id=BOS, eos_id=EOS, max_len=4, batch_size=3)
    banned = greedy_search(markov(matrix), None, processors=[suppress([2, 3])], **kw)
    assert all(t not in (2, 3) for row in banned for t in row)
    assert sample_search(markov(matrix), None, top_k=1, generator=torch.Generator().manual_seed(0), **kw) == \
        greedy_search(markov(matrix), None, **kw)
    (beam,) = beam_search(markov(matrix), None, bos_id=BOS, eos_id=EOS, beam_size=3, max_len=4, batch_size=1,
                          processors=[first_choices([4])])
    assert all(t[0] == 4 for t, _ in beam)
    first = sample_search(markov(matrix), None, bos_id=BOS, eos_id=None, max_len=1, batch_size=20_000,
                          temperature=0.7, generator=torch.Generator().manual_seed(1))
    freq = torch.bincount(torch.tensor(first).view(-1), minlength=5).float() / 20_000
    torch.testing.assert_close(freq, torch.softmax(torch.tensor(matrix[BOS]).log() / 0.7, -1), atol=0.015, rtol=0)


@pytest.mark.parametrize("call, message", [
    (lambda s: beam_search(s, None, bos_id=0, eos_id=1, beam_size=0, max_len=3, batch_size=1), "beam_size"),
    (lambda s: beam_search(s, None, bos_id=0, eos_id=1, beam_size=2, max_len=0, batch_size=1), "max_len"),
    (lambda s: beam_search(s, None, bos_id=0, eos_id=1, beam_size=2, max_len=3, batch_size=1, length_penalty=-1),
     "length_penalty"),
    (lambda s: greedy_search(s, None, bos_id=0, eos_id=1, max_len=3), "batch_size"),
    (lambda s: greedy_search(s, torch.zeros(2, 3), bos_id=0, eos_id=1, max_len=3, batch_size=3), "batch_size"),
    (lambda s: sample_search(s, None, bos_id=0, eos_id=1, max_len=3, batch_size=1, temperature=0.0), "temperature"),
    (lambda s: sample_search(s, None, bos_id=0, eos_id=1, max_len=3, batch_size=1, top_p=0.0), "top_p"),
    (lambda s: sample_search(s, None, bos_id=0, eos_id=1, max_len=3, batch_size=1, top_p=1.5), "top_p"),
    (lambda s: sample_search(s, None, bos_id=0, eos_id=1, max_len=3, batch_size=1, top_k=0), "top_k"),
    (lambda s: temperature(-1.0), "temperature"),
    (lambda s: repetition_penalty(0.5), "repetition_penalty"),
    (lambda s: first_choices([]), "first_choices"),
])
def test_bad_search_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call(markov(random_markov(3, 0)))


def _legacy_generate(model, start, max_len, temperature=1.0, top_k=None, eos_index=None, generator=None,
                     repetition_penalty=1.0, first_choices=None, suppress=None):
    """generate() as it was before it used sample_search, the reference for sameness."""
    state = None
    for token in start:
        logits, state = model.step(torch.tensor([token]), state)
    out = []
    for _ in range(max_len):
        scores = penalize_repetition(logits[0].float(), list(start) + out, repetition_penalty)
        if suppress:
            scores = scores.index_fill(-1, torch.tensor(suppress), float("-inf"))
        if first_choices is not None and not out:
            allowed = torch.full_like(scores, float("-inf"))
            allowed[first_choices] = 0.0
            scores = scores + allowed
        nxt = int(sample(scores, temperature, top_k, generator))
        if eos_index is not None and nxt == eos_index:
            break
        out.append(nxt)
        logits, state = model.step(torch.tensor([nxt]), state)
    return out


def test_generate_draws_the_same_tokens_as_before_and_language_models_decode_batched():
    from seqlab.baselines import KneserNeyLM
    from seqlab.nn.language_model import RNNLanguageModel

    torch.manual_seed(0)
    rnn = RNNLanguageModel(20, 6, 8, num_layers=2).eval()
    ngram = KneserNeyLM(20, order=3).fit([[4, 5, 6, 2], [4, 7, 8, 9, 2], [5, 5, 6, 2]])
    options = [{}, {"temperature": 0.7, "top_k": 4, "eos_index": 2}, {"repetition_penalty": 1.5, "suppress": [3]},
               {"first_choices": [6, 7], "eos_index": 2}]
    for model in (rnn, ngram):
        for seed, kw in itertools.product(range(5), options):
            args = ([1, 4], 10)
            assert generate(model, *args, generator=torch.Generator().manual_seed(seed), **kw) == \
                _legacy_generate(model, *args, generator=torch.Generator().manual_seed(seed), **kw)
    # decode_step: log-probabilities and a batch-first state, so beam search works on both models
    tokens = torch.tensor([1, 4, 5, 2])
    logits, torch_state = rnn.step(tokens, None)
    logp, state = rnn.decode_step(tokens, None)
    torch.testing.assert_close(logp, logits.log_softmax(-1))
    assert state[0].shape == (4, 2, 8) and torch.equal(state[0], torch_state[0].transpose(0, 1))
    for model in (rnn, ngram):
        step = decoder_step(model)
        together = beam_search(step, None, bos_id=1, eos_id=2, beam_size=3, max_len=5, batch_size=2)
        assert together[0] == together[1] and len(together[0]) == 3
    state, ctx = None, None
    for t in [1, 4, 5, 6]:
        logp, state = ngram.decode_step(torch.tensor([t, t]), state)
        ref, ctx = ngram.step(torch.tensor([t]), ctx)
        torch.testing.assert_close(logp, ref.expand(2, -1))
