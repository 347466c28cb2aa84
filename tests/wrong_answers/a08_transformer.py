"""Plausible wrong answers to a08-transformer (split/merge heads, multi-head attention, sinusoidal positional
encoding, causal mask, a pre-norm encoder layer); each must lose exactly its task's points.

WRONG_ANSWERS maps the grade_id of an answer cell to (description, source) pairs: the source is the
whole answer cell as a student might hand it in. tests/test_wrong_answers.py grades the solution with
that one cell replaced and checks that only the test cell of that task drops to 0.
"""

ASSIGNMENT = "a08-transformer"


from _edits import variant as _variant  # noqa: E402  (tests/wrong_answers is on sys.path when loaded)


# ---- task 1: split_heads and merge_heads (answer cell "split-heads") --------------------------------------

_SPLIT = '''
def split_heads(x, num_heads):
    if not isinstance(x, torch.Tensor) or x.ndim != 3:
        raise ValueError("x must be (B, T, E)")
    B, T, E = x.shape
    if not isinstance(num_heads, int) or num_heads < 1 or E % num_heads:
        raise ValueError("num_heads must divide E")
    return x.reshape(B, T, num_heads, E // num_heads).transpose(1, 2)


def merge_heads(x):
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise ValueError("x must be (B, h, T, d)")
    B, H, T, d = x.shape
    return x.transpose(1, 2).reshape(B, T, H * d)
'''

SPLIT = [
    ("split by view(B, h, T, d) without the transpose (heads cut across time)",
     _variant(_SPLIT, ("x.reshape(B, T, num_heads, E // num_heads).transpose(1, 2)", "x.view(B, num_heads, T, E // num_heads)"))),
    ("strided heads: head i gets columns i, i + h, ... (E viewed as (d, h))",
     _variant(_SPLIT, ("x.reshape(B, T, num_heads, E // num_heads).transpose(1, 2)",
                       "x.reshape(B, T, E // num_heads, num_heads).permute(0, 3, 1, 2)"))),
    ("merge without the transpose (reshape (B, h, T, d) straight to (B, T, E))",
     _variant(_SPLIT, ("x.transpose(1, 2).reshape(B, T, H * d)", "x.reshape(B, T, H * d)"))),
    ("merge interleaves the heads (h last before flattening)",
     _variant(_SPLIT, ("x.transpose(1, 2).reshape(B, T, H * d)", "x.permute(0, 2, 3, 1).reshape(B, T, H * d)"))),
    ("merge with view after the transpose (a RuntimeError: the transposed tensor is not contiguous)",
     _variant(_SPLIT, ("x.transpose(1, 2).reshape(B, T, H * d)", "x.transpose(1, 2).view(B, T, H * d)"))),
    ("divisibility not checked (reshape raises RuntimeError, not ValueError)",
     _variant(_SPLIT, ("num_heads < 1 or E % num_heads", "num_heads < 1"))),
]

# ---- task 2: multi_head_attention (answer cell "multi-head-attention") ------------------------------------

_MHA = '''
def multi_head_attention(query, key, value, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias,
                         num_heads, key_padding_mask=None, attn_mask=None):
    if any(not isinstance(t, torch.Tensor) or t.ndim != 3 for t in (query, key, value)):
        raise ValueError("query, key and value must be 3-D")
    B, L, E = query.shape
    S = key.shape[1]
    if key.shape != (B, S, E) or value.shape != key.shape:
        raise ValueError("bad key or value")
    if not isinstance(num_heads, int) or num_heads < 1 or E % num_heads:
        raise ValueError("num_heads must divide E")
    if key_padding_mask is not None and key_padding_mask.shape != (B, S):
        raise ValueError("bad key_padding_mask")
    if attn_mask is not None and attn_mask.shape != (L, S):
        raise ValueError("bad attn_mask")
    H, d = num_heads, E // num_heads
    w_q, w_k, w_v = in_proj_weight.chunk(3)
    b_q, b_k, b_v = in_proj_bias.chunk(3) if in_proj_bias is not None else (None, None, None)

    def heads(x, w, b):
        return F.linear(x, w, b).reshape(B, x.shape[1], H, d).transpose(1, 2)

    q, k, v = heads(query, w_q, b_q), heads(key, w_k, b_k), heads(value, w_v, b_v)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)
    ignore = torch.zeros(L, S, dtype=torch.bool)
    if attn_mask is not None:
        ignore = ignore | attn_mask
    if key_padding_mask is not None:
        ignore = ignore | key_padding_mask[:, None, None, :]
    weights = torch.softmax(scores.masked_fill(ignore, -math.inf), dim=-1)
    context = (weights @ v).transpose(1, 2).reshape(B, L, E)
    return F.linear(context, out_proj_weight, out_proj_bias), weights.mean(dim=1)
'''

MHA = [
    ("mask convention inverted (True = attend, as in F.scaled_dot_product_attention)",
     _variant(_MHA, ("scores.masked_fill(ignore, -math.inf)", "scores.masked_fill(~ignore, -math.inf)"))),
    ("mask applied after the softmax (weights zeroed, not renormalised)",
     _variant(_MHA, ("torch.softmax(scores.masked_fill(ignore, -math.inf), dim=-1)", "torch.softmax(scores, dim=-1).masked_fill(ignore, 0.0)"))),
    ("no 1/sqrt(d_k) scaling", _variant(_MHA, ("q @ k.transpose(-2, -1) / math.sqrt(d)", "q @ k.transpose(-2, -1)"))),
    ("scaled by sqrt(E) instead of sqrt(E / h)", _variant(_MHA, ("q @ k.transpose(-2, -1) / math.sqrt(d)", "q @ k.transpose(-2, -1) / math.sqrt(E)"))),
    ("weights summed over the heads, not averaged", _variant(_MHA, ("weights.mean(dim=1)", "weights.sum(dim=1)"))),
    ("per-head weights returned (B, h, L, S)", _variant(_MHA, ("weights.mean(dim=1)", "weights"))),
    ("heads split by view(B, h, n, d) without the transpose",
     _variant(_MHA, ("F.linear(x, w, b).reshape(B, x.shape[1], H, d).transpose(1, 2)", "F.linear(x, w, b).reshape(B, H, x.shape[1], d)"))),
    ("heads merged without the transpose", _variant(_MHA, ("(weights @ v).transpose(1, 2).reshape(B, L, E)", "(weights @ v).reshape(B, L, E)"))),
    ("projections as x @ W instead of x @ W^T",
     _variant(_MHA, ("F.linear(x, w, b).reshape", "(x @ w + (0 if b is None else b)).reshape"))),
    ("softmax over the queries (dim=-2)", _variant(_MHA, ("masked_fill(ignore, -math.inf), dim=-1)", "masked_fill(ignore, -math.inf), dim=-2)"))),
    ("key_padding_mask ignored", _variant(_MHA, ("        ignore = ignore | key_padding_mask[:, None, None, :]\n", "        pass\n"))),
    ("output projection forgotten", _variant(_MHA, ("return F.linear(context, out_proj_weight, out_proj_bias), ", "return context, "))),
    ("W_q and W_k swapped (in_proj_weight chunks read as k, q, v)", _variant(_MHA, ("w_q, w_k, w_v = in_proj_weight.chunk(3)", "w_k, w_q, w_v = in_proj_weight.chunk(3)"),
                                                                        ("b_q, b_k, b_v = in_proj_bias", "b_k, b_q, b_v = in_proj_bias"))),
    ("calls F.multi_head_attention_forward (refused while the function runs)",
     _variant(_MHA, ("    H, d = num_heads, E // num_heads\n",
                     "    out, w = F.multi_head_attention_forward(query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1), E, num_heads,\n"
                     "        in_proj_weight, in_proj_bias, None, None, False, 0.0, out_proj_weight, out_proj_bias, training=False,\n"
                     "        key_padding_mask=key_padding_mask, attn_mask=attn_mask)\n"
                     "    return out.transpose(0, 1), w\n"
                     "    H, d = num_heads, E // num_heads\n"))),
]

# ---- task 3: sinusoidal_positional_encoding (answer cell "positional-encoding") ---------------------------

_PE = '''
def sinusoidal_positional_encoding(max_len, d_model):
    if not isinstance(d_model, int) or d_model <= 0 or d_model % 2:
        raise ValueError("d_model must be a positive even number")
    if not isinstance(max_len, int) or max_len < 0:
        raise ValueError("max_len must be >= 0")
    position = torch.arange(max_len, dtype=torch.float64)[:, None]
    omega = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(position * omega)
    pe[:, 1::2] = torch.cos(position * omega)
    return pe.float()
'''

PE = [
    ("sin and cos swapped (cos on even columns)",
     _variant(_PE, ("pe[:, 0::2] = torch.sin(position * omega)", "pe[:, 0::2] = torch.cos(position * omega)"),
              ("pe[:, 1::2] = torch.cos(position * omega)", "pe[:, 1::2] = torch.sin(position * omega)"))),
    ("10000^(i/d) with i the pair index (the 2 forgotten)",
     _variant(_PE, ("-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model", "-torch.arange(0, d_model // 2, dtype=torch.float64) / d_model"))),
    ("odd column 2i+1 uses the exponent (2i+1)/d instead of its sine partner's 2i/d",
     _variant(_PE, ("    pe[:, 1::2] = torch.cos(position * omega)\n",
                    "    pe[:, 1::2] = torch.cos(position * 10000.0 ** (-torch.arange(1, d_model, 2, dtype=torch.float64) / d_model))\n"))),
    ("sines in the first half, cosines in the second (not interleaved)",
     _variant(_PE, ("    pe[:, 0::2] = torch.sin(position * omega)\n    pe[:, 1::2] = torch.cos(position * omega)\n",
                    "    pe = torch.cat([torch.sin(position * omega), torch.cos(position * omega)], dim=1)\n"))),
    ("positions start at 1", _variant(_PE, ("torch.arange(max_len, dtype=torch.float64)", "torch.arange(1, max_len + 1, dtype=torch.float64)"))),
    ("multiplied by 10000^(2i/d) instead of divided",
     _variant(_PE, ("10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)", "10000.0 ** (torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)"))),
    ("returned in float64", _variant(_PE, ("return pe.float()", "return pe"))),
]

# ---- task 4: causal_mask (answer cell "causal-mask") -----------------------------------------------------

_CAUSAL = '''
def causal_mask(L, S=None):
    if S is None:
        S = L
    if L < 0 or S < L:
        raise ValueError("need 0 <= L <= S")
    return torch.ones(L, S, dtype=torch.bool).triu(S - L + 1)
'''

CAUSAL = [
    ("convention inverted (True = may attend: the lower triangle)",
     _variant(_CAUSAL, ("torch.ones(L, S, dtype=torch.bool).triu(S - L + 1)", "torch.ones(L, S, dtype=torch.bool).tril(S - L)"))),
    ("transposed: True below the diagonal (the past masked, the future attended)",
     _variant(_CAUSAL, ("torch.ones(L, S, dtype=torch.bool).triu(S - L + 1)", "torch.ones(L, S, dtype=torch.bool).tril(S - L - 1)"))),
    ("the diagonal masked too (a position cannot see itself)",
     _variant(_CAUSAL, ("torch.ones(L, S, dtype=torch.bool).triu(S - L + 1)", "torch.ones(L, S, dtype=torch.bool).triu(S - L)"))),
    ("aligned at the top left when L < S (query i treated as position i)",
     _variant(_CAUSAL, ("torch.ones(L, S, dtype=torch.bool).triu(S - L + 1)", "torch.ones(L, S, dtype=torch.bool).triu(1)"))),
    ("a float mask (-inf above the diagonal) instead of a boolean one",
     _variant(_CAUSAL, ("torch.ones(L, S, dtype=torch.bool).triu(S - L + 1)",
                        "torch.zeros(L, S).masked_fill(torch.ones(L, S, dtype=torch.bool).triu(S - L + 1), float('-inf'))"))),
]

# ---- task 5: pre_norm_encoder_layer (answer cell "encoder-layer") ----------------------------------------

_LAYER = '''
def pre_norm_encoder_layer(x, state_dict, nhead, key_padding_mask=None, attn_mask=None, layer_norm_eps=1e-5):
    if not isinstance(x, torch.Tensor) or x.ndim != 3:
        raise ValueError("x must be (B, T, E)")
    B, T, E = x.shape
    if not isinstance(nhead, int) or nhead < 1 or E % nhead:
        raise ValueError("nhead must divide E")
    sd = state_dict
    H, d = nhead, E // nhead

    def layer_norm(z, weight, bias):
        mean = z.mean(dim=-1, keepdim=True)
        var = ((z - mean) ** 2).mean(dim=-1, keepdim=True)
        return (z - mean) / torch.sqrt(var + layer_norm_eps) * weight + bias

    def self_attention(z):
        q, k, v = F.linear(z, sd["self_attn.in_proj_weight"], sd["self_attn.in_proj_bias"]).chunk(3, dim=-1)
        q, k, v = (t.reshape(B, T, H, d).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(d)
        ignore = torch.zeros(T, T, dtype=torch.bool)
        if attn_mask is not None:
            ignore = ignore | attn_mask
        if key_padding_mask is not None:
            ignore = ignore | key_padding_mask[:, None, None, :]
        weights = torch.softmax(scores.masked_fill(ignore, -math.inf), dim=-1)
        context = (weights @ v).transpose(1, 2).reshape(B, T, E)
        return F.linear(context, sd["self_attn.out_proj.weight"], sd["self_attn.out_proj.bias"])

    def ffn(z):
        return F.linear(F.relu(F.linear(z, sd["linear1.weight"], sd["linear1.bias"])), sd["linear2.weight"], sd["linear2.bias"])

    h = x + self_attention(layer_norm(x, sd["norm1.weight"], sd["norm1.bias"]))
    return h + ffn(layer_norm(h, sd["norm2.weight"], sd["norm2.bias"]))
'''

_BLOCKS = ('''    h = x + self_attention(layer_norm(x, sd["norm1.weight"], sd["norm1.bias"]))
    return h + ffn(layer_norm(h, sd["norm2.weight"], sd["norm2.bias"]))
''')

LAYER = [
    ("post-norm (LN after the residual sum) where pre-norm is asked",
     _variant(_LAYER, (_BLOCKS, '''    h = layer_norm(x + self_attention(x), sd["norm1.weight"], sd["norm1.bias"])
    return layer_norm(h + ffn(h), sd["norm2.weight"], sd["norm2.bias"])
'''))),
    ("no residual around the feed-forward block",
     _variant(_LAYER, ('return h + ffn(layer_norm(h, sd["norm2.weight"], sd["norm2.bias"]))', 'return ffn(layer_norm(h, sd["norm2.weight"], sd["norm2.bias"]))'))),
    ("no residual around self-attention",
     _variant(_LAYER, ('h = x + self_attention(layer_norm(x, sd["norm1.weight"], sd["norm1.bias"]))',
                       'h = self_attention(layer_norm(x, sd["norm1.weight"], sd["norm1.bias"]))'))),
    ("the residual adds the normalised x (LN(x) + SA(LN(x)))",
     _variant(_LAYER, ('    h = x + self_attention(layer_norm(x, sd["norm1.weight"], sd["norm1.bias"]))\n',
                       '    x = layer_norm(x, sd["norm1.weight"], sd["norm1.bias"])\n    h = x + self_attention(x)\n'))),
    ("LayerNorm without eps", _variant(_LAYER, ("torch.sqrt(var + layer_norm_eps)", "torch.sqrt(var)"))),
    ("LayerNorm eps hard-coded to 1e-6", _variant(_LAYER, ("torch.sqrt(var + layer_norm_eps)", "torch.sqrt(var + 1e-6)"))),
    ("layer_norm_eps ignored (1e-5 hard-coded)", _variant(_LAYER, ("torch.sqrt(var + layer_norm_eps)", "torch.sqrt(var + 1e-5)"))),
    ("unbiased variance (divided by E - 1, Tensor.var's default)",
     _variant(_LAYER, ("var = ((z - mean) ** 2).mean(dim=-1, keepdim=True)", "var = z.var(dim=-1, keepdim=True)"))),
    ("norm1 used before both blocks",
     _variant(_LAYER, ('layer_norm(h, sd["norm2.weight"], sd["norm2.bias"])', 'layer_norm(h, sd["norm1.weight"], sd["norm1.bias"])'))),
    ("GELU instead of ReLU in the feed-forward block", _variant(_LAYER, ("F.linear(F.relu(", "F.linear(F.gelu("))),
    ("key_padding_mask ignored", _variant(_LAYER, ("            ignore = ignore | key_padding_mask[:, None, None, :]\n", "            pass\n"))),
    ("mask convention inverted in the attention", _variant(_LAYER, ("scores.masked_fill(ignore, -math.inf)", "scores.masked_fill(~ignore, -math.inf)"))),
    ("uses nn.TransformerEncoderLayer with the state dict (refused while the function runs)",
     _variant(_LAYER, ("    sd = state_dict\n",
                       "    layer = nn.TransformerEncoderLayer(E, nhead, state_dict['linear1.weight'].shape[0], dropout=0.0,\n"
                       "                                       batch_first=True, norm_first=True, layer_norm_eps=layer_norm_eps, dtype=x.dtype)\n"
                       "    layer.load_state_dict(state_dict)\n"
                       "    return layer(x, src_mask=attn_mask, src_key_padding_mask=key_padding_mask)\n"
                       "    sd = state_dict\n"))),
]

WRONG_ANSWERS = {
    "split-heads": SPLIT,
    "multi-head-attention": MHA,
    "positional-encoding": PE,
    "causal-mask": CAUSAL,
    "encoder-layer": LAYER,
}
