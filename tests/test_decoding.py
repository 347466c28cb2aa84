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
