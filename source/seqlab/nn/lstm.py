"""Gated cells: the LSTM (Hochreiter & Schmidhuber 1997), its peephole variant and the GRU.

LSTM, with σ the logistic sigmoid and ⊙ the element-wise product:

.. math::

   i_t &= \\sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi})            && \\text{input gate} \\\\
   f_t &= \\sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf})            && \\text{forget gate} \\\\
   \\tilde c_t &= \\tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg})     && \\text{candidate} \\\\
   o_t &= \\sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho})            && \\text{output gate} \\\\
   c_t &= f_t \\odot c_{t-1} + i_t \\odot \\tilde c_t                        && \\text{memory line} \\\\
   h_t &= o_t \\odot \\tanh(c_t)

The four blocks are stacked in torch's order (i, f, g, o) in ``weight_ih`` (4H, I) and
``weight_hh`` (4H, H), so ``load_state_dict`` copies weights from ``torch.nn.LSTMCell``.

GRU (Cho et al. 2014), blocks in torch's order (r, z, n):

.. math::

   r_t &= \\sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr})  && \\text{reset gate} \\\\
   z_t &= \\sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})  && \\text{update gate} \\\\
   n_t &= \\tanh(W_{in} x_t + b_{in} + r_t \\odot (W_{hn} h_{t-1} + b_{hn})) \\\\
   h_t &= (1 - z_t) \\odot n_t + z_t \\odot h_{t-1}
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from seqlab.nn.rnn import GatedCellBase


class LSTMCell(GatedCellBase):
    """One LSTM step; parameters named and shaped as ``torch.nn.LSTMCell``'s."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, gates=4, bias=bias)

    def gate_inputs(self, input: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None):
        """The four pre-activations (i, f, g, o), each (B, H), and ``c_prev``."""
        h_prev, c_prev = (self.zeros(input), self.zeros(input)) if hx is None else hx
        gi, gh = self.projections(input, h_prev)  # (B, 4H) each
        return (*(gi + gh).chunk(4, dim=1), c_prev)

    def forward(
        self, input: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``input`` (B, I), ``hx = (h_prev, c_prev)`` each (B, H) or None → ``(h, c)``."""
        i, f, g, o, c_prev = self.gate_inputs(input, hx)  # (B, H) each
        i, f, c_tilde, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c_prev + i * c_tilde  # (B, H)
        h = o * torch.tanh(c)  # (B, H)
        return h, c


class PeepholeLSTMCell(LSTMCell):
    """LSTM whose gates also look at the memory cell (Gers & Schmidhuber 2000):

    ``i_t = σ(... + w_ci ⊙ c_{t-1})``, ``f_t = σ(... + w_cf ⊙ c_{t-1})``,
    ``o_t = σ(... + w_co ⊙ c_t)``, with diagonal (vector) peephole weights.
    torch has no peephole LSTM; with the peepholes at zero this is exactly ``LSTMCell``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, bias)
        bound = 1.0 / math.sqrt(hidden_size)
        self.weight_ci = nn.Parameter(torch.empty(hidden_size).uniform_(-bound, bound))
        self.weight_cf = nn.Parameter(torch.empty(hidden_size).uniform_(-bound, bound))
        self.weight_co = nn.Parameter(torch.empty(hidden_size).uniform_(-bound, bound))

    def forward(
        self, input: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        i, f, g, o, c_prev = self.gate_inputs(input, hx)  # (B, H) each
        i = torch.sigmoid(i + self.weight_ci * c_prev)
        f = torch.sigmoid(f + self.weight_cf * c_prev)
        c = f * c_prev + i * torch.tanh(g)  # (B, H)
        o = torch.sigmoid(o + self.weight_co * c)
        h = o * torch.tanh(c)  # (B, H)
        return h, c


class GRUCell(GatedCellBase):
    """One GRU step; parameters named and shaped as ``torch.nn.GRUCell``'s."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, gates=3, bias=bias)

    def forward(self, input: torch.Tensor, hx: torch.Tensor | None = None) -> torch.Tensor:
        """``input`` (B, I), ``hx`` (B, H) or None → ``h`` (B, H)."""
        h_prev = self.zeros(input) if hx is None else hx
        gi, gh = self.projections(input, h_prev)  # (B, 3H) each
        i_r, i_z, i_n = gi.chunk(3, dim=1)  # (B, H) each
        h_r, h_z, h_n = gh.chunk(3, dim=1)  # (B, H) each
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        return (1 - z) * n + z * h_prev
