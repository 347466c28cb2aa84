"""Many-to-one: read a whole sequence, predict one label (sentiment of a review, say).

``embedding → recurrent layer → the last real hidden state → linear``. With padding, the
"last" state of a sequence is the one at its own length, not at the padded end:

.. math::

   h_b = \\text{output}_{b,\\; \\ell_b - 1}, \\qquad \\hat y_b = W h_b + c
"""

from __future__ import annotations

import torch
import torch.nn as nn

from seqlab.nn.recurrent import recurrent_layer


class SequenceClassifier(nn.Module):
    """Embedding + RNN/LSTM/GRU + linear layer on the last real time step.

    ``recurrent`` picks ``seqlab``'s from-scratch layer by name, or pass ``builtin=True`` to use
    ``torch.nn.LSTM`` and friends (same maths, faster kernels). Unidirectional only: a backward
    direction would start on the padding of shorter sequences.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        num_classes: int,
        recurrent: str = "lstm",
        num_layers: int = 1,
        dropout: float = 0.0,
        pad_index: int = 0,
        builtin: bool = False,
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_index)
        self.rnn = recurrent_layer(recurrent, embed_dim, hidden_size, num_layers, dropout, builtin)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, num_classes)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``tokens`` (B, T) padded ids, ``lengths`` (B,) → logits (B, num_classes)."""
        x = self.embedding(tokens)  # (B, T, E)
        output, _ = self.rnn(x)  # (B, T, H)
        last = output[torch.arange(tokens.size(0)), lengths.to(output.device) - 1]  # (B, H)
        return self.out(self.dropout(last))  # (B, C)
