import math

import pytest
import torch

from seqlab.data.batching import pad_sequences
from seqlab.decoding import generate
from seqlab.device import seed_everything
from seqlab.nn.language_model import RNNLanguageModel
from seqlab.train import fit


def test_pad_targets_do_not_count_and_step_equals_forward():
    torch.manual_seed(0)
    model = RNNLanguageModel(12, 4, 5, num_layers=2)
    model.eval()
    tokens = torch.tensor([[1, 4, 5, 6]])
    logits, _ = model(tokens)
    state, steps = None, []
    for t in range(4):
        step_logits, state = model.step(tokens[:, t], state)
        steps.append(step_logits)
    torch.testing.assert_close(torch.stack(steps, 1), logits)
    inputs, _ = pad_sequences([[1, 4, 5], [1, 7]])
    targets, _ = pad_sequences([[4, 5, 2], [7, 2]])
    loss, n = model.loss(inputs, targets)
    assert n == 5
    full, _ = model(inputs)
    logp = full.log_softmax(-1)
    manual = -(logp[0, [0, 1, 2], [4, 5, 2]].sum() + logp[1, [0, 1], [7, 2]].sum()) / 5
    torch.testing.assert_close(loss, manual)


def test_lm_learns_a_cycle_and_generation_follows_it():
    seed_everything(0)
    seq = [4, 5, 6, 7] * 6
    data = [(torch.tensor([[1] + seq[:-1]] * 8), torch.tensor([seq] * 8))] * 30
    model = RNNLanguageModel(8, 8, 16)
    h = fit(model, data, lambda m, b: m.loss(*b), torch.optim.Adam(model.parameters(), lr=0.02), epochs=2, progress=False)
    assert math.exp(h.train_loss[-1]) < 1.3
    greedy = generate(model, [1, 4], max_len=6, top_k=1)
    assert greedy == [5, 6, 7, 4, 5, 6]
    g1 = generate(model, [1], 10, temperature=1.5, generator=torch.Generator().manual_seed(0))
    g2 = generate(model, [1], 10, temperature=1.5, generator=torch.Generator().manual_seed(0))
    assert g1 == g2


def test_generation_stops_at_eos_and_rejects_bad_arguments():
    torch.manual_seed(0)
    model = RNNLanguageModel(6, 4, 4)
    with torch.no_grad():
        model.out.bias.fill_(-10.0)
        model.out.bias[2] = 10.0  # <eos> always
    assert generate(model, [1], 5, eos_index=2) == []
    assert generate(model, [1], 3) == [2, 2, 2]
    for kwargs, message in (({"start": []}, "start"), ({"max_len": 0}, "max_len"), ({"temperature": 0.0}, "temperature")):
        args = {"start": [1], "max_len": 3, **kwargs}
        with pytest.raises(ValueError, match=message):
            generate(model, **args)
    with pytest.raises(ValueError, match="recurrent"):
        RNNLanguageModel(5, 2, 2, recurrent="cnn")


def test_tied_weights_share_one_matrix_and_need_equal_sizes():
    model = RNNLanguageModel(11, 8, 8, num_layers=2, tie_weights=True)
    assert model.out.weight is model.embedding.weight
    untied = RNNLanguageModel(11, 8, 8, num_layers=2)
    n_tied, n_untied = (sum(p.numel() for p in m.parameters()) for m in (model, untied))
    assert n_untied - n_tied == 11 * 8
    logits, _ = model(torch.tensor([[1, 4, 5]]))
    assert logits.shape == (1, 3, 11)
    with pytest.raises(ValueError, match="tie_weights"):
        RNNLanguageModel(11, 8, 16, tie_weights=True)


def test_first_choices_restrict_only_the_first_new_token():
    torch.manual_seed(0)
    model = RNNLanguageModel(9, 4, 4)
    for seed in range(5):
        out = generate(model, [1], 4, generator=torch.Generator().manual_seed(seed), first_choices=[6, 7])
        assert out[0] in (6, 7)
    with pytest.raises(ValueError, match="first_choices"):
        generate(model, [1], 4, first_choices=[])


def test_suppressed_ids_are_never_generated_and_the_prompt_counts_for_the_penalty():
    torch.manual_seed(0)
    model = RNNLanguageModel(9, 4, 4)
    with torch.no_grad():
        model.out.bias.fill_(0.0)
        model.out.bias[5] = 50.0  # the model always wants token 5
    assert generate(model, [1], 3, top_k=1) == [5, 5, 5]
    assert 5 not in generate(model, [1], 6, suppress=[5], generator=torch.Generator().manual_seed(0))
    # a prompt that already holds 5 lowers it once the penalty is strong enough
    assert generate(model, [1, 5], 1, top_k=1, repetition_penalty=1e3)[0] != 5
    assert generate(model, [1], 1, top_k=1, repetition_penalty=1e3) == [5]
    with pytest.raises(ValueError, match="suppress"):
        generate(model, [1], 3, first_choices=[5], suppress=[5])
