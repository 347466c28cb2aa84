r"""Encoder–decoder (sequence to sequence) with recurrent layers, in the two wirings of the lecture.

The encoder reads the source ``x_1 … x_S`` and sums it up in its final state, the "thought
vector" :math:`c = h^{enc}_S` (each sequence's own last real step: the encoder is given the
lengths). The decoder is a conditional language model of the target:

.. math::

   p(y_1 \dots y_n \mid x) = \prod_{t=1}^{n+1} p(y_t \mid y_{<t}, c), \qquad y_{n+1} = \texttt{<eos>}

and the two wirings of lecture 002 differ in where ``c`` enters:

- ``bridge="init"``: ``c`` is the decoder's initial state, :math:`s_0 = c` (Sutskever et al. 2014);
- ``bridge="every_step"``: the decoder starts from zeros and reads ``c`` next to every input,
  :math:`s_t = \mathrm{cell}([e(y_{t-1}); c], s_{t-1})` (Cho et al. 2014);
- ``bridge="both"``: both at once.

Training uses teacher forcing: the decoder reads the true ``<bos> y_1 … y_n`` and is scored on
``y_1 … y_n <eos>``; the loss is the cross-entropy averaged over real (non-``<pad>``) target tokens.
At inference the decoder reads its own previous output instead, through :meth:`Seq2Seq.step`, the
interface of :mod:`seqlab.decoding`: ``step(tokens (N,), state) -> (log_probs (N, V), state)``
with every tensor of ``state`` batch first (N rows), so beam search can reorder rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from seqlab.nn.recurrent import last_hidden, recurrent_layer, run_padded

BRIDGES = ("init", "every_step", "both")


@dataclass(frozen=True)
class Seq2SeqConfig:
    """Sizes and choices of a recurrent encoder–decoder."""

    src_vocab_size: int
    tgt_vocab_size: int
    embed_dim: int = 64
    hidden_size: int = 128
    num_layers: int = 1
    recurrent: str = "gru"  # "rnn", "lstm" or "gru", for both encoder and decoder
    bridge: str = "init"  # where the encoder's summary enters the decoder (see the module docstring)
    bidirectional_encoder: bool = False
    dropout: float = 0.0
    pad_id: int = 0
    builtin: bool = False  # torch.nn.GRU/LSTM instead of seqlab's layers (same maths, fused kernels)

    def __post_init__(self) -> None:
        if self.bridge not in BRIDGES:
            raise ValueError(f"bridge must be one of {BRIDGES}, got {self.bridge!r}")
        for name in ("src_vocab_size", "tgt_vocab_size", "embed_dim", "hidden_size", "num_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


class Encoder(nn.Module):
    """Embedding + recurrent layer over the padded source; returns every output and the summary."""

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        self.num_directions = 2 if c.bidirectional_encoder else 1
        self.embedding = nn.Embedding(c.src_vocab_size, c.embed_dim, padding_idx=c.pad_id)
        self.rnn = recurrent_layer(c.recurrent, c.embed_dim, c.hidden_size, c.num_layers, c.dropout, c.builtin,
                                   bidirectional=c.bidirectional_encoder)
        self.dropout = nn.Dropout(c.dropout)

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor):
        """``src`` (B, S), ``src_lengths`` (B,) → outputs (B, S, D*H) (zeros at padding), final state
        (L*D, B, H) in torch's layout."""
        x = self.dropout(self.embedding(src))  # (B, S, E)
        return run_padded(self.rnn, x, src_lengths)


class Seq2Seq(nn.Module):
    """A recurrent encoder–decoder; see the module docstring for the wirings."""

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        self.encoder = Encoder(c)
        D, H, L = self.encoder.num_directions, c.hidden_size, c.num_layers
        self.context_size = D * H
        # the decoder's initial state from the encoder's: one (D*H → H) map per layer when the
        # encoder is bidirectional (both directions' states side by side), the identity otherwise
        self.bridge = nn.Linear(D * H, H) if D == 2 and c.bridge != "every_step" else None
        extra = self.context_size if c.bridge in ("every_step", "both") else 0
        self.tgt_embedding = nn.Embedding(c.tgt_vocab_size, c.embed_dim, padding_idx=c.pad_id)
        self.decoder = recurrent_layer(c.recurrent, c.embed_dim + extra, H, L, c.dropout, c.builtin)
        self.dropout = nn.Dropout(c.dropout)
        self.out = nn.Linear(H, c.tgt_vocab_size)
        self.is_lstm = c.recurrent == "lstm"

    # ---- the encoder's summary and the decoder's first state ----------------------------------
    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> tuple:
        """The decoder's starting state for a batch, batch first: ``(hidden, [cell,] context)`` with
        hidden (B, L, H) and context (B, D*H), the encoder's top-layer final state."""
        _, enc_state = self.encoder(src, src_lengths)  # (L*D, B, H) or a pair
        D, L = self.encoder.num_directions, self.config.num_layers
        context = last_hidden(enc_state, D)  # (B, D*H)
        parts = enc_state if isinstance(enc_state, tuple) else (enc_state,)
        if self.config.bridge == "every_step":
            first = tuple(context.new_zeros(L, src.size(0), self.config.hidden_size) for _ in parts)  # (L, B, H)
        else:
            first = []
            for p in parts:  # (L*D, B, H) → (L, B, D*H) → (L, B, H)
                p = p.view(L, D, p.size(1), p.size(2)).permute(0, 2, 1, 3).reshape(L, p.size(1), D * p.size(2))
                first.append(torch.tanh(self.bridge(p)) if self.bridge is not None else p)
            first = tuple(first)
        return (*(s.transpose(0, 1) for s in first), context)  # each batch first

    def _split(self, state: tuple):
        *rnn_state, context = state
        rnn_state = tuple(s.transpose(0, 1).contiguous() for s in rnn_state)  # (L, B, H)
        return (rnn_state if self.is_lstm else rnn_state[0]), context

    def _decode(self, tgt_in: torch.Tensor, state: tuple):
        """Run the decoder over ``tgt_in`` (B, T) from ``state`` → logits (B, T, V) and the new state."""
        rnn_state, context = self._split(state)
        y = self.dropout(self.tgt_embedding(tgt_in))  # (B, T, E)
        if self.config.bridge in ("every_step", "both"):
            y = torch.cat([y, context.unsqueeze(1).expand(-1, y.size(1), -1)], dim=-1)  # (B, T, E + D*H)
        output, rnn_state = self.decoder(y, rnn_state)  # (B, T, H)
        logits = self.out(self.dropout(output))  # (B, T, V)
        parts = rnn_state if isinstance(rnn_state, tuple) else (rnn_state,)
        return logits, (*(s.transpose(0, 1) for s in parts), context)

    # ---- training: teacher forcing -------------------------------------------------------------
    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: ``src`` (B, S), ``src_lengths`` (B,), ``tgt_in`` (B, T) = ``<bos> y_1 …``
        → logits (B, T, V) for ``y_1 … <eos>``."""
        logits, _ = self._decode(tgt_in, self.encode(src, src_lengths))
        return logits

    def loss(self, batch) -> tuple[torch.Tensor, int]:
        """Mean cross-entropy over the real target tokens of a ``Seq2SeqBatch`` (pad positions carry
        no loss), and how many there were."""
        logits = self(batch.src, batch.src_lengths, batch.tgt_in)  # (B, T, V)
        n = int((batch.tgt_out != self.config.pad_id).sum())
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch.tgt_out.reshape(-1),
                               ignore_index=self.config.pad_id)
        return loss, n

    def scheduled_sampling_loss(self, batch, teacher_prob: float, generator: torch.Generator | None = None):
        """Scheduled sampling (Bengio et al. 2015): at each step the decoder reads the true previous
        token with probability ``teacher_prob`` and its own greedy prediction otherwise; the loss is
        still against the true targets. ``teacher_prob=1`` is teacher forcing."""
        if not 0.0 <= teacher_prob <= 1.0:
            raise ValueError(f"teacher_prob must be in [0, 1], got {teacher_prob}")
        state = self.encode(batch.src, batch.src_lengths)
        tokens, all_logits = batch.tgt_in[:, 0], []
        for t in range(batch.tgt_in.size(1)):
            logits, state = self._decode(tokens.unsqueeze(1), state)  # (B, 1, V)
            all_logits.append(logits)
            if t + 1 < batch.tgt_in.size(1):
                coin = torch.rand(tokens.shape, generator=generator, device="cpu").to(tokens.device) < teacher_prob
                tokens = torch.where(coin, batch.tgt_in[:, t + 1], logits[:, 0].argmax(-1).detach())
        logits = torch.cat(all_logits, dim=1)  # (B, T, V)
        n = int((batch.tgt_out != self.config.pad_id).sum())
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch.tgt_out.reshape(-1),
                               ignore_index=self.config.pad_id)
        return loss, n

    # ---- inference: the decoding interface -----------------------------------------------------
    def step(self, tokens: torch.Tensor, state: tuple) -> tuple[torch.Tensor, tuple]:
        """``tokens`` (N,), ``state`` from :meth:`encode` (or a previous step), N rows each →
        ``(log_probs (N, V), state)``."""
        logits, state = self._decode(tokens.unsqueeze(1), state)  # (N, 1, V)
        return F.log_softmax(logits[:, 0], dim=-1), state

    def sequence_log_prob(self, src, src_lengths, tgt_in, tgt_out) -> torch.Tensor:
        """log p(tgt | src) per sequence (B,): the sum over real target tokens (``<eos>`` included)."""
        logits = self(src, src_lengths, tgt_in)  # (B, T, V)
        logp = F.log_softmax(logits, dim=-1).gather(-1, tgt_out.clamp_min(0).unsqueeze(-1)).squeeze(-1)  # (B, T)
        return (logp * (tgt_out != self.config.pad_id)).sum(dim=1)
