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

**Attention** (``attention="additive"``, ``"dot"``, ``"scaled_dot"`` or ``"general"``; chapter 7) lets
every decoder step look back at every encoder output instead of only at ``c``. This is Luong et
al.'s global attention (2015): the decoder's new state :math:`s_t` is the query, the encoder outputs
:math:`\bar h_1 \dots \bar h_S` are the keys and the values (padding masked out),

.. math::

   \alpha_{t,s} = \mathrm{softmax}_s\, \mathrm{score}(s_t, \bar h_s), \qquad
   c_t = \sum_s \alpha_{t,s} \bar h_s, \qquad
   \tilde s_t = \tanh(W_c [c_t; s_t]), \qquad p(y_t \mid \cdot) = \mathrm{softmax}(W_o \tilde s_t)

Because the query is the state *after* the step (Bahdanau et al. use the one before, and feed
:math:`c_t` into the cell), the recurrent layer still runs over the whole target in one call during
teacher forcing and the attention is one batched product. :meth:`Seq2Seq.attention_maps` returns
the weights :math:`\alpha` (B, T, S) for the heatmaps.

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

from seqlab.nn.attention import AdditiveAttention, DotProductAttention, padding_mask
from seqlab.nn.recurrent import last_hidden, recurrent_layer, run_padded

BRIDGES = ("init", "every_step", "both")
ATTENTIONS = (None, "additive", "dot", "scaled_dot", "general")


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
    attention: str | None = None  # None (chapter 5) or the score: "additive", "dot", "scaled_dot", "general"
    attention_size: int | None = None  # hidden width of the additive score (hidden_size if None)

    def __post_init__(self) -> None:
        if self.bridge not in BRIDGES:
            raise ValueError(f"bridge must be one of {BRIDGES}, got {self.bridge!r}")
        if self.attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {self.attention!r}")
        if self.attention in ("dot", "scaled_dot") and self.bidirectional_encoder:
            raise ValueError(f"a {self.attention!r} score needs keys as wide as the decoder state, but a "
                             f"bidirectional encoder's outputs are 2*hidden_size = {2 * self.hidden_size} wide "
                             f"and the state {self.hidden_size}: use 'general' or 'additive'")
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
        self.attention = None
        if c.attention == "additive":
            self.attention = AdditiveAttention(H, D * H, c.attention_size or H)
        elif c.attention == "general":
            self.attention = DotProductAttention(query_size=H, key_size=D * H, scaled=False)
        elif c.attention is not None:
            self.attention = DotProductAttention(scaled=c.attention == "scaled_dot")
        # W_c: the attentional state from [c_t; s_t]
        self.combine = nn.Linear(D * H + H, H) if self.attention is not None else None

    # ---- the encoder's summary and the decoder's first state ----------------------------------
    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> tuple:
        """The decoder's starting state for a batch, batch first: ``(hidden, [cell,] context)`` with
        hidden (B, L, H) and context (B, D*H), the encoder's top-layer final state; with attention,
        followed by ``memory`` (B, S, D*H) (the encoder outputs), ``keys`` (the memory projected once
        for the score) and ``mask`` (B, S) (True at real source positions)."""
        outputs, enc_state = self.encoder(src, src_lengths)  # (B, S, D*H); (L*D, B, H) or a pair
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
        state = (*(s.transpose(0, 1) for s in first), context)  # each batch first
        if self.attention is None:
            return state
        memory = outputs  # (B, S, D*H), zeros at padding
        mask = padding_mask(src_lengths.to(memory.device), memory.size(1))  # (B, S)
        return (*state, memory, self.attention.project_keys(memory), mask)

    def _split(self, state: tuple):
        n_rnn = 2 if self.is_lstm else 1
        rnn_state = tuple(s.transpose(0, 1).contiguous() for s in state[:n_rnn])  # (L, B, H)
        return (rnn_state if self.is_lstm else rnn_state[0]), state[n_rnn], tuple(state[n_rnn + 1:])

    def _decode(self, tgt_in: torch.Tensor, state: tuple, return_attention: bool = False):
        """Run the decoder over ``tgt_in`` (B, T) from ``state`` → logits (B, T, V) and the new state
        (and the attention weights (B, T, S) if asked)."""
        rnn_state, context, attn_state = self._split(state)
        y = self.dropout(self.tgt_embedding(tgt_in))  # (B, T, E)
        if self.config.bridge in ("every_step", "both"):
            y = torch.cat([y, context.unsqueeze(1).expand(-1, y.size(1), -1)], dim=-1)  # (B, T, E + D*H)
        output, rnn_state = self.decoder(y, rnn_state)  # (B, T, H)
        weights = None
        if self.attention is not None:
            memory, keys, mask = attn_state
            attended, weights = self.attention(output, memory, memory, mask, projected_keys=keys)  # (B, T, D*H), (B, T, S)
            output = torch.tanh(self.combine(torch.cat([attended, output], dim=-1)))  # (B, T, H)
        logits = self.out(self.dropout(output))  # (B, T, V)
        parts = rnn_state if isinstance(rnn_state, tuple) else (rnn_state,)
        new_state = (*(s.transpose(0, 1) for s in parts), context, *attn_state)
        return (logits, new_state, weights) if return_attention else (logits, new_state)

    def attention_maps(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """The attention weights under teacher forcing, (B, T, S): row t is where the decoder looked
        when it wrote ``tgt_out[:, t]``. Feed a decoded output as ``tgt_in`` to see where it looked
        while decoding (the same numbers, since the decoder is deterministic)."""
        if self.attention is None:
            raise ValueError("this model has no attention (Seq2SeqConfig(attention=None))")
        _, _, weights = self._decode(tgt_in, self.encode(src, src_lengths), return_attention=True)
        return weights

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
