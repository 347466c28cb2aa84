r"""Attention: a soft lookup of a query over key–value pairs, written out for reading.

Lecture 004 states the prototype of every attention mechanism as a lookup of a *query* in a
*source* of key–value pairs:

.. math::

   \mathrm{Attention}(q, \{(k_i, v_i)\}) = \sum_{i=1}^{S} \alpha_i v_i, \qquad
   \alpha = \mathrm{softmax}\big(\mathrm{score}(q, k_1), \dots, \mathrm{score}(q, k_S)\big)

1. score every key against the query, 2. normalise the scores with a softmax, 3. sum the values
weighted by the result. The mechanisms differ only in the score:

- **additive** (Bahdanau et al. 2015, Luong's "concat"): :math:`v_a^\top \tanh(W_q q + W_k k)`,
  a one-hidden-layer network; the query and key sizes may differ (:class:`AdditiveAttention`);
- **dot** (Luong et al. 2015): :math:`q^\top k`, no parameters, the sizes must agree;
  **general** (Luong): :math:`q^\top W_a k`; **scaled dot** (Vaswani et al. 2017):
  :math:`q^\top k / \sqrt{d_k}` (:class:`DotProductAttention`).

For a whole batch of queries at once, with queries as the rows of ``Q`` (L × E) and keys and
values as the rows of ``K`` (S × E) and ``V`` (S × E_v):

.. math::

   \mathrm{Attention}(Q, K, V) = \mathrm{softmax}\Big(\frac{Q K^\top}{\sqrt{d_k}}\Big) V

which is :func:`scaled_dot_product_attention`, with the semantics of
``torch.nn.functional.scaled_dot_product_attention`` (same arguments, same masks, same result).
Why :math:`\sqrt{d_k}`: if the entries of ``q`` and ``k`` are independent with mean 0 and variance
1, :math:`q^\top k` is a sum of ``d_k`` such products and has variance ``d_k``; dividing by
:math:`\sqrt{d_k}` brings it back to 1, so that the softmax does not saturate as ``d_k`` grows.

**Masks.** A boolean mask says which keys each query may look at: ``True`` takes part (the
convention of ``F.scaled_dot_product_attention``; ``nn.MultiheadAttention``'s ``key_padding_mask``
is the opposite, ``True`` = ignore). A float mask is *added* to the scores (``-inf`` removes a key).
:func:`padding_mask` builds the boolean mask from sequence lengths.

**A query whose keys are all masked** has no weights to normalise. Here, as in
``F.scaled_dot_product_attention`` since PyTorch 2.5, its weights are all zero, so its output is
the zero vector (and its gradient is zero), never NaN. Code that needs to know can test
``weights.sum(-1) == 0``.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

NEG_INF = float("-inf")


# ---------------------------------------------------------------- masks

def padding_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """``lengths`` (B,) → boolean (B, S): True at the real positions, False at the padding."""
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1:
        raise ValueError(f"lengths must be 1-D (B,), got shape {tuple(lengths.shape)}")
    S = int(lengths.max()) if max_len is None else int(max_len)
    if lengths.numel() and int(lengths.max()) > S:
        raise ValueError(f"a length ({int(lengths.max())}) exceeds max_len ({S})")
    return torch.arange(S, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


def causal_mask(L: int, S: int | None = None, device=None) -> torch.Tensor:
    """Boolean (L, S), True where query ``i`` may look at key ``j``: ``j <= i`` (top-left aligned,
    as ``is_causal=True`` in ``F.scaled_dot_product_attention``)."""
    S = L if S is None else S
    return torch.ones(L, S, dtype=torch.bool, device=device).tril()


def masked_softmax(scores: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax over the last axis (the keys) of ``scores`` (…, L, S) after the mask: boolean True
    takes part, a float mask is added. Rows with every key masked get all-zero weights (not NaN)."""
    if attn_mask is None:
        return torch.softmax(scores, dim=-1)
    if attn_mask.dtype == torch.bool:
        dead = ~attn_mask.any(dim=-1, keepdim=True)  # (…, L, 1), from the (small) mask, not the scores
        scores = scores.masked_fill(~attn_mask, NEG_INF)
    elif attn_mask.is_floating_point():
        bias = attn_mask.to(scores.dtype)
        dead = torch.isneginf(bias).all(dim=-1, keepdim=True)
        scores = scores + bias
    else:
        raise TypeError(f"attn_mask must be boolean or floating point, got {attn_mask.dtype}")
    if not dead.any():
        return torch.softmax(scores, dim=-1)
    # a row of -inf has no maximum: softmax would give 0/0 = NaN; give it zero weights instead
    return torch.softmax(scores.masked_fill(dead, 0.0), dim=-1).masked_fill(dead, 0.0)


# ---------------------------------------------------------------- scaled dot-product attention

def _check_qkv(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> None:
    q, k, v = tuple(query.shape), tuple(key.shape), tuple(value.shape)
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise ValueError(f"query, key and value must be (…, L, E), (…, S, E), (…, S, Ev); got {q}, {k}, {v}")
    if q[-1] != k[-1]:
        raise ValueError(f"query and key must end in the same size E: query {q} (E={q[-1]}), key {k} (E={k[-1]})")
    if k[-2] != v[-2]:
        raise ValueError(f"key and value must have as many rows S: key {k} (S={k[-2]}), value {v} (S={v[-2]})")


def attention_weights(query: torch.Tensor, key: torch.Tensor, attn_mask: torch.Tensor | None = None,
                      is_causal: bool = False, scale: float | None = None) -> torch.Tensor:
    """softmax(Q Kᵀ · scale) with the mask: (…, L, E), (…, S, E) → weights (…, L, S), each row
    summing to 1 (or 0 where every key is masked). ``scale`` defaults to 1/√E."""
    L, S, E = query.size(-2), key.size(-2), query.size(-1)
    if is_causal:
        if attn_mask is not None:
            raise ValueError("give attn_mask or is_causal=True, not both (as F.scaled_dot_product_attention)")
        attn_mask = causal_mask(L, S, device=query.device)
    scale = 1.0 / math.sqrt(E) if scale is None else scale
    scores = (query * scale) @ key.transpose(-2, -1)  # (…, L, S): every query against every key (scaling
    # the L × E queries first is the same product and cheaper than scaling the L × S scores)
    if attn_mask is not None:
        try:
            torch.broadcast_shapes(attn_mask.shape, scores.shape)
        except RuntimeError:
            raise ValueError(f"attn_mask {tuple(attn_mask.shape)} does not broadcast to the scores "
                             f"{tuple(scores.shape)} (…, L, S)") from None
    return masked_softmax(scores, attn_mask)


def scaled_dot_product_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                                 attn_mask: torch.Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None) -> torch.Tensor:
    r"""softmax(Q Kᵀ / √d_k + mask) V, step by step, with the arguments and results of
    ``torch.nn.functional.scaled_dot_product_attention``.

    ``query`` (…, L, E), ``key`` (…, S, E), ``value`` (…, S, Ev) → (…, L, Ev); the leading axes
    (batch, heads) broadcast. ``attn_mask``: boolean (True takes part) or float (added), broadcastable
    to (…, L, S). ``is_causal``: query ``i`` sees keys ``0 … i``. ``dropout_p``: dropout on the
    weights (always applied when > 0, as torch does: pass 0.0 at evaluation). ``scale``: 1/√E if None.

    Unlike the fused kernels, this builds the whole (L × S) weight matrix; memory grows as L·S.
    """
    _check_qkv(query, key, value)
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"dropout_p must be in [0, 1], got {dropout_p}")
    weights = attention_weights(query, key, attn_mask, is_causal, scale)  # (…, L, S)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p, training=True)
    return weights @ value  # (…, L, Ev)


# ---------------------------------------------------------------- modules with a learned score

def _as_queries(query: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """Accept one query per row (B, Dq) or several (B, L, Dq); return (B, L, Dq) and whether it was 2-D."""
    if query.dim() == 2:
        return query.unsqueeze(1), True
    if query.dim() == 3:
        return query, False
    raise ValueError(f"query must be (B, Dq) or (B, L, Dq), got shape {tuple(query.shape)}")


def _key_mask(mask: torch.Tensor | None, B: int, S: int) -> torch.Tensor | None:
    """A (B, S) padding mask becomes (B, 1, S) so it applies to every query; others must broadcast."""
    if mask is None:
        return None
    if mask.dim() == 2:
        if tuple(mask.shape) != (B, S):
            raise ValueError(f"a 2-D mask must be (B, S) = ({B}, {S}), got {tuple(mask.shape)}")
        return mask.unsqueeze(1)
    return mask


class AdditiveAttention(nn.Module):
    r"""Bahdanau's additive score, :math:`e_{ts} = v^\top \tanh(W_q q_t + W_k k_s)`, then softmax over
    the keys and the weighted sum of the values.

    ``forward(query, keys, values=None, mask=None)``: ``query`` (B, Dq) or (B, L, Dq), ``keys`` (B, S, Dk),
    ``values`` (B, S, Dv) (the keys if None), ``mask`` boolean (B, S) or (B, L, S), True takes part
    → ``(context, weights)``: (B, Dv), (B, S) for a 2-D query; (B, L, Dv), (B, L, S) otherwise.
    :meth:`project_keys` precomputes :math:`W_k k_s` once per source, so a decoder that calls the
    module at every step pays for it once (pass ``projected_keys=``).
    """

    def __init__(self, query_size: int, key_size: int, hidden_size: int) -> None:
        super().__init__()
        self.query_proj = nn.Linear(query_size, hidden_size, bias=False)  # W_q
        self.key_proj = nn.Linear(key_size, hidden_size, bias=True)  # W_k (its bias is the b of the paper)
        self.v = nn.Linear(hidden_size, 1, bias=False)  # v_a

    def project_keys(self, keys: torch.Tensor) -> torch.Tensor:
        return self.key_proj(keys)  # (B, S, A)

    def score(self, query: torch.Tensor, keys: torch.Tensor, projected_keys: torch.Tensor | None = None) -> torch.Tensor:
        """(B, L, Dq), (B, S, Dk) → scores (B, L, S) before the mask and softmax."""
        pk = self.project_keys(keys) if projected_keys is None else projected_keys  # (B, S, A)
        pq = self.query_proj(query)  # (B, L, A)
        return self.v(torch.tanh(pq.unsqueeze(2) + pk.unsqueeze(1))).squeeze(-1)  # (B, L, S, A) → (B, L, S)

    def forward(self, query, keys, values=None, mask=None, projected_keys=None):
        values = keys if values is None else values
        q, flat = _as_queries(query)
        if keys.dim() != 3 or values.dim() != 3 or keys.shape[:2] != values.shape[:2] or keys.size(0) != q.size(0):
            raise ValueError(f"keys and values must be (B, S, ·) with the query's B: query {tuple(query.shape)}, "
                             f"keys {tuple(keys.shape)}, values {tuple(values.shape)}")
        weights = masked_softmax(self.score(q, keys, projected_keys), _key_mask(mask, keys.size(0), keys.size(1)))
        context = weights @ values  # (B, L, S) @ (B, S, Dv) → (B, L, Dv)
        return (context.squeeze(1), weights.squeeze(1)) if flat else (context, weights)


class DotProductAttention(nn.Module):
    r"""Multiplicative scores: dot :math:`q^\top k`, scaled dot :math:`q^\top k / \sqrt{d}` (``scaled=True``),
    or Luong's general :math:`q^\top W_a k` when ``query_size`` and ``key_size`` are given (then the
    sizes may differ; ``scaled`` divides by √query_size).

    Same ``forward`` as :class:`AdditiveAttention`.
    """

    def __init__(self, query_size: int | None = None, key_size: int | None = None, scaled: bool = True) -> None:
        super().__init__()
        if (query_size is None) != (key_size is None):
            raise ValueError("give both query_size and key_size (the 'general' score) or neither (plain dot)")
        self.scaled = scaled
        self.weight = nn.Linear(key_size, query_size, bias=False) if key_size is not None else None  # W_a

    def project_keys(self, keys: torch.Tensor) -> torch.Tensor:
        return keys if self.weight is None else self.weight(keys)  # (B, S, Dq)

    def score(self, query: torch.Tensor, keys: torch.Tensor, projected_keys: torch.Tensor | None = None) -> torch.Tensor:
        pk = self.project_keys(keys) if projected_keys is None else projected_keys  # (B, S, Dq)
        if pk.size(-1) != query.size(-1):
            raise ValueError(f"a dot score needs the query and key sizes to agree: query {tuple(query.shape)}, "
                             f"keys {tuple(keys.shape)}; give query_size and key_size for the general score")
        scores = query @ pk.transpose(1, 2)  # (B, L, Dq) @ (B, Dq, S) → (B, L, S)
        return scores / math.sqrt(query.size(-1)) if self.scaled else scores

    forward = AdditiveAttention.forward


# ---------------------------------------------------------------- multi-head attention (chapter 8)

def _merge_masks(attn_mask: torch.Tensor | None, key_padding_mask: torch.Tensor | None, B: int, H: int, L: int, S: int,
                 dtype: torch.dtype) -> torch.Tensor | None:
    """``nn.MultiheadAttention``'s masks (boolean True = *ignore*, or float added) as one float mask
    (B, H, L, S) or broadcastable, to add to the scores."""
    def as_bias(mask: torch.Tensor) -> torch.Tensor:
        if mask.dtype == torch.bool:
            return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(mask, NEG_INF)
        if not mask.is_floating_point():
            raise TypeError(f"masks must be boolean or floating point, got {mask.dtype}")
        return mask.to(dtype)

    bias = None
    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (L, S):
                raise ValueError(f"a 2-D attn_mask must be (L, S) = ({L}, {S}), got {tuple(attn_mask.shape)}")
            bias = as_bias(attn_mask)  # (L, S)
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (B * H, L, S):
                raise ValueError(f"a 3-D attn_mask must be (B*num_heads, L, S) = ({B * H}, {L}, {S}), "
                                 f"got {tuple(attn_mask.shape)}")
            bias = as_bias(attn_mask).view(B, H, L, S)
        else:
            raise ValueError(f"attn_mask must be (L, S) or (B*num_heads, L, S), got {tuple(attn_mask.shape)}")
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (B, S):
            raise ValueError(f"key_padding_mask must be (B, S) = ({B}, {S}), got {tuple(key_padding_mask.shape)}")
        pad = as_bias(key_padding_mask).view(B, 1, 1, S)
        bias = pad if bias is None else bias + pad
    return bias


class MultiHeadAttention(nn.Module):
    r"""Multi-head attention written out, with the parameters and the ``forward`` of ``nn.MultiheadAttention``.

    .. math::

       \mathrm{head}_i = \mathrm{Attention}(Q W_i^Q, K W_i^K, V W_i^V), \qquad
       \mathrm{MultiHead}(Q, K, V) = [\mathrm{head}_1; \dots; \mathrm{head}_h]\, W^O

    The three input projections of all heads are one (3E × E) matrix ``in_proj_weight`` (rows
    ``0:E`` for the queries, ``E:2E`` keys, ``2E:3E`` values) and ``in_proj_bias``; ``out_proj`` is
    :math:`W^O`. These are ``nn.MultiheadAttention``'s names and layout, so
    ``load_state_dict(torch_mha.state_dict())`` works both ways. Each head works on its own
    ``E / num_heads`` columns of the projected queries, keys and values.

    Masks follow **nn.MultiheadAttention**'s convention, the opposite of
    :func:`scaled_dot_product_attention`'s: in ``key_padding_mask`` (B, S) and ``attn_mask`` (L, S)
    or (B·heads, L, S), boolean ``True`` means *ignore*; float masks are added. ``is_causal=True``
    without an ``attn_mask`` builds the causal mask (torch requires you to pass it as well).
    A query whose keys are all masked gets zeros (torch gives NaN on some of its paths).

    ``fused=True`` computes the same thing with ``F.scaled_dot_product_attention`` (fast kernels)
    when ``need_weights=False``; with ``need_weights=True`` the weights have to be built, so the
    from-scratch path runs either way.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = True, fused: bool = False, device=None, dtype=None) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        factory = dict(device=device, dtype=dtype)
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.dropout, self.batch_first, self.fused = dropout, batch_first, fused
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim, **factory))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dim, **factory)) if bias else None
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """As torch: Xavier-uniform input projections, zero biases (``out_proj.weight`` keeps nn.Linear's init)."""
        nn.init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            nn.init.zeros_(self.in_proj_bias)
            nn.init.zeros_(self.out_proj.bias)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape  # (B, T, E) → (B, heads, T, head_dim): head h owns columns h*d … h*d+d-1
        return x.view(B, T, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                key_padding_mask: torch.Tensor | None = None, need_weights: bool = True,
                attn_mask: torch.Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``query`` (B, L, E), ``key`` and ``value`` (B, S, E) (time first if ``batch_first=False``) →
        ``(output (B, L, E), weights)``; weights (B, L, S) averaged over the heads, (B, heads, L, S)
        with ``average_attn_weights=False``, None with ``need_weights=False``."""
        if query.dim() != 3 or key.dim() != 3 or value.dim() != 3:
            raise ValueError(f"query, key and value must be 3-D (batched), got {tuple(query.shape)}, "
                             f"{tuple(key.shape)}, {tuple(value.shape)}")
        if not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        B, L, E = query.shape
        S = key.size(1)
        if E != self.embed_dim or key.size(-1) != E or value.size(-1) != E or tuple(key.shape[:2]) != tuple(value.shape[:2]) \
                or key.size(0) != B:
            raise ValueError(f"expected query (B, L, {self.embed_dim}) and key, value (B, S, {self.embed_dim}); got "
                             f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
        if is_causal and attn_mask is None:
            attn_mask = ~causal_mask(L, S, device=query.device)  # True = ignore (this module's convention)
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        b_q, b_k, b_v = self.in_proj_bias.chunk(3) if self.in_proj_bias is not None else (None, None, None)
        q = self._split_heads(F.linear(query, w_q, b_q))  # (B, h, L, d)
        k = self._split_heads(F.linear(key, w_k, b_k))  # (B, h, S, d)
        v = self._split_heads(F.linear(value, w_v, b_v))  # (B, h, S, d)
        bias = _merge_masks(attn_mask, key_padding_mask, B, self.num_heads, L, S, q.dtype)
        p = self.dropout if self.training else 0.0
        weights = None
        if self.fused and not need_weights:
            dead = None if bias is None else torch.isneginf(bias).all(-1, keepdim=True)  # keep "zeros, not NaN"
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=None if bias is None else bias.masked_fill(dead, 0.0),
                                                 dropout_p=p)
            if dead is not None:
                out = out.masked_fill(dead, 0.0)
        else:
            weights = attention_weights(q, k, bias)  # (B, h, L, S)
            out = F.dropout(weights, p=p, training=True) @ v if p > 0 else weights @ v  # (B, h, L, d)
        out = self.out_proj(out.transpose(1, 2).reshape(B, L, E))  # concatenate the heads, then W^O
        if not self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        return out, (weights.mean(dim=1) if average_attn_weights else weights)
