"""Plausible wrong answers to a07-attention (masked softmax, scaled dot-product attention, Bahdanau's additive
scores, Luong dot attention over padded encoder outputs, NTM content addressing); each must lose exactly its
task's points.

WRONG_ANSWERS maps the grade_id of an answer cell to (description, source) pairs: the source is the
whole answer cell as a student might hand it in. tests/test_wrong_answers.py grades the solution with
that one cell replaced and checks that only the test cell of that task drops to 0.
"""

ASSIGNMENT = "a07-attention"


from _edits import variant as _variant  # noqa: E402  (tests/wrong_answers is on sys.path when loaded)


# ---- task 1: masked_softmax (answer cell "masked-softmax") -----------------------------------------------

_SOFTMAX = '''
def masked_softmax(scores, mask=None):
    if mask is None:
        return torch.softmax(scores, dim=-1)
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise ValueError("mask must be boolean")
    try:
        shape = torch.broadcast_shapes(mask.shape, scores.shape)
    except RuntimeError:
        shape = None
    if shape != scores.shape:
        raise ValueError("mask does not broadcast to scores")
    mask = mask.expand(scores.shape)
    dead = ~mask.any(dim=-1, keepdim=True)
    filled = scores.masked_fill(~mask, -math.inf)
    weights = torch.softmax(filled.masked_fill(dead, 0.0), dim=-1)
    return weights.masked_fill(~mask, 0.0)
'''

_NAIVE_EXP = '''
    ex = torch.exp(scores) * mask
    total = ex.sum(dim=-1, keepdim=True)
    return torch.where(total > 0, ex / total, torch.zeros_like(ex))
'''

SOFTMAX = [
    ("softmax over the queries (dim=-2) instead of the keys",
     _variant(_SOFTMAX, ("torch.softmax(scores, dim=-1)", "torch.softmax(scores, dim=0 if scores.ndim == 1 else -2)"),
              ("filled.masked_fill(dead, 0.0), dim=-1)", "filled.masked_fill(dead, 0.0), dim=-2 if scores.ndim > 1 else -1)"))),
    ("mask applied after the softmax (weights zeroed, not renormalised)",
     _SOFTMAX[: _SOFTMAX.index("    dead = ")] + "    return torch.softmax(scores, dim=-1).masked_fill(~mask, 0.0)\n"),
    ("mask convention inverted (True = masked out)",
     _variant(_SOFTMAX, ("mask = mask.expand(scores.shape)", "mask = ~mask.expand(scores.shape)"))),
    ("NaN for fully masked rows (-inf straight into the softmax)",
     _SOFTMAX[: _SOFTMAX.index("    dead = ")] + "    return torch.softmax(scores.masked_fill(~mask, -math.inf), dim=-1)\n"),
    ("-1e9 instead of -inf: a fully masked row gets uniform weights 1/S",
     _SOFTMAX[: _SOFTMAX.index("    dead = ")] + "    return torch.softmax(scores.masked_fill(~mask, -1e9), dim=-1)\n"),
    ("exp without subtracting the maximum (overflows for large scores)",
     _SOFTMAX[: _SOFTMAX.index("    dead = ")] + _NAIVE_EXP.lstrip("\n")),
    ("masked_fill_ in place (modifies scores)",
     _variant(_SOFTMAX, ("filled = scores.masked_fill(~mask, -math.inf)", "filled = scores.masked_fill_(~mask, -math.inf)"))),
    ("mask multiplied into the scores (masked keys get score 0, not -inf)",
     _SOFTMAX[: _SOFTMAX.index("    dead = ")] + "    return torch.softmax(scores * mask, dim=-1)\n"),
]

# ---- task 2: scaled_dot_product_attention (answer cell "sdpa") ----------------------------------------------

_SDPA = '''
def scaled_dot_product_attention(query, key, value, mask=None):
    for x in (query, key, value):
        if not isinstance(x, torch.Tensor) or x.ndim < 2:
            raise ValueError("inputs must be at least 2-D")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError("shapes do not agree")
    d_k = query.shape[-1]
    scores = query @ key.transpose(-2, -1) / math.sqrt(d_k)
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise ValueError("mask must be boolean")
        try:
            shape = torch.broadcast_shapes(mask.shape, scores.shape)
        except RuntimeError:
            shape = None
        if shape != scores.shape:
            raise ValueError("mask does not broadcast to the scores")
        mask = mask.expand(scores.shape)
        dead = ~mask.any(dim=-1, keepdim=True)
        scores = scores.masked_fill(~mask, -math.inf).masked_fill(dead, 0.0)
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)
    return weights @ value, weights
'''

_SOFTMAX_THEN_MASK = '''
        mask = mask.expand(scores.shape)
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)
    return weights @ value, weights
'''

SDPA = [
    ("no 1/sqrt(d_k) scale", _variant(_SDPA, ("query @ key.transpose(-2, -1) / math.sqrt(d_k)", "query @ key.transpose(-2, -1)"))),
    ("divided by d_k instead of sqrt(d_k)", _variant(_SDPA, ("/ math.sqrt(d_k)", "/ d_k"))),
    ("scaled by the square root of the value size Ev", _variant(_SDPA, ("d_k = query.shape[-1]", "d_k = value.shape[-1]"))),
    ("scaled by the square root of the number of keys S", _variant(_SDPA, ("d_k = query.shape[-1]", "d_k = key.shape[-2]"))),
    ("mask convention inverted (True = masked out)", _variant(_SDPA, ("mask = mask.expand(scores.shape)", "mask = ~mask.expand(scores.shape)"))),
    ("mask applied after the softmax (weights zeroed, not renormalised)",
     _SDPA[: _SDPA.index("        mask = mask.expand")] + _SOFTMAX_THEN_MASK.lstrip("\n")),
    ("softmax over the queries (dim=-2) instead of the keys", _variant(_SDPA, ("torch.softmax(scores, dim=-1)", "torch.softmax(scores, dim=-2)"))),
    ("NaN for fully masked queries (-inf straight into the softmax)",
     _variant(_SDPA, (".masked_fill(~mask, -math.inf).masked_fill(dead, 0.0)", ".masked_fill(~mask, -math.inf)"),
              ("        weights = weights.masked_fill(~mask, 0.0)\n", "        pass\n"))),
    ("key.transpose(1, 2): right only for 3-D inputs", _variant(_SDPA, ("key.transpose(-2, -1)", "key.transpose(1, 2)"))),
]

# ---- task 3: additive_scores (answer cell "additive-scores") -----------------------------------------------

_ADDITIVE = '''
def additive_scores(query, keys, W_q, W_k, v):
    if not isinstance(query, torch.Tensor) or query.ndim != 2:
        raise ValueError("query must be (B, Dq)")
    if not isinstance(keys, torch.Tensor) or keys.ndim != 3 or keys.shape[0] != query.shape[0]:
        raise ValueError("keys must be (B, S, Dk)")
    if v.ndim != 1:
        raise ValueError("v must be (A,)")
    A = v.shape[0]
    if W_q.shape != (A, query.shape[1]) or W_k.shape != (A, keys.shape[2]):
        raise ValueError("W_q must be (A, Dq) and W_k (A, Dk)")
    projected_query = query @ W_q.T
    projected_keys = keys @ W_k.T
    hidden = torch.tanh(projected_query[:, None, :] + projected_keys)
    return hidden @ v
'''

ADDITIVE = [
    ("W_q and W_k swapped (W_q applied to the keys)",
     _variant(_ADDITIVE, ("W_q.shape != (A, query.shape[1]) or W_k.shape != (A, keys.shape[2])",
                          "W_k.shape != (A, query.shape[1]) or W_q.shape != (A, keys.shape[2])"),
              ("projected_query = query @ W_q.T", "projected_query = query @ W_k.T"),
              ("projected_keys = keys @ W_k.T", "projected_keys = keys @ W_q.T"))),
    ("tanh missing", _variant(_ADDITIVE, ("torch.tanh(projected_query[:, None, :] + projected_keys)", "projected_query[:, None, :] + projected_keys"))),
    ("weights not transposed (query @ W_q instead of W_q q)",
     _variant(_ADDITIVE, ("W_q.shape != (A, query.shape[1]) or W_k.shape != (A, keys.shape[2])",
                          "W_q.shape[0] != W_q.shape[1] or W_k.shape[0] != W_k.shape[1]"),
              ("query @ W_q.T", "query @ W_q"), ("keys @ W_k.T", "keys @ W_k"))),
    ("sum over the hidden units instead of the dot product with v", _variant(_ADDITIVE, ("return hidden @ v", "return hidden.sum(dim=-1)"))),
    ("softmax applied: returns the weights instead of the scores", _variant(_ADDITIVE, ("return hidden @ v", "return torch.softmax(hidden @ v, dim=-1)"))),
    ("query projection added along the wrong axis (only right-shaped when B == S)",
     _variant(_ADDITIVE, ("projected_query[:, None, :] + projected_keys", "projected_query[None, :, :] + projected_keys"))),
]

# ---- task 4: attention_context (answer cell "attention-context") -------------------------------------------

_CONTEXT = '''
def attention_context(decoder_states, encoder_outputs, src_lengths):
    for x in (decoder_states, encoder_outputs):
        if not isinstance(x, torch.Tensor) or x.ndim != 3:
            raise ValueError("inputs must be 3-D")
    B, T, H = decoder_states.shape
    if encoder_outputs.shape[0] != B or encoder_outputs.shape[2] != H:
        raise ValueError("encoder_outputs must be (B, S, H)")
    S = encoder_outputs.shape[1]
    src_lengths = torch.as_tensor(src_lengths)
    if src_lengths.shape != (B,) or (src_lengths < 1).any() or (src_lengths > S).any():
        raise ValueError("bad src_lengths")
    real = torch.arange(S)[None, :] < src_lengths[:, None]
    scores = decoder_states @ encoder_outputs.transpose(1, 2)
    scores = scores.masked_fill(~real[:, None, :], -math.inf)
    weights = torch.softmax(scores, dim=-1)
    return weights @ encoder_outputs, weights
'''

CONTEXT = [
    ("padding not masked (src_lengths ignored)",
     _variant(_CONTEXT, ("    scores = scores.masked_fill(~real[:, None, :], -math.inf)\n", ""))),
    ("off by one: one padded position attended (arange(S) <= length)",
     _variant(_CONTEXT, ("torch.arange(S)[None, :] < src_lengths[:, None]", "torch.arange(S)[None, :] <= src_lengths[:, None]"))),
    ("scores divided by sqrt(H) (scaled dot instead of Luong's dot)",
     _variant(_CONTEXT, ("decoder_states @ encoder_outputs.transpose(1, 2)", "decoder_states @ encoder_outputs.transpose(1, 2) / math.sqrt(H)"))),
    ("mask applied after the softmax (padding zeroed, not renormalised)",
     _variant(_CONTEXT, ("    scores = scores.masked_fill(~real[:, None, :], -math.inf)\n    weights = torch.softmax(scores, dim=-1)\n",
                         "    weights = torch.softmax(scores, dim=-1).masked_fill(~real[:, None, :], 0.0)\n"))),
    ("softmax over the decoder steps (dim=1) instead of the source positions",
     _variant(_CONTEXT, ("    scores = scores.masked_fill(~real[:, None, :], -math.inf)\n    weights = torch.softmax(scores, dim=-1)\n",
                         "    weights = torch.softmax(scores, dim=1).masked_fill(~real[:, None, :], 0.0)\n"))),
    ("mask inverted (the padding kept, the real positions masked)",
     _variant(_CONTEXT, ("scores.masked_fill(~real[:, None, :], -math.inf)", "scores.masked_fill(real[:, None, :], -math.inf)"))),
]

# ---- task 5: content_addressing (answer cell "content-addressing") ------------------------------------------

_ADDRESS = '''
def content_addressing(memory, key, beta):
    if not isinstance(memory, torch.Tensor) or memory.ndim != 3:
        raise ValueError("memory must be (B, N, M)")
    B, N, M = memory.shape
    if key.shape != (B, M) or beta.shape != (B,) or (beta < 0).any():
        raise ValueError("bad key or beta")
    dots = (memory @ key[:, :, None]).squeeze(-1)
    norms = memory.norm(dim=-1) * key.norm(dim=-1, keepdim=True)
    similarity = dots / norms.clamp_min(1e-8)
    return torch.softmax(beta[:, None] * similarity, dim=-1)
'''

ADDRESS = [
    ("dot product instead of cosine similarity", _variant(_ADDRESS, ("dots / norms.clamp_min(1e-8)", "dots"))),
    ("key strength applied after the softmax",
     _variant(_ADDRESS, ("torch.softmax(beta[:, None] * similarity, dim=-1)", "beta[:, None] * torch.softmax(similarity, dim=-1)"))),
    ("beta not given its own axis (beta * similarity: right only when B == 1 or broadcast by chance when B == N)",
     _variant(_ADDRESS, ("beta[:, None] * similarity", "beta * similarity"))),
    ("no epsilon: a zero memory row gives 0/0 = NaN", _variant(_ADDRESS, ("norms.clamp_min(1e-8)", "norms"))),
    ("only the memory rows normalised (the key length forgotten)",
     _variant(_ADDRESS, ("memory.norm(dim=-1) * key.norm(dim=-1, keepdim=True)", "memory.norm(dim=-1)"))),
    ("exp without subtracting the maximum (overflows for a large beta)",
     _variant(_ADDRESS, ("    return torch.softmax(beta[:, None] * similarity, dim=-1)\n",
                         "    ex = torch.exp(beta[:, None] * similarity)\n    return ex / ex.sum(dim=-1, keepdim=True)\n"))),
]

WRONG_ANSWERS = {
    "masked-softmax": SOFTMAX,
    "sdpa": SDPA,
    "additive-scores": ADDITIVE,
    "attention-context": CONTEXT,
    "content-addressing": ADDRESS,
}
