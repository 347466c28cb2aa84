"""Sequence wrappers that run a cell over time: layers, directions, dropout, initial state.

``RNN``, ``LSTM``, ``GRU`` and ``PeepholeLSTM`` take ``torch.nn.RNN``'s arguments
(``input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional``) and
return what it returns: ``output`` (B, T, D*H) and the final state ``h_n`` (L*D, B, H)
(for the LSTMs ``(h_n, c_n)``), with D = 2 when bidirectional. One difference: here
``batch_first`` defaults to True, the course's convention. ``load_torch_weights`` copies
the parameters of the matching torch module, so the two can be compared or swapped.

Layer l > 0 reads the concatenated outputs of layer l - 1, with dropout between layers
during training, as in torch.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from seqlab.nn.lstm import GRUCell, LSTMCell, PeepholeLSTMCell
from seqlab.nn.rnn import RNNCell, check_sizes

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class Recurrent(nn.Module):
    """A stack of ``num_layers`` cells per direction, run step by step over the sequence."""

    cell_class: type[nn.Module] = RNNCell
    has_cell_state = False

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
        self.batch_first, self.bidirectional = batch_first, bidirectional
        self.num_directions = 2 if bidirectional else 1
        self.dropout = nn.Dropout(dropout)
        self.cells = nn.ModuleList(
            self.cell_class(input_size if layer == 0 else hidden_size * self.num_directions, hidden_size, bias,
                            **cell_kwargs)
            for layer in range(num_layers)
            for _ in range(self.num_directions)
        )

    def _initial(self, hx: State | None, x: torch.Tensor) -> list:
        """One initial state per (layer, direction), from ``hx`` shaped (L*D, B, H) or zeros."""
        n, batch = self.num_layers * self.num_directions, x.size(0)
        if hx is None:
            return [None] * n
        parts = hx if self.has_cell_state else (hx,)
        for p in parts:
            if p.shape != (n, batch, self.hidden_size):
                raise ValueError(f"initial state must have shape {(n, batch, self.hidden_size)}, got {tuple(p.shape)}")
        if self.has_cell_state:
            return [(hx[0][k], hx[1][k]) for k in range(n)]
        return [hx[k] for k in range(n)]

    def forward(self, input: torch.Tensor, hx: State | None = None) -> tuple[torch.Tensor, State]:
        """``input`` (B, T, I) (or (T, B, I) when not batch_first) → ``(output, final state)``."""
        if input.dim() != 3 or input.size(-1) != self.input_size:
            raise ValueError(f"input must have shape (B, T, {self.input_size}), got {tuple(input.shape)}")
        x = input if self.batch_first else input.transpose(0, 1)  # (B, T, I)
        T = x.size(1)
        if T == 0:
            raise ValueError("input must have at least one time step")
        states = self._initial(hx, x)
        finals = []
        for layer in range(self.num_layers):
            outputs = []
            for d in range(self.num_directions):
                k = layer * self.num_directions + d
                cell, state, steps = self.cells[k], states[k], range(T) if d == 0 else range(T - 1, -1, -1)
                out = [None] * T
                for t in steps:
                    state = cell(x[:, t], state)
                    out[t] = state[0] if self.has_cell_state else state  # (B, H)
                outputs.append(torch.stack(out, dim=1))  # (B, T, H)
                finals.append(state)
            x = torch.cat(outputs, dim=-1)  # (B, T, D*H)
            if layer < self.num_layers - 1:
                x = self.dropout(x)
        output = x if self.batch_first else x.transpose(0, 1)
        if self.has_cell_state:
            return output, (torch.stack([h for h, _ in finals]), torch.stack([c for _, c in finals]))  # (L*D, B, H)
        return output, torch.stack(finals)  # (L*D, B, H)

    @torch.no_grad()
    def load_torch_weights(self, module: nn.Module) -> None:
        """Copy ``weight_ih_l0``, ``weight_hh_l0_reverse``, ... from a torch.nn.RNN/LSTM/GRU."""
        for layer in range(self.num_layers):
            for d in range(self.num_directions):
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                cell = self.cells[layer * self.num_directions + d]
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    ours = getattr(cell, name)
                    if ours is not None:
                        ours.copy_(getattr(module, name + suffix))


class RNN(Recurrent):
    """Stacked Elman RNN; ``nonlinearity`` ('tanh' or 'relu') as in ``torch.nn.RNN``."""

    cell_class = RNNCell


class LSTM(Recurrent):
    """Stacked LSTM, the counterpart of ``torch.nn.LSTM`` (without ``proj_size``)."""

    cell_class = LSTMCell
    has_cell_state = True


class PeepholeLSTM(LSTM):
    """Stacked LSTM with peephole connections (no torch counterpart)."""

    cell_class = PeepholeLSTMCell


class GRU(Recurrent):
    """Stacked GRU, the counterpart of ``torch.nn.GRU``."""

    cell_class = GRUCell


LAYERS: dict[str, type[Recurrent]] = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


def recurrent_layer(
    name: str, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0, builtin: bool = False
) -> nn.Module:
    """A batch-first recurrent layer by name (``"rnn"``, ``"lstm"``, ``"gru"``): seqlab's own, or
    with ``builtin=True`` the torch module of the same name (same maths, fused kernels)."""
    if name not in LAYERS:
        raise ValueError(f"recurrent must be one of {sorted(LAYERS)}, got {name!r}")
    cls = getattr(nn, name.upper()) if builtin else LAYERS[name]
    return cls(input_size, hidden_size, num_layers=num_layers, batch_first=True,
               dropout=dropout if num_layers > 1 else 0.0)
