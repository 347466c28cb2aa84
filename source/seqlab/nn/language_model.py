"""A recurrent language model: embedding → stacked RNN/LSTM/GRU → dropout → linear.

It predicts token t+1 from tokens ≤ t. Training uses teacher forcing: the input is the true
sequence shifted right (``<bos> w_1 … w_{T-1}``), the target the sequence itself
(``w_1 … w_T``), and the loss is the mean cross-entropy over real (non-``<pad>``) targets:

.. math::

   \\mathcal{L} = -\\frac{1}{N} \\sum_{b,t:\\, y_{b,t} \\ne \\text{pad}} \\log p(y_{b,t} \\mid y_{b,<t}),
   \\qquad \\text{perplexity} = e^{\\mathcal{L}}
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from seqlab.nn.recurrent import recurrent_layer


def _swap_batch(state):
    """(L, N, H) ↔ (N, L, H) for a state tensor, each tensor of a tuple, or None."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(_swap_batch(s) for s in state)
    return state.transpose(0, 1).contiguous()


class RNNLanguageModel(nn.Module):
    """Token-level language model (the architecture of lecture 004: embedding + stacked LSTM + dropout + dense).

    ``tie_weights=True`` makes the output layer use the embedding matrix (needs
    ``embed_dim == hidden_size``): fewer parameters, and on small corpora a lower perplexity.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        num_layers: int = 1,
        dropout: float = 0.0,
        recurrent: str = "lstm",
        pad_index: int = 0,
        builtin: bool = False,
        tie_weights: bool = False,
    ) -> None:
        super().__init__()
        if tie_weights and embed_dim != hidden_size:
            raise ValueError(f"tie_weights needs embed_dim == hidden_size, got {embed_dim} and {hidden_size}")
        self.pad_index = pad_index
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_index)
        self.rnn = recurrent_layer(recurrent, embed_dim, hidden_size, num_layers, dropout, builtin)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, vocab_size)
        if tie_weights:  # one (V, E) matrix reads words in and scores them out (Press & Wolf 2017)
            self.out.weight = self.embedding.weight

    def forward(self, tokens: torch.Tensor, state=None):
        """``tokens`` (B, T) → logits (B, T, V) and the final recurrent state."""
        x = self.dropout(self.embedding(tokens))  # (B, T, E)
        output, state = self.rnn(x, state)  # (B, T, H)
        return self.out(self.dropout(output)), state  # (B, T, V)

    def step(self, token: torch.Tensor, state=None):
        """One generation step: ``token`` (B,) → logits (B, V) and the new state."""
        logits, state = self(token.unsqueeze(1), state)  # (B, 1, V)
        return logits[:, 0], state

    def decode_step(self, tokens: torch.Tensor, state=None):
        """The interface of :mod:`seqlab.decoding`: ``tokens`` (N,) → log-probabilities (N, V) and
        the state **batch first**: (N, L, H), a pair of them for an LSTM. torch's recurrent layers
        keep it as (L, N, H), so it is transposed on the way in and out; beam search can then pick
        rows with ``index_select(0, ...)``."""
        logits, state = self.step(tokens.to(self.out.weight.device), _swap_batch(state))  # (N, V)
        return logits.log_softmax(dim=-1), _swap_batch(state)

    def loss(self, inputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Mean cross-entropy over non-pad targets, and how many there were (for perplexity)."""
        logits, _ = self(inputs)  # (B, T, V)
        n = int((targets != self.pad_index).sum())
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=self.pad_index)
        return loss, n
