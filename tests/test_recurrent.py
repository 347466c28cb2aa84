"""Every from-scratch recurrent cell and layer against the torch built-in with the same weights (tanh
and ReLU RNNs, with and without biases): outputs, final states and gradients (through the outputs and
the final states; of the input, the initial state and every parameter), on full and padded batches
(lengths= against pack_padded_sequence); state dicts both ways. The peephole LSTM, which torch lacks,
against a hand-written reference (cell and stacked bidirectional layer, gradients included) and
gradcheck; cell views, and the errors for bad arguments."""

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
    state_ref = state_ours = None
    if with_state:  # an initial state that requires grad: its gradient is compared below
        h = torch.randn(batch, hidden_size, dtype=torch.double)
        parts = (h, torch.randn_like(h)) if is_lstm else (h,)
        parts_ref = tuple(t.clone().requires_grad_() for t in parts)
        parts_ours = tuple(t.clone().requires_grad_() for t in parts)
        state_ref, state_ours = (parts_ref, parts_ours) if is_lstm else (parts_ref[0], parts_ours[0])
    out_ref, out_ours = ref(x1, state_ref), ours(x2, state_ours)
    torch.testing.assert_close(out_ours, out_ref)
    loss = lambda out: sum((o * torch.arange(o.numel(), dtype=o.dtype).view_as(o)).sum() for o in (out if is_lstm else (out,)))  # noqa: E731
    loss(out_ref).backward()  # through h and, for the LSTM, c
    loss(out_ours).backward()
    torch.testing.assert_close(x2.grad, x1.grad)
    if with_state:
        for a, b in zip(parts_ours, parts_ref):
            torch.testing.assert_close(a.grad, b.grad)
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


def _as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def _loss(output, state, weights):
    """A weighted sum of the output and every final state: gradients flow back through all of them."""
    parts = (output, *_as_tuple(state))
    return sum((p * w).sum() for p, w in zip(parts, weights))


WRAPPER_CASES = [(*w, kwargs) for w in WRAPPERS for kwargs in ({}, {"bias": False})]
WRAPPER_CASES.append((RNN, nn.RNN, {"nonlinearity": "relu"}))


@pytest.mark.parametrize("ours_cls, torch_cls, kwargs", WRAPPER_CASES)
@pytest.mark.parametrize("num_layers, bidirectional, batch_first", list(itertools.product([1, 2], [False, True], [True, False])))
@pytest.mark.parametrize("batch, steps", [(1, 1), (3, 5)])
def test_sequence_wrapper_matches_torch(ours_cls, torch_cls, kwargs, num_layers, bidirectional, batch_first,
                                        batch, steps):
    """Outputs, h_n (and c_n), and the gradients through all of them w.r.t. the input, h_0 (and c_0)
    and every parameter."""
    torch.manual_seed(1)
    I, H = 3, 4
    kwargs = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, **kwargs)
    ref = torch_cls(I, H, **kwargs).double()
    ours = ours_cls(I, H, **kwargs).double()
    ours.load_torch_weights(ref)
    shape = (batch, steps, I) if batch_first else (steps, batch, I)
    x1 = torch.randn(*shape, dtype=torch.double, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_()
    D = 2 if bidirectional else 1
    h0 = torch.randn(num_layers * D, batch, H, dtype=torch.double)
    parts = (h0, torch.randn_like(h0)) if ours_cls is LSTM else (h0,)
    parts_ref = tuple(t.clone().requires_grad_() for t in parts)
    parts_ours = tuple(t.clone().requires_grad_() for t in parts)
    state_ref, state_ours = (parts_ref, parts_ours) if ours_cls is LSTM else (parts_ref[0], parts_ours[0])
    (out_ref, s_ref), (out_ours, s_ours) = ref(x1, state_ref), ours(x2, state_ours)
    torch.testing.assert_close(out_ours, out_ref)
    torch.testing.assert_close(s_ours, s_ref)
    weights = [torch.randn_like(t) for t in (out_ref, *_as_tuple(s_ref))]
    _loss(out_ref, s_ref, weights).backward()  # through the output and every final state
    _loss(out_ours, s_ours, weights).backward()
    torch.testing.assert_close(x2.grad, x1.grad)
    for a, b in zip(parts_ours, parts_ref):  # w.r.t. h_0 (and c_0)
        torch.testing.assert_close(a.grad, b.grad)
    ours_grads = grads(ours)
    assert ours_grads.keys() == grads(ref).keys()  # the same parameter names as torch
    for name, g in grads(ref).items():
        torch.testing.assert_close(ours_grads[name], g, msg=name)


@pytest.mark.parametrize("ours_cls, torch_cls", WRAPPERS)
@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (1, True), (2, True)])
@pytest.mark.parametrize("bias", [True, False])
def test_state_dicts_are_interchangeable_with_torch(ours_cls, torch_cls, num_layers, bidirectional, bias):
    torch.manual_seed(0)
    ref = torch_cls(3, 5, num_layers=num_layers, bidirectional=bidirectional, bias=bias, batch_first=True)
    ours = ours_cls(3, 5, num_layers=num_layers, bidirectional=bidirectional, bias=bias)
    assert list(ours.state_dict()) == list(ref.state_dict())  # names and order
    ours.load_state_dict(ref.state_dict())  # torch -> ours
    x = torch.randn(2, 4, 3)
    torch.testing.assert_close(ours(x)[0], ref(x)[0])
    with torch.no_grad():
        for p in ours.parameters():
            p.add_(0.1)
    ref.load_state_dict(ours.state_dict())  # ours -> torch
    torch.testing.assert_close(ref(x)[0], ours(x)[0])


def test_same_seed_gives_torch_initialisation():
    torch.manual_seed(3)
    ref = nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True)
    torch.manual_seed(3)
    ours = LSTM(3, 5, num_layers=2, bidirectional=True)
    for (name, a), (_, b) in zip(ref.named_parameters(), ours.named_parameters()):
        torch.testing.assert_close(b, a, msg=name)


@pytest.mark.parametrize("ours_cls, torch_cls", WRAPPERS)
@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (1, True), (2, False), (2, True)])
@pytest.mark.parametrize("with_state", [False, True])
def test_padded_batch_equals_packed_torch(ours_cls, torch_cls, num_layers, bidirectional, with_state):
    """lengths= gives pack_padded_sequence's numbers: outputs (zeros at padding), final states, and the
    gradients through the outputs and the final states, w.r.t. inputs, initial state and parameters."""
    torch.manual_seed(2)
    I, H, B, T = 3, 4, 4, 6
    ref = torch_cls(I, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=True).double()
    ours = ours_cls(I, H, num_layers=num_layers, bidirectional=bidirectional).double()
    ours.load_state_dict(ref.state_dict())
    lengths = torch.tensor([3, 6, 1, 4])  # unsorted, one at full length, one of a single step
    x1 = torch.randn(B, T, I, dtype=torch.double, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_()
    D = 2 if bidirectional else 1
    hx1 = hx2 = None
    if with_state:
        h0 = torch.randn(num_layers * D, B, H, dtype=torch.double, requires_grad=True)
        c0 = torch.randn_like(h0, requires_grad=True)
        hx1 = (h0, c0) if ours_cls is LSTM else h0
        h0b, c0b = h0.detach().clone().requires_grad_(), c0.detach().clone().requires_grad_()
        hx2 = (h0b, c0b) if ours_cls is LSTM else h0b
    packed = nn.utils.rnn.pack_padded_sequence(x1, lengths, batch_first=True, enforce_sorted=False)
    out_p, s_ref = ref(packed, hx1)
    out_ref, _ = nn.utils.rnn.pad_packed_sequence(out_p, batch_first=True, total_length=T)
    out_ours, s_ours = ours(x2, hx2, lengths=lengths)
    torch.testing.assert_close(out_ours, out_ref)
    assert out_ours[2, 1:].abs().sum() == 0  # padded steps are zero
    torch.testing.assert_close(s_ours, s_ref)
    torch.manual_seed(5)
    weights = [torch.randn_like(t) for t in (out_ref, *(s_ref if isinstance(s_ref, tuple) else (s_ref,)))]
    _loss(out_ref, s_ref, weights).backward()
    _loss(out_ours, s_ours, weights).backward()
    torch.testing.assert_close(x2.grad, x1.grad)
    if with_state:
        for a, b in zip(hx2 if isinstance(hx2, tuple) else (hx2,), hx1 if isinstance(hx1, tuple) else (hx1,)):
            torch.testing.assert_close(a.grad, b.grad)
    for name, g in grads(ref).items():
        torch.testing.assert_close(grads(ours)[name], g, msg=name)


def test_lengths_at_full_length_change_nothing_and_bad_lengths_are_refused():
    model = GRU(3, 4, bidirectional=True)
    x = torch.randn(2, 5, 3)
    torch.testing.assert_close(model(x, lengths=torch.tensor([5, 5]))[0], model(x)[0])
    torch.testing.assert_close(model(x, lengths=[5, 5])[1], model(x)[1])
    for bad, message in (([5], "shape"), ([0, 5], "between 1"), ([6, 2], "between 1")):
        with pytest.raises(ValueError, match=message):
            model(x, lengths=torch.tensor(bad))


def test_a_padded_sequence_gives_what_it_gives_alone():
    torch.manual_seed(0)
    model = LSTM(3, 4, bidirectional=True)
    short = torch.randn(1, 2, 3)
    batch = torch.cat([torch.cat([short, torch.randn(1, 3, 3)], dim=1), torch.randn(1, 5, 3)])  # junk after step 2
    out, (h, c) = model(batch, lengths=torch.tensor([2, 5]))
    out_alone, (h_alone, c_alone) = model(short)
    torch.testing.assert_close(out[:1, :2], out_alone)
    torch.testing.assert_close(h[:, :1], h_alone)


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU, PeepholeLSTM])
def test_cell_views_share_the_layer_parameters_and_step_like_it(cls):
    torch.manual_seed(0)
    model = cls(3, 4, num_layers=2)
    x = torch.randn(2, 5, 3)
    out, _ = model(x)
    cell0, cell1 = model.cell(0), model.cell(1)
    assert cell0.weight_hh is model.weight_hh_l0 and cell1.weight_ih is model.weight_ih_l1
    s0 = s1 = None
    for t in range(5):
        s0 = cell0(x[:, t], s0)
        s1 = cell1(s0[0] if isinstance(s0, tuple) else s0, s1)
    torch.testing.assert_close((s1[0] if isinstance(s1, tuple) else s1), out[:, -1])
    with pytest.raises(ValueError, match="no cell"):
        model.cell(2)


def test_parameter_count_matches_torch_and_the_lecture():
    # lecture 001: 4 x (32 x 16 + 16 x 16 + 16) = 3136 with one bias; torch keeps two bias vectors
    ours, ref = LSTM(32, 16), nn.LSTM(32, 16)
    count = sum(p.numel() for p in ours.parameters())
    assert count == sum(p.numel() for p in ref.parameters()) == 3136 + 4 * 16


def _peephole_step(x, h, c, p):
    """One peephole LSTM step written out (Gers & Schmidhuber): the input and forget gates look at
    c_{t-1}, the output gate at c_t; ``p`` holds one layer-direction's parameters by torch's names."""
    a = x @ p["weight_ih"].T + h @ p["weight_hh"].T
    if "bias_ih" in p:
        a = a + p["bias_ih"] + p["bias_hh"]
    a_i, a_f, a_g, a_o = a.chunk(4, 1)
    i = torch.sigmoid(a_i + p["weight_ci"] * c)
    f = torch.sigmoid(a_f + p["weight_cf"] * c)
    c = f * c + i * torch.tanh(a_g)
    o = torch.sigmoid(a_o + p["weight_co"] * c)
    return o * torch.tanh(c), c


def _peephole_reference(params, x, h0, c0, num_layers, num_directions):
    """A stacked (bi)directional peephole LSTM, batch first, from ``_peephole_step`` alone."""
    hs, cs = [], []
    for layer in range(num_layers):
        outputs = []
        for d in range(num_directions):
            k = layer * num_directions + d
            suffix = f"_l{layer}" + ("_reverse" if d else "")
            p = {name[: -len(suffix)]: v for name, v in params.items() if name.endswith(suffix)}
            h, c, out = h0[k], c0[k], [None] * x.size(1)
            for t in (reversed(range(x.size(1))) if d else range(x.size(1))):
                h, c = _peephole_step(x[:, t], h, c, p)
                out[t] = h
            outputs.append(torch.stack(out, dim=1))
            hs.append(h)
            cs.append(c)
        x = torch.cat(outputs, dim=-1)
    return x, (torch.stack(hs), torch.stack(cs))


@pytest.mark.parametrize("num_layers, bidirectional, bias", [(1, False, True), (2, True, True), (2, True, False)])
def test_peephole_layer_matches_a_hand_written_reference_with_gradients(num_layers, bidirectional, bias):
    """Outputs, h_n, c_n and the gradients through all three w.r.t. the input, h_0, c_0 and every
    parameter (the peepholes w_ci, w_cf, w_co of each layer and direction included)."""
    torch.manual_seed(6)
    I, H, B, T = 3, 4, 2, 5
    D = 2 if bidirectional else 1
    model = PeepholeLSTM(I, H, num_layers=num_layers, bidirectional=bidirectional, bias=bias).double()
    last = f"weight_co_l{num_layers - 1}" + ("_reverse" if bidirectional else "")
    assert model.cells[-1].weight_co is getattr(model, last)  # the cell views share the peepholes
    ref_params = {name: p.detach().clone().requires_grad_() for name, p in model.named_parameters()}
    assert {"weight_ci_l0", "weight_cf_l0", "weight_co_l0"} <= ref_params.keys()
    inputs = [torch.randn(B, T, I, dtype=torch.double), torch.randn(num_layers * D, B, H, dtype=torch.double),
              torch.randn(num_layers * D, B, H, dtype=torch.double)]
    ours_in = [t.clone().requires_grad_() for t in inputs]
    ref_in = [t.clone().requires_grad_() for t in inputs]
    out, (h, c) = model(ours_in[0], (ours_in[1], ours_in[2]))
    out_ref, (h_ref, c_ref) = _peephole_reference(ref_params, *ref_in, num_layers, D)
    torch.testing.assert_close(out, out_ref)
    torch.testing.assert_close(h, h_ref)
    torch.testing.assert_close(c, c_ref)
    weights = [torch.randn_like(t) for t in (out, h, c)]
    _loss(out, (h, c), weights).backward()
    _loss(out_ref, (h_ref, c_ref), weights).backward()
    for a, b in zip(ours_in, ref_in):
        torch.testing.assert_close(a.grad, b.grad)
    for name, p in model.named_parameters():
        assert p.grad.abs().sum() > 0, name
        torch.testing.assert_close(p.grad, ref_params[name].grad, msg=name)


def test_peephole_layer_passes_gradcheck():
    """Finite differences (float64) agree with autograd through a two-layer bidirectional peephole
    layer, w.r.t. the input, h_0, c_0 and every parameter, the peepholes included."""
    torch.manual_seed(7)
    model = PeepholeLSTM(2, 2, num_layers=2, bidirectional=True).double()
    names = [name for name, _ in model.named_parameters()]

    def run(x, h0, c0, *params):
        out, (h, c) = torch.func.functional_call(model, dict(zip(names, params)), (x, (h0, c0)))
        return out, h, c

    inputs = (torch.randn(2, 3, 2, dtype=torch.double), torch.randn(4, 2, 2, dtype=torch.double),
              torch.randn(4, 2, 2, dtype=torch.double), *(p.detach() for p in model.parameters()))
    assert torch.autograd.gradcheck(run, tuple(t.clone().requires_grad_() for t in inputs))


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


def test_peephole_layer_with_lengths_gives_each_sequence_what_it_gives_alone():
    torch.manual_seed(0)
    model = PeepholeLSTM(3, 4, bidirectional=True, num_layers=2)
    x = torch.randn(3, 6, 3)
    lengths = torch.tensor([6, 2, 4])
    out, (h, c) = model(x, lengths=lengths)
    for b, n in enumerate(lengths.tolist()):
        alone, (h1, c1) = model(x[b:b + 1, :n])
        torch.testing.assert_close(out[b:b + 1, :n], alone)
        torch.testing.assert_close(h[:, b:b + 1], h1)
        torch.testing.assert_close(c[:, b:b + 1], c1)
        assert out[b, n:].abs().sum() == 0


@pytest.mark.parametrize("kwargs", [dict(nonlinearity="relu"), dict(bias=False), dict(nonlinearity="relu", bias=False)])
def test_relu_and_bias_free_layers_match_torch_with_gradients(kwargs):
    torch.manual_seed(4)
    ref = nn.RNN(3, 4, num_layers=2, bidirectional=True, batch_first=True, **kwargs).double()
    ours = RNN(3, 4, num_layers=2, bidirectional=True, **kwargs).double()
    ours.load_state_dict(ref.state_dict())
    x1 = torch.randn(2, 5, 3, dtype=torch.double, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_()
    h1 = torch.randn(4, 2, 4, dtype=torch.double, requires_grad=True)
    h2 = h1.detach().clone().requires_grad_()
    (o1, s1), (o2, s2) = ref(x1, h1), ours(x2, h2)
    torch.testing.assert_close(o2, o1)
    ((o1 ** 2).sum() + (s1 * 3).sum()).backward()
    ((o2 ** 2).sum() + (s2 * 3).sum()).backward()
    torch.testing.assert_close(x2.grad, x1.grad)
    torch.testing.assert_close(h2.grad, h1.grad)
    for name, g in grads(ref).items():
        torch.testing.assert_close(grads(ours)[name], g, msg=name)


def test_peephole_cell_matches_a_hand_written_reference_and_gradcheck():
    torch.manual_seed(5)
    cell = PeepholeLSTMCell(3, 4).double()
    x = torch.randn(2, 3, dtype=torch.double)
    h, c = torch.randn(2, 4, dtype=torch.double), torch.randn(2, 4, dtype=torch.double)
    a = x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
    a_i, a_f, a_g, a_o = a.chunk(4, 1)
    i = torch.sigmoid(a_i + cell.weight_ci * c)
    f = torch.sigmoid(a_f + cell.weight_cf * c)
    c_new = f * c + i * torch.tanh(a_g)
    o = torch.sigmoid(a_o + cell.weight_co * c_new)
    h_ref, c_ref = o * torch.tanh(c_new), c_new
    h_ours, c_ours = cell(x, (h, c))
    torch.testing.assert_close(h_ours, h_ref)
    torch.testing.assert_close(c_ours, c_ref)

    def run(w_ci, w_cf, w_co, x, h, c):
        params = {**cell.recur_params(), "weight_ci": w_ci, "weight_cf": w_cf, "weight_co": w_co}
        return PeepholeLSTMCell.recur(cell.input_projection(x), (h, c), **params)

    inputs = tuple(t.detach().clone().requires_grad_() for t in (cell.weight_ci, cell.weight_cf, cell.weight_co, x, h, c))
    assert torch.autograd.gradcheck(run, inputs)
