r"""Many-to-many of equal length: one tag per token (BMES word segmentation, part of speech).

``embedding → bidirectional LSTM → linear`` gives emission scores for every position and tag;
the LSTM reads the sentence both ways, so the score at ``t`` sees the whole sentence:

.. math::

   h_t = [\overrightarrow{h}_t ; \overleftarrow{h}_t], \qquad E_t = W h_t + c \in \mathbb{R}^K.

Two ways to turn ``E`` into tags. **Softmax** (``crf=False``): each position on its own,
``p(y_t \mid x) = \operatorname{softmax}(E_t)_{y_t}``, trained with the cross-entropy averaged
over the real tokens and decoded with ``argmax_j E_{t,j}``. **CRF** (``crf=True``, BiLSTM-CRF,
Huang et al. 2015; Lample et al. 2016): a :class:`~seqlab.nn.crf.LinearChainCRF` scores whole
tag sequences with learned transitions, trained with its negative log-likelihood and decoded
with Viterbi, so it can learn (or be told, with ``tagger.crf.constrain(...)``) that M never follows S.

The CRF loss uses ``reduction="token_mean"``: the sequence NLLs summed over the batch and
divided by the number of real tokens, the same per-token scale as the softmax tagger's
cross-entropy, so one learning rate suits both and long sentences weigh as much per token as short ones.

Padding is exact: the recurrent layer gets the lengths (seqlab's own takes ``lengths=``,
torch's built-in a packed sequence, through :func:`~seqlab.nn.recurrent.run_padded`), and the
loss and the decoders only look at real positions, so a sentence is tagged the same alone or in a batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from seqlab.nn.crf import LinearChainCRF
from seqlab.nn.recurrent import recurrent_layer, run_padded


class BiLSTMTagger(nn.Module):
    """Embedding + bidirectional LSTM + linear emissions (B, T, K), with an optional CRF on top.

    ``builtin=True`` uses ``torch.nn.LSTM`` (same parameter names, fused kernels) instead of
    seqlab's from-scratch LSTM; the two load each other's state dicts. ``dropout`` applies to the
    embeddings, between LSTM layers and to the LSTM outputs.
    """

    def __init__(
        self,
        vocab_size: int,
        num_tags: int,
        embed_dim: int = 64,
        hidden_size: int = 128,
        num_layers: int = 1,
        dropout: float = 0.0,
        crf: bool = False,
        pad_index: int = 0,
        builtin: bool = False,
    ) -> None:
        super().__init__()
        if num_tags < 2:
            raise ValueError(f"num_tags must be >= 2, got {num_tags}")
        self.num_tags = num_tags
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_index)
        self.rnn = recurrent_layer("lstm", embed_dim, hidden_size, num_layers, dropout, builtin, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden_size, num_tags)
        self.crf = LinearChainCRF(num_tags) if crf else None

    def mask(self, tokens: torch.Tensor, lengths: torch.Tensor | Sequence[int]) -> torch.Tensor:
        """(B, T) bool, True at the real positions ``t < lengths[b]``."""
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be a (B, T) batch of ids, got shape {tuple(tokens.shape)}")
        B, T = tokens.shape
        lengths = torch.as_tensor(lengths, device=tokens.device)
        if lengths.shape != (B,):
            raise ValueError(f"lengths must have shape ({B},), one per sequence, got {tuple(lengths.shape)}")
        if B and (int(lengths.min()) < 1 or int(lengths.max()) > T):
            raise ValueError(f"lengths must be between 1 and the padded length {T}, got "
                             f"{int(lengths.min())} to {int(lengths.max())}")
        return torch.arange(T, device=tokens.device) < lengths.unsqueeze(1)  # (B, T)

    def emissions(self, tokens: torch.Tensor, lengths: torch.Tensor | Sequence[int]) -> torch.Tensor:
        """``tokens`` (B, T) padded ids, ``lengths`` (B,) → emission scores (B, T, K) (meaningless at padding)."""
        self.mask(tokens, lengths)  # validates
        x = self.dropout(self.embedding(tokens))  # (B, T, E)
        h, _ = run_padded(self.rnn, x, lengths)  # (B, T, 2H): [forward ; backward], zeros at padding
        return self.out(self.dropout(h))  # (B, T, K)

    forward = emissions

    def loss(self, tokens: torch.Tensor, lengths: torch.Tensor | Sequence[int], tags: torch.Tensor) -> torch.Tensor:
        """Mean loss per real token: cross-entropy (softmax) or the CRF's NLL with ``reduction="token_mean"``.

        ``tags`` (B, T) holds tag ids at real positions; padded positions may hold anything (e.g. -100).
        """
        mask = self.mask(tokens, lengths)
        if tags.shape != tokens.shape:
            raise ValueError(f"tags must have the shape of tokens {tuple(tokens.shape)}, got {tuple(tags.shape)}")
        real = tags[mask]  # (N,) the tags of the real tokens
        if real.numel() and (int(real.min()) < 0 or int(real.max()) >= self.num_tags):
            raise ValueError(f"tags at real positions must be in [0, {self.num_tags}), got "
                             f"{int(real.min())} to {int(real.max())}")
        emissions = self.emissions(tokens, lengths)  # (B, T, K)
        if self.crf is not None:
            return self.crf(emissions, tags, mask, reduction="token_mean")
        return F.cross_entropy(emissions[mask], real.long())  # (N, K) vs (N,): mean over real tokens

    @torch.no_grad()
    def predict(self, tokens: torch.Tensor, lengths: torch.Tensor | Sequence[int]) -> list[list[int]]:
        """The tags of each sequence, as long as its length: argmax per position, or the CRF's Viterbi path."""
        mask = self.mask(tokens, lengths)
        emissions = self.emissions(tokens, lengths)  # (B, T, K)
        if self.crf is not None:
            return self.crf.decode(emissions, mask)
        best = emissions.argmax(-1)  # (B, T)
        return [row[:n].tolist() for row, n in zip(best, mask.sum(1).tolist())]
