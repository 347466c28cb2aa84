"""Skip-gram with negative sampling (SGNS), Mikolov et al. (2013).

Each word has two vectors: ``v_w`` when it is the center word and ``u_w`` when it is a
context word. For a center ``c``, a true context ``o`` and ``K`` negative words ``n_1..n_K``:

.. math::

   \\ell = -\\log \\sigma(u_o^\\top v_c) - \\sum_{k=1}^{K} \\log \\sigma(-u_{n_k}^\\top v_c)

so true pairs are pushed to a high dot product and random pairs to a low one.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class SkipGramNS(nn.Module):
    """The two embedding tables of word2vec and the negative-sampling loss.

    ``sparse=True`` gives sparse gradients (use ``torch.optim.SparseAdam``): each step then
    touches only the rows of the words in the batch.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, sparse: bool = False) -> None:
        super().__init__()
        if num_embeddings < 1:
            raise ValueError(f"num_embeddings must be >= 1, got {num_embeddings}")
        if embedding_dim < 1:
            raise ValueError(f"embedding_dim must be >= 1, got {embedding_dim}")
        self.center = nn.Embedding(num_embeddings, embedding_dim, sparse=sparse)  # v
        self.context = nn.Embedding(num_embeddings, embedding_dim, sparse=sparse)  # u
        bound = 0.5 / embedding_dim  # word2vec's initialisation: small v, zero u
        nn.init.uniform_(self.center.weight, -bound, bound)
        nn.init.zeros_(self.context.weight)

    def forward(self, center: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
        """Mean SGNS loss for ``center`` (B,), ``context`` (B,) and ``negatives`` (B, K)."""
        v_c = self.center(center)  # (B, E)
        u_o = self.context(context)  # (B, E)
        u_n = self.context(negatives)  # (B, K, E)
        positive = F.logsigmoid((u_o * v_c).sum(-1))  # (B,)
        negative = F.logsigmoid(-torch.bmm(u_n, v_c.unsqueeze(-1)).squeeze(-1)).sum(-1)  # (B,)
        return -(positive + negative).mean()

    @property
    def vectors(self) -> torch.Tensor:
        """The word vectors to use downstream, (V, E): ``v_w + u_w``, detached.

        Adding the context table to the center table ("w + c") is one of the options Levy, Goldberg &
        Dagan (2015) tune: it helps on some datasets and settings and hurts on others. The center
        table alone is ``center.weight``.
        """
        return (self.center.weight + self.context.weight).detach()
