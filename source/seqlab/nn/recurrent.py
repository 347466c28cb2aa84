r"""Sequence wrappers that run a cell over time: layers, directions, dropout, initial state, padding.

``RNN``, ``LSTM``, ``GRU`` and ``PeepholeLSTM`` take ``torch.nn.RNN``'s arguments
(``input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional``) and
return what it returns: ``output`` (B, T, D*H) and the final state ``h_n`` (L*D, B, H)
(for the LSTMs ``(h_n, c_n)``), with D = 2 when bidirectional. One difference: here
``batch_first`` defaults to True, the course's convention (``hx`` and ``h_n`` are (L*D, B, H)
either way, as in torch).

**Same parameters as torch.** The weights are stored under torch's names (``weight_ih_l0``,
``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``, ``weight_ih_l1_reverse``, ...) in torch's order
and initialisation, so ``ours.load_state_dict(torch_lstm.state_dict())`` and the reverse both
work, and a model trained with the fused built-in reads into this one. :meth:`Recurrent.cell`
gives the cell of one layer and direction, sharing those parameters, to step by hand.

**Padding.** ``forward(input, hx, lengths=)`` with ``lengths`` (B,) treats ``input[b, t]`` for
``t >= lengths[b]`` as padding, exactly as ``torch.nn.utils.rnn.pack_padded_sequence`` does:

.. math::

   s_{b,t} = \begin{cases} \text{cell}(x_{b,t}, s_{b,t-1}) & t < \ell_b \\ s_{b,t-1} & t \ge \ell_b \end{cases}
   \qquad \text{output}_{b,t} = 0 \text{ for } t \ge \ell_b

so the final state is each sequence's state at its own last real step, and the reverse direction
(run from t = T-1 down to 0 with the same rule) starts at each sequence's own end.

**Only the recurrence is sequential.** ``W_ih x_t + b_ih`` does not depend on the state, so a
layer computes it for every time step in one matrix product, (B·T, I) × (I, G·H), before the loop;
the loop is left with ``W_hh h_{t-1}`` and the gates. (For the RNN and the LSTM, ``b_hh`` is added
then too; the GRU's ``b_hn`` sits inside ``r ⊙ (W_hn h + b_hn)`` and stays in the loop.) This is
the first thing cuDNN does as well; it then fuses the per-step work into one kernel.

Layer l > 0 reads the concatenated outputs of layer l - 1, with dropout between layers
during training, as in torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn as nn

from seqlab.nn.lstm import GRUCell, LSTMCell, PeepholeLSTMCell
from seqlab.nn.rnn import RNNCell, check_sizes

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class Recurrent(nn.Module):
    """A stack of ``num_layers`` recurrent layers per direction, run step by step over the sequence."""

    cell_class: type[nn.Module] = RNNCell
    has_cell_state = False
    gates = 1
    extra_weights: tuple[str, ...] = ()  # per-layer vectors beyond torch's four (the peepholes)
    fold_bias_hh = True  # b_hh can join W_ih x + b_ih before the loop (not for the GRU)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        **cell_kwargs,
    ) -> None:
        super().__init__()
        check_sizes(input_size, hidden_size)
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bidirectional
        self.num_directions = 2 if bidirectional else 1
        self.cell_kwargs = cell_kwargs
        self.dropout = nn.Dropout(dropout)
        G, H = self.gates, hidden_size
        bound = 1.0 / math.sqrt(hidden_size)
        for layer in range(num_layers):
            width = input_size if layer == 0 else hidden_size * self.num_directions
            for d in range(self.num_directions):
                suffix = self._suffix(layer, d)
                shapes = [("weight_ih", (G * H, width)), ("weight_hh", (G * H, H))]
                if bias:
                    shapes += [("bias_ih", (G * H,)), ("bias_hh", (G * H,))]
                shapes += [(name, (H,)) for name in self.extra_weights]
                for name, shape in shapes:  # torch's order and U(-1/√H, 1/√H): same draws as torch
                    self.register_parameter(name + suffix, nn.Parameter(torch.empty(shape).uniform_(-bound, bound)))

    @staticmethod
    def _suffix(layer: int, direction: int) -> str:
        return f"_l{layer}" + ("_reverse" if direction else "")

    def _params(self, layer: int, direction: int) -> dict[str, torch.Tensor | None]:
        suffix = self._suffix(layer, direction)
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", *self.extra_weights)
        return {name: getattr(self, name + suffix, None) for name in names}

    def cell(self, layer: int = 0, direction: int = 0) -> nn.Module:
        """The cell of one layer and direction as a module that *shares* this layer's parameters:
        stepping it by hand gives the layer's numbers, and training one trains the other."""
        if not (0 <= layer < self.num_layers and 0 <= direction < self.num_directions):
            raise ValueError(f"no cell at layer {layer}, direction {direction}: this layer has "
                             f"{self.num_layers} layer(s) and {self.num_directions} direction(s)")
        width = self.input_size if layer == 0 else self.hidden_size * self.num_directions
        cell = self.cell_class(width, self.hidden_size, self.bias, **self.cell_kwargs)
        for name, p in self._params(layer, direction).items():
            if p is not None:
                setattr(cell, name, p)  # the same Parameter object, not a copy
        return cell

    @property
    def cells(self) -> list[nn.Module]:
        """Every cell, layer by layer and direction by direction (see :meth:`cell`)."""
        return [self.cell(l, d) for l in range(self.num_layers) for d in range(self.num_directions)]

    def _initial(self, hx: State | None, x: torch.Tensor) -> list:
        """One initial state per (layer, direction), from ``hx`` shaped (L*D, B, H) or zeros."""
        n, batch = self.num_layers * self.num_directions, x.size(0)
        if hx is None:
            zero = x.new_zeros(batch, self.hidden_size)  # (B, H)
            return [(zero, zero) if self.has_cell_state else zero] * n
        parts = hx if self.has_cell_state else (hx,)
        if self.has_cell_state and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise ValueError("an LSTM's initial state must be a pair (h_0, c_0)")
        for p in parts:
            if p.shape != (n, batch, self.hidden_size):
                raise ValueError(f"initial state must have shape {(n, batch, self.hidden_size)}, got {tuple(p.shape)}")
        if self.has_cell_state:
            return [(hx[0][k], hx[1][k]) for k in range(n)]
        return [hx[k] for k in range(n)]

    def _mask(self, lengths, batch: int, steps: int, device) -> torch.Tensor | None:
        """(T, B, 1) bool, True at real steps; None when nothing is padded."""
        if lengths is None:
            return None
        lengths = torch.as_tensor(lengths).to(device=device, dtype=torch.long)
        if lengths.shape != (batch,):
            raise ValueError(f"lengths must have shape ({batch},), one per sequence, got {tuple(lengths.shape)}")
        if batch and (int(lengths.min()) < 1 or int(lengths.max()) > steps):
            raise ValueError(f"lengths must be between 1 and the padded length {steps}, got "
                             f"{lengths.min().item()} to {lengths.max().item()}")
        if batch == 0 or bool((lengths == steps).all()):
            return None
        return (torch.arange(steps, device=device).unsqueeze(1) < lengths).unsqueeze(-1)  # (T, B, 1)

    def _run(self, gi: torch.Tensor, state, params: dict, mask: torch.Tensor | None, reverse: bool):
        """The sequential loop of one layer and direction over ``gi`` (T, B, G*H)."""
        recur, T = self.cell_class.recur, gi.size(0)
        steps = gi.unbind(0)  # T views; unbind's backward stacks their gradients once (gi[t] would
        # make every step's backward write a zero-filled (T, B, G*H) tensor: quadratic in T)
        weight_hh, bias_hh = params["weight_hh"], params["bias_hh"]
        extra = {name: params[name] for name in self.extra_weights}
        extra.update({k: v for k, v in self.cell_kwargs.items()})
        if self.fold_bias_hh:
            bias_hh = None  # already inside gi
        masks = None if mask is None else mask.unbind(0)
        out = [None] * T
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            new = recur(steps[t], state, weight_hh, bias_hh, **extra)
            if mask is None:
                state = new
                out[t] = new[0] if self.has_cell_state else new  # (B, H)
            else:
                m = masks[t]  # (B, 1): padded rows keep their state and output zeros
                if self.has_cell_state:
                    state = (torch.where(m, new[0], state[0]), torch.where(m, new[1], state[1]))
                    out[t] = new[0] * m
                else:
                    state = torch.where(m, new, state)
                    out[t] = new * m
        return torch.stack(out, dim=1), state  # (B, T, H)

    def forward(
        self, input: torch.Tensor, hx: State | None = None, lengths: torch.Tensor | Sequence[int] | None = None
    ) -> tuple[torch.Tensor, State]:
        """``input`` (B, T, I) (or (T, B, I) when not batch_first), optional ``hx`` (L*D, B, H) and
        ``lengths`` (B,) → ``(output (B, T, D*H), final state)``; see the module docstring for padding."""
        if input.dim() != 3 or input.size(-1) != self.input_size:
            raise ValueError(f"input must have shape (B, T, {self.input_size}), got {tuple(input.shape)}")
        x = input if self.batch_first else input.transpose(0, 1)  # (B, T, I)
        B, T = x.size(0), x.size(1)
        if T == 0:
            raise ValueError("input must have at least one time step")
        mask = self._mask(lengths, B, T, x.device)
        states = self._initial(hx, x)
        finals = []
        for layer in range(self.num_layers):
            x_time = x.transpose(0, 1)  # (T, B, width): gi[t] below is then one contiguous block
            outputs = []
            for d in range(self.num_directions):
                p = self._params(layer, d)
                bias = None
                if p["bias_ih"] is not None:
                    bias = p["bias_ih"] + p["bias_hh"] if self.fold_bias_hh else p["bias_ih"]
                # every time step's input projection in one matrix product: (T*B, width) @ (width, G*H)
                flat = x_time.reshape(T * B, -1)
                gi = (flat @ p["weight_ih"].T if bias is None else torch.addmm(bias, flat, p["weight_ih"].T))
                out, state = self._run(gi.view(T, B, -1), states[layer * self.num_directions + d], p, mask, d == 1)
                outputs.append(out)
                finals.append(state)
            x = torch.cat(outputs, dim=-1) if self.num_directions == 2 else outputs[0]  # (B, T, D*H)
            if layer < self.num_layers - 1:
                x = self.dropout(x)
        output = x if self.batch_first else x.transpose(0, 1)
        if self.has_cell_state:
            return output, (torch.stack([h for h, _ in finals]), torch.stack([c for _, c in finals]))  # (L*D, B, H)
        return output, torch.stack(finals)  # (L*D, B, H)

    @torch.no_grad()
    def load_torch_weights(self, module: nn.Module) -> None:
        """Copy ``weight_ih_l0``, ``weight_hh_l0_reverse``, ... from a torch.nn.RNN/LSTM/GRU
        (the same as ``load_state_dict(module.state_dict())``, but a peephole layer keeps its peepholes)."""
        self.load_state_dict(module.state_dict(), strict=not self.extra_weights)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.bidirectional:
            s += ", bidirectional=True"
        if self.dropout.p:
            s += f", dropout={self.dropout.p}"
        return s + f", batch_first={self.batch_first}"


class RNN(Recurrent):
    """Stacked Elman RNN; ``nonlinearity`` ('tanh' or 'relu') as in ``torch.nn.RNN``."""

    cell_class = RNNCell

    def __init__(self, *args, nonlinearity: str = "tanh", **kwargs) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(*args, nonlinearity=nonlinearity, **kwargs)


class LSTM(Recurrent):
    """Stacked LSTM, the counterpart of ``torch.nn.LSTM`` (without ``proj_size``)."""

    cell_class = LSTMCell
    has_cell_state = True
    gates = 4


class PeepholeLSTM(LSTM):
    """Stacked LSTM with peephole connections (no torch counterpart)."""

    cell_class = PeepholeLSTMCell
    extra_weights = ("weight_ci", "weight_cf", "weight_co")


class GRU(Recurrent):
    """Stacked GRU, the counterpart of ``torch.nn.GRU``."""

    cell_class = GRUCell
    gates = 3
    fold_bias_hh = False


LAYERS: dict[str, type[Recurrent]] = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


def recurrent_layer(
    name: str, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0, builtin: bool = False,
    bidirectional: bool = False,
) -> nn.Module:
    """A batch-first recurrent layer by name (``"rnn"``, ``"lstm"``, ``"gru"``): seqlab's own, or
    with ``builtin=True`` the torch module of the same name (same maths, same parameter names,
    fused kernels). Run either on a padded batch with :func:`run_padded`."""
    if name not in LAYERS:
        raise ValueError(f"recurrent must be one of {sorted(LAYERS)}, got {name!r}")
    cls = getattr(nn, name.upper()) if builtin else LAYERS[name]
    return cls(input_size, hidden_size, num_layers=num_layers, batch_first=True,
               dropout=dropout if num_layers > 1 else 0.0, bidirectional=bidirectional)


def run_padded(rnn: nn.Module, x: torch.Tensor, lengths: torch.Tensor | None, hx: State | None = None):
    """Run a batch-first recurrent layer on a padded batch ``x`` (B, T, I) with ``lengths`` (B,):
    seqlab's layers take ``lengths=`` directly; torch's get ``pack_padded_sequence`` and back, with
    the same result (zeros at padded steps, each sequence's own final state)."""
    if lengths is None:
        return rnn(x, hx)
    if isinstance(rnn, Recurrent):
        return rnn(x, hx, lengths=lengths)
    packed = nn.utils.rnn.pack_padded_sequence(x, torch.as_tensor(lengths).cpu(), batch_first=True,
                                               enforce_sorted=False)
    out, state = rnn(packed, hx)
    out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
    return out, state


def last_hidden(state: State, num_directions: int = 1) -> torch.Tensor:
    """The top layer's final hidden state from ``h_n`` (L*D, B, H) (or ``(h_n, c_n)``): (B, D*H),
    forward and backward directions side by side."""
    h_n = state[0] if isinstance(state, tuple) else state
    return torch.cat(list(h_n[-num_directions:]), dim=-1)
