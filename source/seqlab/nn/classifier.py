"""Many-to-one: read a whole sequence, predict one label (sentiment of a review, say).

``embedding → recurrent layer → the last real hidden state → linear``. With padding, the
"last" state of a sequence is the one at its own length, not at the padded end:

.. math::

   h_b = \\text{output}_{b,\\; \\ell_b - 1}, \\qquad \\hat y_b = W h_b + c

The recurrent layer is given the lengths, so its final state is exactly that. A bidirectional
classifier puts the forward direction's state at ``ℓ_b - 1`` next to the backward direction's
state at step 0 (which has read the whole sequence from its own end): ``[h→ ; h←]``, width 2H.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from seqlab.nn.recurrent import last_hidden, recurrent_layer, run_padded


class SequenceClassifier(nn.Module):
    """Embedding + RNN/LSTM/GRU + linear layer on the last real time step.

    ``recurrent`` picks ``seqlab``'s from-scratch layer by name, or pass ``builtin=True`` to use
    ``torch.nn.LSTM`` and friends (same maths, faster kernels; they are given a packed sequence).
    ``bidirectional=True`` reads each review both ways, each direction starting at its own end.
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
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_index)
        self.rnn = recurrent_layer(recurrent, embed_dim, hidden_size, num_layers, dropout, builtin, bidirectional)
        self.num_directions = 2 if bidirectional else 1
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(self.num_directions * hidden_size, num_classes)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``tokens`` (B, T) padded ids, ``lengths`` (B,) → logits (B, num_classes)."""
        x = self.embedding(tokens)  # (B, T, E)
        _, state = run_padded(self.rnn, x, lengths)  # final states at each sequence's own end
        last = last_hidden(state, self.num_directions)  # (B, D*H)
        return self.out(self.dropout(last))  # (B, C)
