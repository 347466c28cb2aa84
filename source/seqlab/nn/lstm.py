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
    """One LSTM step; parameters named and shaped as ``torch.nn.LSTMCell``'s.

    ``forward(x, (h, c))`` is one whole step. It is split in two so that a layer can run the
    first part for every time step at once: :meth:`input_projection` (``W_ih x + b_ih``, no
    state needed) and :meth:`recur` (the rest, which needs ``h_{t-1}`` and ``c_{t-1}``).
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, gates=4, bias=bias)

    def initial_state(self, gi: torch.Tensor):
        zero = gi.new_zeros(gi.size(0), self.hidden_size)  # (B, H)
        return zero, zero

    def gate_inputs(self, input: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None):
        """The four pre-activations (i, f, g, o), each (B, H), and ``c_prev``: for looking inside a step."""
        gi = self.input_projection(input)  # (B, 4H)
        h_prev, c_prev = self.initial_state(gi) if hx is None else hx
        _, gh = self.projections(input, h_prev)  # (B, 4H)
        return (*(gi + gh).chunk(4, dim=1), c_prev)

    def forward(
        self, input: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``input`` (B, I), ``hx = (h_prev, c_prev)`` each (B, H) or None → ``(h, c)``."""
        gi = self.input_projection(input)  # (B, 4H)
        return self.recur(gi, self.initial_state(gi) if hx is None else hx, **self.recur_params())

    @staticmethod
    def recur(gi: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor], weight_hh: torch.Tensor,
              bias_hh: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """``gi`` = W_ih x_t + b_ih (B, 4H) given: the gates, the memory line and ``h_t``.

        ``bias_hh=None`` when it is already inside ``gi``."""
        h_prev, c_prev = hx
        gates = torch.addmm(gi if bias_hh is None else gi + bias_hh, h_prev, weight_hh.T)  # (B, 4H)
        i, f, g, o = gates.chunk(4, dim=1)  # (B, H) each, torch's order
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

    def recur_params(self) -> dict:
        return {**super().recur_params(), "weight_ci": self.weight_ci, "weight_cf": self.weight_cf,
                "weight_co": self.weight_co}

    @staticmethod
    def recur(gi, hx, weight_hh, bias_hh, weight_ci, weight_cf, weight_co):
        h_prev, c_prev = hx
        gates = torch.addmm(gi if bias_hh is None else gi + bias_hh, h_prev, weight_hh.T)  # (B, 4H)
        i, f, g, o = gates.chunk(4, dim=1)  # (B, H) each
        i = torch.sigmoid(i + weight_ci * c_prev)
        f = torch.sigmoid(f + weight_cf * c_prev)
        c = f * c_prev + i * torch.tanh(g)  # (B, H)
        o = torch.sigmoid(o + weight_co * c)
        h = o * torch.tanh(c)  # (B, H)
        return h, c


class GRUCell(GatedCellBase):
    """One GRU step; parameters named and shaped as ``torch.nn.GRUCell``'s."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, gates=3, bias=bias)

    def forward(self, input: torch.Tensor, hx: torch.Tensor | None = None) -> torch.Tensor:
        """``input`` (B, I), ``hx`` (B, H) or None → ``h`` (B, H)."""
        gi = self.input_projection(input)  # (B, 3H)
        return self.recur(gi, self.initial_state(gi) if hx is None else hx, **self.recur_params())

    @staticmethod
    def recur(gi: torch.Tensor, h_prev: torch.Tensor, weight_hh: torch.Tensor,
              bias_hh: torch.Tensor | None) -> torch.Tensor:
        """``gi`` = W_ih x_t + b_ih (B, 3H) given. Unlike the LSTM's, ``b_hh`` cannot be folded into
        ``gi`` ahead of time: ``b_hn`` sits inside ``r ⊙ (W_hn h + b_hn)``."""
        gh = h_prev @ weight_hh.T if bias_hh is None else torch.addmm(bias_hh, h_prev, weight_hh.T)  # (B, 3H)
        i_r, i_z, i_n = gi.chunk(3, dim=1)  # (B, H) each
        h_r, h_z, h_n = gh.chunk(3, dim=1)  # (B, H) each
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        return (1 - z) * n + z * h_prev
