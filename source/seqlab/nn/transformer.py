r"""The Transformer's pieces, written out: positional encoding, encoder and decoder layers, stacks.

The layers have the constructor arguments, the sub-module names and the ``forward`` of
``nn.TransformerEncoderLayer`` and ``nn.TransformerDecoderLayer``, so their state dicts load
into each other. One layer (post-norm, the paper's order, ``norm_first=False``):

.. math::

   x \leftarrow \mathrm{LN}(x + \mathrm{Dropout}(\mathrm{SelfAttn}(x))), \qquad
   x \leftarrow \mathrm{LN}(x + \mathrm{Dropout}(\mathrm{FFN}(x))), \qquad
   \mathrm{FFN}(x) = W_2\, \mathrm{Dropout}(\mathrm{act}(W_1 x + b_1)) + b_2

and pre-norm (``norm_first=True``): :math:`x \leftarrow x + \mathrm{Dropout}(\mathrm{SelfAttn}(\mathrm{LN}(x)))`,
then the same for the FFN; the residual path is never normalised, which is why pre-norm trains
without a learning-rate warm-up. A decoder layer has a third block between the two, attention
over the encoder's output ("memory").

Masks follow ``nn.Transformer*``: ``*_key_padding_mask`` (B, S) and ``*_mask`` (L, S), boolean
True = *ignore* (see :class:`seqlab.nn.attention.MultiHeadAttention`).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from seqlab.nn.attention import MultiHeadAttention, causal_mask

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def sinusoidal_encoding(max_len: int, d_model: int) -> torch.Tensor:
    r""":math:`PE_{p, 2i} = \sin(p / 10000^{2i/d})`, :math:`PE_{p, 2i+1} = \cos(p / 10000^{2i/d})` → (max_len, d_model)."""
    if d_model % 2:
        raise ValueError(f"d_model must be even for sines and cosines in pairs, got {d_model}")
    position = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)  # (P, 1)
    inv_freq = torch.exp(-math.log(10000.0) * torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)  # (d/2,)
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(position * inv_freq)
    pe[:, 1::2] = torch.cos(position * inv_freq)
    return pe.float()


class PositionalEncoding(nn.Module):
    """Adds the sinusoidal encoding to (B, T, d_model) inputs (batch first), then dropout."""

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        self.register_buffer("pe", sinusoidal_encoding(max_len, d_model), persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        T = x.size(1)
        if offset + T > self.pe.size(0):
            raise ValueError(f"sequence of {offset + T} positions but max_len is {self.pe.size(0)}")
        return self.dropout(x + self.pe[offset:offset + T].to(x.dtype))


def _activation(activation):
    if callable(activation):
        return activation
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)} or a callable, got {activation!r}")
    return ACTIVATIONS[activation]


def _add_feed_forward_and_norms(layer: nn.Module, n_sublayers: int, d_model: int, dim_feedforward: int, dropout: float,
                                activation, layer_norm_eps: float, norm_first: bool, bias: bool) -> None:
    """The parts torch's encoder and decoder layers share, registered in torch's order (so the state
    dicts list the same keys): ``linear1``, ``dropout``, ``linear2``, ``norm1 … normN``, ``dropout1 … dropoutN``."""
    layer.linear1 = nn.Linear(d_model, dim_feedforward, bias=bias)
    layer.dropout = nn.Dropout(dropout)
    layer.linear2 = nn.Linear(dim_feedforward, d_model, bias=bias)
    for i in range(1, n_sublayers + 1):
        setattr(layer, f"norm{i}", nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias))
    for i in range(1, n_sublayers + 1):
        setattr(layer, f"dropout{i}", nn.Dropout(dropout))
    layer.activation = _activation(activation)
    layer.norm_first = norm_first
    layer.n_sublayers = n_sublayers


def _causal_if(flag: bool, mask: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor | None:
    if flag and mask is None:
        return ~causal_mask(x.size(1), device=x.device)  # True = ignore
    return mask


class _Layer(nn.Module):
    """What both layers share: the self-attention and feed-forward sub-layers, each followed by its dropout."""

    def _sa(self, x, mask, padding):
        return self.dropout1(self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=padding, need_weights=False)[0])

    def _ff(self, x):
        last_dropout = getattr(self, f"dropout{self.n_sublayers}")  # dropout2 (encoder) or dropout3 (decoder)
        return last_dropout(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoderLayer(_Layer):
    """Self-attention and a feed-forward block, each with a residual connection and layer norm."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation="relu", layer_norm_eps: float = 1e-5, batch_first: bool = True,
                 norm_first: bool = False, bias: bool = True, fused: bool = False) -> None:
        super().__init__()
        if not batch_first:
            raise ValueError("seqlab's transformer layers are batch first (B, T, d_model): pass batch_first=True")
        self.self_attn = MultiHeadAttention(d_model, nhead, dropout=dropout, bias=bias, fused=fused)
        _add_feed_forward_and_norms(self, 2, d_model, dim_feedforward, dropout, activation, layer_norm_eps, norm_first, bias)


    def forward(self, src: torch.Tensor, src_mask: torch.Tensor | None = None,
                src_key_padding_mask: torch.Tensor | None = None, is_causal: bool = False) -> torch.Tensor:
        """``src`` (B, S, d_model) → (B, S, d_model)."""
        x, mask = src, _causal_if(is_causal, src_mask, src)
        if self.norm_first:
            x = x + self._sa(self.norm1(x), mask, src_key_padding_mask)
            return x + self._ff(self.norm2(x))
        x = self.norm1(x + self._sa(x, mask, src_key_padding_mask))
        return self.norm2(x + self._ff(x))


class TransformerDecoderLayer(_Layer):
    """Masked self-attention, attention over the encoder's memory, and a feed-forward block."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation="relu", layer_norm_eps: float = 1e-5, batch_first: bool = True,
                 norm_first: bool = False, bias: bool = True, fused: bool = False) -> None:
        super().__init__()
        if not batch_first:
            raise ValueError("seqlab's transformer layers are batch first (B, T, d_model): pass batch_first=True")
        self.self_attn = MultiHeadAttention(d_model, nhead, dropout=dropout, bias=bias, fused=fused)
        self.multihead_attn = MultiHeadAttention(d_model, nhead, dropout=dropout, bias=bias, fused=fused)
        _add_feed_forward_and_norms(self, 3, d_model, dim_feedforward, dropout, activation, layer_norm_eps, norm_first, bias)


    def _mha(self, x, memory, mask, padding):
        return self.dropout2(self.multihead_attn(x, memory, memory, attn_mask=mask, key_padding_mask=padding,
                                                 need_weights=False)[0])

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor, tgt_mask: torch.Tensor | None = None,
                memory_mask: torch.Tensor | None = None, tgt_key_padding_mask: torch.Tensor | None = None,
                memory_key_padding_mask: torch.Tensor | None = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> torch.Tensor:
        """``tgt`` (B, T, d_model), ``memory`` (B, S, d_model) → (B, T, d_model)."""
        x = tgt
        tgt_mask = _causal_if(tgt_is_causal, tgt_mask, tgt)
        if memory_is_causal and memory_mask is None:
            memory_mask = ~causal_mask(tgt.size(1), memory.size(1), device=tgt.device)
        if self.norm_first:
            x = x + self._sa(self.norm1(x), tgt_mask, tgt_key_padding_mask)
            x = x + self._mha(self.norm2(x), memory, memory_mask, memory_key_padding_mask)
            return x + self._ff(self.norm3(x))
        x = self.norm1(x + self._sa(x, tgt_mask, tgt_key_padding_mask))
        x = self.norm2(x + self._mha(x, memory, memory_mask, memory_key_padding_mask))
        return self.norm3(x + self._ff(x))


@dataclass(frozen=True)
class TransformerConfig:
    """Sizes and choices of a Transformer stack (encoder, decoder, or both)."""

    d_model: int = 128
    nhead: int = 4
    num_layers: int = 2
    dim_feedforward: int = 512
    dropout: float = 0.1
    activation: str = "relu"
    layer_norm_eps: float = 1e-5
    norm_first: bool = True
    fused: bool = False

    def __post_init__(self) -> None:
        if self.d_model % self.nhead:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by nhead ({self.nhead})")
        if self.num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {self.num_layers}")

    def layer_kwargs(self) -> dict:
        return dict(d_model=self.d_model, nhead=self.nhead, dim_feedforward=self.dim_feedforward, dropout=self.dropout,
                    activation=self.activation, layer_norm_eps=self.layer_norm_eps, norm_first=self.norm_first,
                    fused=self.fused)


class TransformerEncoder(nn.Module):
    """``num_layers`` encoder layers (``layers.0`` …, as ``nn.TransformerEncoder``), with a final
    layer norm ``norm`` when the layers are pre-norm (their output is not normalised otherwise)."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        layer = TransformerEncoderLayer(**config.layer_kwargs())
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(config.num_layers))
        self.norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps) if config.norm_first else None

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal: bool = False):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=is_causal)
        return self.norm(x) if self.norm is not None else x


class TransformerDecoder(nn.Module):
    """``num_layers`` decoder layers (``layers.0`` …, as ``nn.TransformerDecoder``), final ``norm`` when pre-norm."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        layer = TransformerDecoderLayer(**config.layer_kwargs())
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(config.num_layers))
        self.norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps) if config.norm_first else None

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal: bool = False):
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask, tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal)
        return self.norm(x) if self.norm is not None else x


# ---------------------------------------------------------------- models for the course's tasks

def _key_padding(tokens: torch.Tensor, pad_id: int) -> torch.Tensor:
    return tokens == pad_id  # (B, T), True = ignore (nn.Transformer's convention)


def _init_embedding(embedding: nn.Embedding, pad_id: int) -> None:
    """N(0, 1/d) instead of nn.Embedding's N(0, 1): after the √d scaling the inputs have unit
    variance, the size of the positional encoding (N(0, 1) · √d would drown it), and an output
    layer tied to the embedding starts with logits of unit variance rather than √d."""
    with torch.no_grad():
        nn.init.normal_(embedding.weight, std=embedding.embedding_dim ** -0.5)
        embedding.weight[pad_id].zero_()


@dataclass(frozen=True)
class TransformerSeq2SeqConfig:
    """An encoder–decoder Transformer for ``Seq2SeqBatch`` data (the tasks of chapters 5 and 7)."""

    src_vocab_size: int
    tgt_vocab_size: int
    d_model: int = 128
    nhead: int = 4
    num_encoder_layers: int = 2
    num_decoder_layers: int = 2
    dim_feedforward: int = 256
    dropout: float = 0.1
    norm_first: bool = True
    fused: bool = False
    max_len: int = 512
    pad_id: int = 0

    def stack(self, num_layers: int) -> TransformerConfig:
        return TransformerConfig(d_model=self.d_model, nhead=self.nhead, num_layers=num_layers,
                                 dim_feedforward=self.dim_feedforward, dropout=self.dropout,
                                 norm_first=self.norm_first, fused=self.fused)


class TransformerSeq2Seq(nn.Module):
    r"""Source and target embeddings (scaled by :math:`\sqrt{d}`) plus positions, an encoder stack,
    a decoder stack with a causal mask, and an output layer.

    Training: ``loss(batch)`` with teacher forcing, like :class:`seqlab.nn.seq2seq.Seq2Seq`.
    Decoding: ``encode(src, src_lengths)`` and ``step(tokens, state) -> (log_probs, state)``, the
    interface of :mod:`seqlab.decoding`. The state is ``(memory, memory_padding, prefix)``, all batch
    first; every step runs the decoder over the whole prefix again (simple and exact; a key–value
    cache would make a step O(t) instead of O(t²)).
    """

    def __init__(self, config: TransformerSeq2SeqConfig) -> None:
        super().__init__()
        c = self.config = config
        self.src_embedding = nn.Embedding(c.src_vocab_size, c.d_model, padding_idx=c.pad_id)
        self.tgt_embedding = nn.Embedding(c.tgt_vocab_size, c.d_model, padding_idx=c.pad_id)
        self.positions = PositionalEncoding(c.d_model, c.max_len, c.dropout)
        self.encoder = TransformerEncoder(c.stack(c.num_encoder_layers))
        self.decoder = TransformerDecoder(c.stack(c.num_decoder_layers))
        self.out = nn.Linear(c.d_model, c.tgt_vocab_size)
        self.scale = math.sqrt(c.d_model)
        _init_embedding(self.src_embedding, c.pad_id)
        _init_embedding(self.tgt_embedding, c.pad_id)

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor | None = None) -> tuple:
        """``src`` (B, S) → ``(memory (B, S, d), memory_padding (B, S), prefix (B, 0))``."""
        padding = _key_padding(src, self.config.pad_id)
        if src_lengths is not None:
            padding = ~(torch.arange(src.size(1), device=src.device) < src_lengths.to(src.device).unsqueeze(1))
        memory = self.encoder(self.positions(self.src_embedding(src) * self.scale), src_key_padding_mask=padding)
        return memory, padding, src.new_zeros(src.size(0), 0)

    def _hidden(self, tgt_in: torch.Tensor, memory: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
        y = self.positions(self.tgt_embedding(tgt_in) * self.scale)  # (B, T, d)
        return self.decoder(y, memory, tgt_key_padding_mask=_key_padding(tgt_in, self.config.pad_id),
                            memory_key_padding_mask=padding, tgt_is_causal=True)  # (B, T, d)

    def _decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
        return self.out(self._hidden(tgt_in, memory, padding))  # (B, T, V)

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: (B, S), (B,), (B, T) → logits (B, T, V)."""
        memory, padding, _ = self.encode(src, src_lengths)
        return self._decode(tgt_in, memory, padding)

    def loss(self, batch) -> tuple[torch.Tensor, int]:
        logits = self(batch.src, batch.src_lengths, batch.tgt_in)
        n = int((batch.tgt_out != self.config.pad_id).sum())
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch.tgt_out.reshape(-1),
                               ignore_index=self.config.pad_id)
        return loss, n

    def step(self, tokens: torch.Tensor, state: tuple) -> tuple[torch.Tensor, tuple]:
        memory, padding, prefix = state
        prefix = torch.cat([prefix, tokens.unsqueeze(1)], dim=1)  # (N, t)
        logits = self.out(self._hidden(prefix, memory, padding)[:, -1])  # (N, V): the output layer on the newest position only
        return F.log_softmax(logits, dim=-1), (memory, padding, prefix)


class TransformerLM(nn.Module):
    """A decoder-only (GPT-style) language model: embedding + positions, encoder layers with a
    causal mask (self-attention only), a final norm when pre-norm, and an output layer tied to the
    embedding when ``tie_weights``. Same methods as :class:`seqlab.nn.language_model.RNNLanguageModel`:
    ``forward(tokens) -> (logits, None)``, ``loss(inputs, targets)``, ``step``/``decode_step`` with the
    prefix (B, t) as the state (each step runs the blocks over the whole prefix: O(t²) per sequence
    without a key–value cache). The embedding starts as N(0, 1/d) (see ``_init_embedding``)."""

    def __init__(self, vocab_size: int, config: TransformerConfig, max_len: int = 512, pad_id: int = 0,
                 tie_weights: bool = True) -> None:
        super().__init__()
        self.config, self.pad_id = config, pad_id
        self.embedding = nn.Embedding(vocab_size, config.d_model, padding_idx=pad_id)
        self.positions = PositionalEncoding(config.d_model, max_len, config.dropout)
        self.blocks = TransformerEncoder(config)
        self.out = nn.Linear(config.d_model, vocab_size)
        if tie_weights:
            self.out.weight = self.embedding.weight
        self.scale = math.sqrt(config.d_model)
        _init_embedding(self.embedding, pad_id)

    def _hidden(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.positions(self.embedding(tokens) * self.scale), is_causal=True)  # (B, T, d)

    def forward(self, tokens: torch.Tensor, state=None):
        """``tokens`` (B, T) → logits (B, T, V) (position t sees tokens 0 … t), and None."""
        return self.out(self._hidden(tokens)), None

    def loss(self, inputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, int]:
        logits, _ = self(inputs)
        n = int((targets != self.pad_id).sum())
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=self.pad_id), n

    def step(self, token: torch.Tensor, state=None):
        prefix = token.unsqueeze(1) if state is None else torch.cat([state, token.unsqueeze(1)], dim=1)  # (B, t)
        h = self._hidden(prefix[:, -self.positions.pe.size(0):])  # the last max_len tokens
        return self.out(h[:, -1]), prefix  # the output layer on the newest position only

    def decode_step(self, tokens: torch.Tensor, state=None):
        logits, state = self.step(tokens, state)
        return logits.log_softmax(dim=-1), state
