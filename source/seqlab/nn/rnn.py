"""The plain recurrent neural network (Elman RNN): one cell, and the parameters every cell shares.

.. math::

   h_t = \\tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})

Parameter names and shapes are ``torch.nn.RNNCell``'s (``weight_ih`` (H, I), ``weight_hh``
(H, H), ``bias_ih``, ``bias_hh``), so weights copy across with ``load_state_dict``.
The sequence wrappers live in :mod:`seqlab.nn.recurrent`.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn


def check_sizes(input_size: int, hidden_size: int) -> None:
    if input_size < 1:
        raise ValueError(f"input_size must be >= 1, got {input_size}")
    if hidden_size < 1:
        raise ValueError(f"hidden_size must be >= 1, got {hidden_size}")


class GatedCellBase(nn.Module):
    """Shared parameters of the RNN, LSTM and GRU cells: ``gates`` stacked blocks of size H.

    Initialised like torch: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)).
    """

    def __init__(self, input_size: int, hidden_size: int, gates: int, bias: bool = True) -> None:
        super().__init__()
        check_sizes(input_size, hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = nn.Parameter(torch.empty(gates * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(gates * hidden_size, hidden_size))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(gates * hidden_size))
            self.bias_hh = nn.Parameter(torch.empty(gates * hidden_size))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        bound = 1.0 / math.sqrt(hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def projections(self, x: torch.Tensor, h_prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``W_ih x + b_ih`` and ``W_hh h_prev + b_hh``, each (B, gates * H)."""
        if x.dim() != 2 or x.size(1) != self.input_size:
            raise ValueError(f"input must have shape (B, {self.input_size}), got {tuple(x.shape)}")
        gi = x @ self.weight_ih.T  # (B, G*H)
        gh = h_prev @ self.weight_hh.T  # (B, G*H)
        if self.bias:
            gi, gh = gi + self.bias_ih, gh + self.bias_hh
        return gi, gh

    def zeros(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.size(0), self.hidden_size)  # (B, H)

    def input_projection(self, x: torch.Tensor) -> torch.Tensor:
        """``W_ih x + b_ih``, (B, gates * H): the part of a step that does not need the state."""
        if x.dim() != 2 or x.size(1) != self.input_size:
            raise ValueError(f"input must have shape (B, {self.input_size}), got {tuple(x.shape)}")
        gi = x @ self.weight_ih.T  # (B, G*H)
        return gi + self.bias_ih if self.bias else gi

    def initial_state(self, gi: torch.Tensor):
        """The zero state for a batch of B rows (what ``hx=None`` means)."""
        return gi.new_zeros(gi.size(0), self.hidden_size)  # (B, H)

    def recur_params(self) -> dict:
        """The parameters that :meth:`recur` needs, by keyword (the recurrent layers pass their own)."""
        return {"weight_hh": self.weight_hh, "bias_hh": self.bias_hh}


class RNNCell(GatedCellBase):
    """One step of the Elman RNN: ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh") -> None:
        super().__init__(input_size, hidden_size, gates=1, bias=bias)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity

    def forward(self, input: torch.Tensor, hx: torch.Tensor | None = None) -> torch.Tensor:
        """``input`` (B, I), ``hx`` (B, H) or None for zeros → ``h`` (B, H)."""
        gi = self.input_projection(input)  # (B, H)
        return self.recur(gi, self.initial_state(gi) if hx is None else hx, **self.recur_params(),
                          nonlinearity=self.nonlinearity)

    @staticmethod
    def recur(gi: torch.Tensor, h_prev: torch.Tensor, weight_hh: torch.Tensor, bias_hh: torch.Tensor | None,
              nonlinearity: str = "tanh") -> torch.Tensor:
        """The sequential part of a step: ``gi`` = W_ih x_t + b_ih (B, H) given, add W_hh h_{t-1} + b_hh.

        ``bias_hh=None`` when the caller has already added it into ``gi`` (the layers do, once
        for all time steps)."""
        pre = torch.addmm(gi, h_prev, weight_hh.T) if bias_hh is None else torch.addmm(gi + bias_hh, h_prev, weight_hh.T)
        return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)
