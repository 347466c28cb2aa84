"""seqlab.nn.init: the same numbers as torch.nn.init from the same generator, the formulas' variances, bad input."""

import math

import pytest
import torch
from torch import nn

from seqlab.nn import init
from seqlab.nn.lstm import GRUCell, LSTMCell


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("shape", [(30, 20), (7, 3, 5), (1, 1), (64, 256)])
def test_fans_match_torch(shape):
    t = torch.empty(shape)
    assert init.calculate_fans(t) == nn.init._calculate_fan_in_and_fan_out(t)


@pytest.mark.parametrize("name,param", [("linear", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                                        ("selu", None), ("leaky_relu", None), ("leaky_relu", 0.2)])
def test_gain_matches_torch(name, param):
    assert init.calculate_gain(name, param) == pytest.approx(nn.init.calculate_gain(name, param))


@pytest.mark.parametrize("ours,theirs,kwargs", [
    (init.xavier_uniform_, nn.init.xavier_uniform_, {"gain": 5 / 3}),
    (init.xavier_normal_, nn.init.xavier_normal_, {"gain": 1.0}),
    (init.he_uniform_, nn.init.kaiming_uniform_, {"nonlinearity": "relu"}),
    (init.he_normal_, nn.init.kaiming_normal_, {"nonlinearity": "relu", "mode": "fan_out"}),
    (init.orthogonal_, nn.init.orthogonal_, {"gain": 2.0}),
])
@pytest.mark.parametrize("shape", [(40, 30), (30, 40), (8, 4, 3)])
def test_same_numbers_as_torch_from_the_same_generator(ours, theirs, kwargs, shape):
    a = ours(torch.empty(shape), generator=gen(3), **kwargs)
    b = theirs(torch.empty(shape), generator=gen(3), **kwargs)
    torch.testing.assert_close(a, b)


def test_variances_follow_the_formulas():
    n_in, n_out = 300, 500
    t = torch.empty(n_out, n_in)
    cases = {
        "xavier uniform": (init.xavier_uniform_(t.clone(), generator=gen(1)), 2 / (n_in + n_out)),
        "xavier normal, tanh gain": (init.xavier_normal_(t.clone(), gain=5 / 3, generator=gen(1)), (5 / 3) ** 2 * 2 / (n_in + n_out)),
        "he normal": (init.he_normal_(t.clone(), nonlinearity="relu", generator=gen(1)), 2 / n_in),
        "he uniform fan_out": (init.he_uniform_(t.clone(), mode="fan_out", nonlinearity="relu", generator=gen(1)), 2 / n_out),
        "lecun": (init.lecun_normal_(t.clone(), generator=gen(1)), 1 / n_in),
        "small": (init.small_normal_(t.clone(), std=0.01, generator=gen(1)), 1e-4),
    }
    for name, (w, var) in cases.items():
        assert w.mean().abs() < 0.02 * math.sqrt(var), name
        assert w.var().item() == pytest.approx(var, rel=0.02), name
    bound = math.sqrt(6 / (n_in + n_out))
    w = cases["xavier uniform"][0]
    assert w.abs().max() <= bound and w.abs().max() > 0.99 * bound


def test_the_slide_variance_halves_the_signal_of_a_square_layer():
    # Var = 1/(n_in + n_out) (the slide) instead of 2/(n_in + n_out) (Glorot & Bengio): half per layer.
    n = 512
    x = torch.randn(4096, n, generator=gen(2))
    w = torch.empty(n, n).normal_(0, math.sqrt(1 / (n + n)), generator=gen(3))
    glorot = init.xavier_normal_(torch.empty(n, n), generator=gen(3))
    assert (x @ w.T).var().item() == pytest.approx(0.5, rel=0.03)
    assert (x @ glorot.T).var().item() == pytest.approx(1.0, rel=0.03)


@pytest.mark.parametrize("shape", [(16, 16), (10, 30), (30, 10)])
def test_orthogonal_is_orthogonal_and_keeps_norms(shape):
    q = init.orthogonal_(torch.empty(shape), generator=gen(4)).double()
    rows, cols = shape
    eye = torch.eye(min(rows, cols), dtype=torch.float64)
    torch.testing.assert_close(q @ q.T if rows <= cols else q.T @ q, eye, atol=1e-5, rtol=0)
    if rows == cols:
        v = torch.randn(cols, dtype=torch.float64)
        for _ in range(100):
            v_next = q @ v
            assert v_next.norm().item() == pytest.approx(v.norm().item(), rel=1e-4)
            v = v_next


def test_initialize_applies_a_scheme_per_gate_and_sets_biases():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 4))
    init.initialize(model, "zeros", bias=0.1)
    assert all((m.weight == 0).all() and (m.bias == 0.1).all() for m in (model[0], model[2]))
    init.initialize(model, "constant", value=0.5)
    assert (model[0].weight == 0.5).all() and (model[0].bias == 0).all()

    lstm = nn.LSTM(6, 8, batch_first=True)
    init.initialize(lstm, "xavier", recurrent="orthogonal", generator=gen(5))
    for block in lstm.weight_hh_l0.detach().chunk(4):  # each gate's (H, H) block is orthogonal
        torch.testing.assert_close(block @ block.T, torch.eye(8), atol=1e-5, rtol=0)
    bound = math.sqrt(6 / (6 + 8))  # a gate block (H, I) has fans (I, H), not (I, 4H)
    assert lstm.weight_ih_l0.abs().max() <= bound and lstm.weight_ih_l0.abs().max() > 0.9 * bound
    assert (lstm.bias_ih_l0 == 0).all() and (lstm.bias_hh_l0 == 0).all()

    for cell, gates in ((LSTMCell(5, 7), 4), (GRUCell(5, 7), 3)):
        init.initialize(cell, "he", recurrent="orthogonal", generator=gen(6))
        blocks = cell.weight_hh.detach().chunk(gates)
        assert len(blocks) == gates
        for block in blocks:
            torch.testing.assert_close(block @ block.T, torch.eye(7), atol=1e-5, rtol=0)

    emb = nn.Embedding(10, 4)
    before = emb.weight.detach().clone()
    init.initialize(nn.Sequential(emb, nn.Linear(4, 2)), "zeros")
    assert torch.equal(emb.weight, before)  # embeddings keep their N(0, 1) rows


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="unknown initialisation scheme"):
        init.initialize(nn.Linear(2, 2), "glorot")
    with pytest.raises(ValueError, match="unknown initialisation scheme"):
        init.initialize(nn.LSTM(2, 2), "xavier", recurrent="identity")
    with pytest.raises(ValueError, match="fan_in 0"):
        init.xavier_uniform_(torch.empty(4, 0))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.he_normal_(torch.empty(5))
    with pytest.raises(ValueError, match="unknown nonlinearity"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="mode"):
        init.he_normal_(torch.empty(3, 3), mode="fan_avg")
    with pytest.raises(ValueError, match="std"):
        init.small_normal_(torch.empty(3, 3), std=0.0)
