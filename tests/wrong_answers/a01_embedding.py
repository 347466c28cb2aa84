"""Plausible wrong answers to a01-embedding (one-hot, embedding by matrix product, cosine nearest
neighbours, skip-gram pairs, negative-sampling loss); each must lose exactly its task's points.

WRONG_ANSWERS maps the grade_id of an answer cell to (description, source) pairs: the source is the
whole answer cell as a student might hand it in. tests/test_wrong_answers.py grades the solution with
that one cell replaced and checks that only the test cell of that task drops to 0.
"""

ASSIGNMENT = "a01-embedding"


from _edits import variant as _variant  # noqa: E402  (tests/wrong_answers is on sys.path when loaded)


# ---- task 1: one_hot (answer cell "one-hot") ---------------------------------------------------------

_ONE_HOT = '''
def one_hot(ids, vocab_size):
    if vocab_size < 1:
        raise ValueError("vocab_size must be >= 1")
    if ids.numel() > 0 and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError("id out of range")
    out = torch.zeros(*ids.shape, vocab_size, device=ids.device)  # (..., V)
    out.scatter_(-1, ids.long().unsqueeze(-1), 1.0)
    return out
'''

ONE_HOT = [
    ("F.one_hot, which the task forbids",
     _variant(_ONE_HOT, ("    out = torch.zeros(*ids.shape, vocab_size, device=ids.device)  # (..., V)\n"
                         "    out.scatter_(-1, ids.long().unsqueeze(-1), 1.0)\n"
                         "    return out\n", "    return F.one_hot(ids.long(), vocab_size).float()\n"))),
    ("range check off by one: id == V passes (> instead of >=)",
     _variant(_ONE_HOT, ("ids.max() >= vocab_size", "ids.max() > vocab_size"))),
    ("broadcast comparison that returns a bool tensor, not float32",
     _variant(_ONE_HOT, ("    out = torch.zeros(*ids.shape, vocab_size, device=ids.device)  # (..., V)\n"
                         "    out.scatter_(-1, ids.long().unsqueeze(-1), 1.0)\n"
                         "    return out\n", "    return ids.unsqueeze(-1) == torch.arange(vocab_size)\n"))),
]

# ---- task 2: embed_by_matmul (answer cell "embed-by-matmul") -----------------------------------------

_EMBED = '''
def embed_by_matmul(ids, weight):
    vocab_size = weight.shape[0]
    x = one_hot(ids, vocab_size).to(weight.dtype)  # (B, T, V)
    return x @ weight  # (B, T, E)
'''

EMBED = [
    ("indexes the weight (weight[ids]) instead of multiplying",
     _variant(_EMBED, ("    return x @ weight  # (B, T, E)", "    return weight[ids]  # (B, T, E)"))),
    ("one-hot not cast to the weight's dtype (fails for float64 weights)",
     _variant(_EMBED, ("one_hot(ids, vocab_size).to(weight.dtype)", "one_hot(ids, vocab_size)"))),
]

# ---- task 3: most_similar (answer cell "most-similar") -----------------------------------------------

_SIMILAR = '''
def most_similar(query, matrix, k, exclude=None):
    if k < 1:
        raise ValueError("k must be >= 1")
    dots = matrix @ query  # (V,)
    norms = matrix.norm(dim=1) * query.norm()  # (V,)
    safe_norms = torch.where(norms > 0, norms, torch.ones_like(norms))
    sims = torch.where(norms > 0, dots / safe_norms, torch.zeros_like(dots))  # (V,)
    pairs = [(v, sims[v].item()) for v in range(matrix.shape[0]) if v != exclude]
    pairs.sort(key=lambda pair: (-pair[1], pair[0]))
    return pairs[:k]
'''

SIMILAR = [
    ("ranks by the dot product, not the cosine",
     _variant(_SIMILAR, ("torch.where(norms > 0, dots / safe_norms, torch.zeros_like(dots))", "dots"))),
    ("ties broken by the larger id",
     _variant(_SIMILAR, ("key=lambda pair: (-pair[1], pair[0])", "key=lambda pair: (pair[1], pair[0]), reverse=True"))),
    ("exclude applied after taking the top k (returns k - 1 pairs)",
     _variant(_SIMILAR, ("if v != exclude]", "]"), ("return pairs[:k]", "return [p for p in pairs[:k] if p[0] != exclude]"))),
]

# ---- task 4: skipgram_pairs (answer cell "skipgram-pairs") -------------------------------------------

_PAIRS = '''
def skipgram_pairs(sentences, window):
    if window < 1:
        raise ValueError("window must be >= 1")
    pairs = []
    for sentence in sentences:
        n = len(sentence)
        for i, center in enumerate(sentence):
            for j in range(max(0, i - window), min(n, i + window + 1)):
                if j != i:
                    pairs.append((center, sentence[j]))
    return pairs
'''

PAIRS = [
    ("window one position short on the right: range(i - m, i + m)",
     _variant(_PAIRS, ("min(n, i + window + 1)", "min(n, i + window)"))),
    ("sentences concatenated first, so pairs cross sentence boundaries",
     _variant(_PAIRS, ("    for sentence in sentences:\n", "    for sentence in [[w for s in sentences for w in s]]:\n"))),
    ("repeated pairs merged (a set, sorted)",
     _variant(_PAIRS, ("    return pairs", "    return sorted(set(pairs))"))),
]

# ---- task 5: sgns_loss (answer cell "sgns-loss") -----------------------------------------------------

_SGNS = '''
def sgns_loss(v_center, u_context, u_negative):
    if v_center.dim() != 2:
        raise ValueError("v_center must be (B, E)")
    if u_context.shape != v_center.shape:
        raise ValueError("u_context must have the shape of v_center")
    if u_negative.dim() != 3 or u_negative.shape[0] != v_center.shape[0] or u_negative.shape[2] != v_center.shape[1]:
        raise ValueError("u_negative must be (B, K, E)")
    pos = (u_context * v_center).sum(dim=-1)  # (B,)
    neg = torch.bmm(u_negative, v_center.unsqueeze(-1)).squeeze(-1)  # (B, K)
    loss = -(F.logsigmoid(pos) + F.logsigmoid(-neg).sum(dim=-1))  # (B,)
    return loss.mean()
'''

SGNS = [
    ("log(sigmoid(x)) instead of logsigmoid (-inf for a dot product of -100)",
     _variant(_SGNS, ("F.logsigmoid(pos) + F.logsigmoid(-neg)", "torch.log(torch.sigmoid(pos)) + torch.log(torch.sigmoid(-neg))"))),
    ("summed over the batch instead of averaged", _variant(_SGNS, ("return loss.mean()", "return loss.sum()"))),
    ("negatives without the minus sign: log sigmoid(u_k . v_c)",
     _variant(_SGNS, ("F.logsigmoid(-neg)", "F.logsigmoid(neg)"))),
]

WRONG_ANSWERS = {
    "one-hot": ONE_HOT,
    "embed-by-matmul": EMBED,
    "most-similar": SIMILAR,
    "skipgram-pairs": PAIRS,
    "sgns-loss": SGNS,
}
