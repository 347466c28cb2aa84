"""Every from-scratch recurrent cell and wrapper against the torch built-in with the same weights:
outputs, final states and gradients (of the input, the initial state and every parameter)."""

import itertools

import pytest
import torch
import torch.nn as nn

from seqlab.nn.lstm import GRUCell, LSTMCell, PeepholeLSTMCell
from seqlab.nn.recurrent import GRU, LSTM, RNN, PeepholeLSTM
from seqlab.nn.rnn import RNNCell

CELLS = [
    (RNNCell, nn.RNNCell, {}),
    (RNNCell, nn.RNNCell, {"nonlinearity": "relu"}),
    (LSTMCell, nn.LSTMCell, {}),
    (GRUCell, nn.GRUCell, {}),
]


def grads(module):
    return {name: p.grad.clone() for name, p in module.named_parameters()}


@pytest.mark.parametrize("ours_cls, torch_cls, kwargs", CELLS)
@pytest.mark.parametrize("batch, input_size, hidden_size", [(1, 3, 4), (5, 7, 2)])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
def test_cell_matches_torch(ours_cls, torch_cls, kwargs, batch, input_size, hidden_size, bias, with_state):
    torch.manual_seed(0)
    ref = torch_cls(input_size, hidden_size, bias=bias, **kwargs).double()
    ours = ours_cls(input_size, hidden_size, bias=bias, **kwargs).double()
    ours.load_state_dict(ref.state_dict())
    x1 = torch.randn(batch, input_size, dtype=torch.double, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_()
    is_lstm = ours_cls is LSTMCell
    state = None
    if with_state:
        h = torch.randn(batch, hidden_size, dtype=torch.double)
        state = (h, torch.randn_like(h)) if is_lstm else h
    out_ref, out_ours = ref(x1, state), ours(x2, state)
    torch.testing.assert_close(out_ours, out_ref)
    loss = lambda out: sum((o * torch.arange(o.numel(), dtype=o.dtype).view_as(o)).sum() for o in (out if is_lstm else (out,)))  # noqa: E731
    loss(out_ref).backward()
    loss(out_ours).backward()
    torch.testing.assert_close(x2.grad, x1.grad)
    for name, g in grads(ref).items():
        torch.testing.assert_close(grads(ours)[name], g, msg=name)


def test_peephole_cell_is_lstm_when_peepholes_are_zero_and_uses_them_otherwise():
    torch.manual_seed(0)
    lstm, peep = nn.LSTMCell(3, 4), PeepholeLSTMCell(3, 4)
    peep.load_state_dict(lstm.state_dict(), strict=False)
    x, h, c = torch.randn(2, 3), torch.randn(2, 4), torch.randn(2, 4)
    with torch.no_grad():
        for w in (peep.weight_ci, peep.weight_cf, peep.weight_co):
            w.zero_()
    torch.testing.assert_close(peep(x, (h, c)), lstm(x, (h, c)))
    with torch.no_grad():
        peep.weight_cf.fill_(1.0)
    # reference for the forget gate with a peephole, computed by hand
    gates = x @ lstm.weight_ih.T + lstm.bias_ih + h @ lstm.weight_hh.T + lstm.bias_hh
    i, f, g, o = gates.chunk(4, 1)
    c_ref = torch.sigmoid(f + c) * c + torch.sigmoid(i) * torch.tanh(g)
    torch.testing.assert_close(peep(x, (h, c))[1], c_ref)


WRAPPERS = [(RNN, nn.RNN), (LSTM, nn.LSTM), (GRU, nn.GRU)]


@pytest.mark.parametrize("ours_cls, torch_cls", WRAPPERS)
@pytest.mark.parametrize("num_layers, bidirectional, batch_first", list(itertools.product([1, 2], [False, True], [True, False])))
@pytest.mark.parametrize("batch, steps", [(1, 1), (3, 5)])
def test_sequence_wrapper_matches_torch(ours_cls, torch_cls, num_layers, bidirectional, batch_first, batch, steps):
    torch.manual_seed(1)
    I, H = 3, 4
    ref = torch_cls(I, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first).double()
    ours = ours_cls(I, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first).double()
    ours.load_torch_weights(ref)
    shape = (batch, steps, I) if batch_first else (steps, batch, I)
    x1 = torch.randn(*shape, dtype=torch.double, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_()
    D = 2 if bidirectional else 1
    h0 = torch.randn(num_layers * D, batch, H, dtype=torch.double)
    state = (h0, torch.randn_like(h0)) if ours_cls is LSTM else h0
    (out_ref, s_ref), (out_ours, s_ours) = ref(x1, state), ours(x2, state)
    torch.testing.assert_close(out_ours, out_ref)
    torch.testing.assert_close(s_ours, s_ref)
    w = torch.randn_like(out_ref)
    (out_ref * w).sum().backward()
    (out_ours * w).sum().backward()
    torch.testing.assert_close(x2.grad, x1.grad)
    ours_grads = grads(ours)
    for name, g in grads(ref).items():
        kind, layer = name.rsplit("_l", 1)
        idx = int(layer.split("_")[0]) * D + (1 if layer.endswith("reverse") else 0)
        torch.testing.assert_close(ours_grads[f"cells.{idx}.{kind}"], g, msg=name)


def test_parameter_count_matches_torch_and_the_lecture():
    # lecture 001: 4 x (32 x 16 + 16 x 16 + 16) = 3136 with one bias; torch keeps two bias vectors
    ours, ref = LSTM(32, 16), nn.LSTM(32, 16)
    count = sum(p.numel() for p in ours.parameters())
    assert count == sum(p.numel() for p in ref.parameters()) == 3136 + 4 * 16


def test_peephole_wrapper_runs_and_is_trainable():
    model = PeepholeLSTM(3, 4, num_layers=2, bidirectional=True)
    out, (h, c) = model(torch.randn(2, 6, 3))
    assert out.shape == (2, 6, 8) and h.shape == c.shape == (4, 2, 4)
    out.sum().backward()
    assert model.cells[0].weight_co.grad.abs().sum() > 0


@pytest.mark.parametrize("make, message", [
    (lambda: RNNCell(0, 4), "input_size"),
    (lambda: LSTMCell(3, 0), "hidden_size"),
    (lambda: RNNCell(3, 4, nonlinearity="sigmoid"), "nonlinearity"),
    (lambda: GRU(3, 4, num_layers=0), "num_layers"),
    (lambda: LSTM(3, 4, dropout=1.0), "dropout"),
])
def test_bad_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_inputs():
    with pytest.raises(ValueError, match="input"):
        GRUCell(3, 4)(torch.randn(2, 5))
    model = LSTM(3, 4)
    with pytest.raises(ValueError, match="input"):
        model(torch.randn(2, 3))
    with pytest.raises(ValueError, match="time step"):
        model(torch.randn(2, 0, 3))
    with pytest.raises(ValueError, match="initial state"):
        model(torch.randn(2, 5, 3), (torch.zeros(1, 3, 4), torch.zeros(1, 3, 4)))
