"""Plausible wrong answers to a06-ctc-crf (CTC collapse, CTC forward, greedy CTC decoding, Viterbi, CRF log
partition); each must lose exactly its task's points.

WRONG_ANSWERS maps the grade_id of an answer cell to (description, source) pairs: the source is the
whole answer cell as a student might hand it in. tests/test_wrong_answers.py grades the solution with
that one cell replaced and checks that only the test cell of that task drops to 0.
"""

ASSIGNMENT = "a06-ctc-crf"


from _edits import variant as _variant  # noqa: E402  (tests/wrong_answers is on sys.path when loaded)


# ---- task 1: ctc_collapse (answer cell "ctc-collapse") ---------------------------------------------------

_COLLAPSE = '''
def ctc_collapse(path, blank=0):
    if isinstance(path, torch.Tensor):
        if path.ndim != 1:
            raise ValueError("path must be 1-D")
        path = path.tolist()
    path = [int(token) for token in path]
    labels, previous = [], None
    for token in path:
        if token != previous and token != blank:
            labels.append(token)
        previous = token
    return labels
'''

COLLAPSE = [
    ("blanks dropped before merging repeats ([1, 1, 0, 1, 2, 2] -> [1, 2])",
     _variant(_COLLAPSE, ("    labels, previous = [], None\n", "    path = [t for t in path if t != blank]\n    labels, previous = [], None\n"))),
    ("repeats not merged (only blanks dropped)", _variant(_COLLAPSE, ("token != previous and token != blank", "token != blank"))),
    ("repeats merged but blanks kept", _variant(_COLLAPSE, ("token != previous and token != blank", "token != previous"))),
    ("blank hard-coded to 0", _variant(_COLLAPSE, ("token != blank:", "token != 0:"))),
]

# ---- task 2: ctc_extended and ctc_forward (answer cell "ctc-forward") -------------------------------------

_FORWARD = '''
def ctc_extended(target, blank=0):
    if isinstance(target, torch.Tensor):
        if target.ndim != 1:
            raise ValueError("target must be 1-D")
        target = target.tolist()
    target = [int(label) for label in target]
    if blank in target:
        raise ValueError("blank in target")
    extended = [blank]
    for label in target:
        extended += [label, blank]
    return extended


def ctc_forward(log_probs, target, blank=0):
    if not isinstance(log_probs, torch.Tensor) or log_probs.ndim != 2 or log_probs.shape[0] == 0:
        raise ValueError("log_probs must be (T, V)")
    T, V = log_probs.shape
    extended = ctc_extended(target, blank)
    if any(not 0 <= label < V for label in extended):
        raise ValueError("label out of range")
    L = len(extended)
    labels = torch.tensor(extended)
    can_skip = torch.tensor([s >= 2 and extended[s] != blank and extended[s] != extended[s - 2] for s in range(L)])
    neg_inf = torch.full((2,), -math.inf, dtype=log_probs.dtype)
    alpha = torch.where(torch.arange(L) < 2, log_probs[0, labels], neg_inf[0])
    for t in range(1, T):
        step = torch.cat([neg_inf[:1], alpha])[:L]
        skip = torch.where(can_skip, torch.cat([neg_inf, alpha])[:L], neg_inf[0])
        alpha = torch.logsumexp(torch.stack([alpha, step, skip]), dim=0) + log_probs[t, labels]
    return torch.logsumexp(alpha[-2:], dim=0)
'''

_PLAIN = '''
    probs = log_probs.exp()
    alpha = torch.where(torch.arange(L) < 2, probs[0, labels], 0.0)
    for t in range(1, T):
        step = torch.cat([alpha.new_zeros(1), alpha])[:L]
        skip = torch.where(can_skip, torch.cat([alpha.new_zeros(2), alpha])[:L], 0.0)
        alpha = (alpha + step + skip) * probs[t, labels]
    return torch.log(alpha[-2:].sum())
'''

FORWARD = [
    ("skip allowed between equal labels (only 'not blank' checked)",
     _variant(_FORWARD, (" and extended[s] != extended[s - 2] for s", " for s"))),
    ("skip forbidden everywhere (no s - 2 -> s transition)",
     _variant(_FORWARD, ("torch.stack([alpha, step, skip])", "torch.stack([alpha, step])"))),
    ("plain probabilities instead of log space (underflow to -inf for long inputs)",
     _FORWARD[: _FORWARD.index("    alpha = torch.where")] + _PLAIN.lstrip("\n")),
    ("ends only at the last blank (the final label state forgotten)",
     _variant(_FORWARD, ("torch.logsumexp(alpha[-2:], dim=0)", "alpha[-1]"))),
    ("starts only at the first blank (alpha_1 of the first label forgotten)",
     _variant(_FORWARD, ("torch.arange(L) < 2", "torch.arange(L) < 1"))),
]

# ---- task 3: ctc_greedy_decode (answer cell "ctc-greedy") -------------------------------------------------

_GREEDY = '''
def ctc_greedy_decode(log_probs, input_lengths, blank=0):
    if not isinstance(log_probs, torch.Tensor) or log_probs.ndim != 3:
        raise ValueError("log_probs must be (B, T, V)")
    B, T, V = log_probs.shape
    input_lengths = torch.as_tensor(input_lengths)
    if input_lengths.shape != (B,) or (input_lengths < 0).any() or (input_lengths > T).any():
        raise ValueError("bad input_lengths")
    best_path = log_probs.argmax(dim=-1)
    decoded = []
    for b in range(B):
        path = best_path[b, : int(input_lengths[b])].tolist()
        labels, previous = [], None
        for token in path:
            if token != previous and token != blank:
                labels.append(token)
            previous = token
        decoded.append(labels)
    return decoded
'''

GREEDY = [
    ("input_lengths ignored (padded frames decoded too)",
     _variant(_GREEDY, ("best_path[b, : int(input_lengths[b])]", "best_path[b]"))),
    ("blanks dropped before merging repeats",
     _variant(_GREEDY, (".tolist()\n        labels", ".tolist()\n        path = [t for t in path if t != blank]\n        labels"))),
    ("repeats not merged", _variant(_GREEDY, ("token != previous and token != blank", "token != blank"))),
    ("blank hard-coded to 0", _variant(_GREEDY, ("token != blank:", "token != 0:"))),
    ("the last valid frame dropped (input_lengths[b] - 1 frames decoded)",
     _variant(_GREEDY, ("best_path[b, : int(input_lengths[b])]", "best_path[b, : max(int(input_lengths[b]) - 1, 0)]"))),
]

# ---- task 4: viterbi (answer cell "viterbi") --------------------------------------------------------------

_VITERBI = '''
def viterbi(emissions, transitions, start, end):
    if not isinstance(emissions, torch.Tensor) or emissions.ndim != 2 or emissions.shape[0] == 0:
        raise ValueError("emissions must be (T, K)")
    T, K = emissions.shape
    if transitions.shape != (K, K) or start.shape != (K,) or end.shape != (K,):
        raise ValueError("bad shapes")
    delta = start + emissions[0]
    backpointers = []
    for t in range(1, T):
        candidates = delta[:, None] + transitions
        delta, best_previous = candidates.max(dim=0)
        delta = delta + emissions[t]
        backpointers.append(best_previous)
    final = delta + end
    best_last = int(final.argmax())
    path = [best_last]
    for best_previous in reversed(backpointers):
        path.append(int(best_previous[path[-1]]))
    path.reverse()
    return path, float(final[best_last])
'''

_GREEDY_TAGS = '''
    path = emissions.argmax(dim=-1).tolist()
    score = start[path[0]] + end[path[-1]] + sum(emissions[t, k] for t, k in enumerate(path))
    score = score + sum(transitions[i, j] for i, j in zip(path[:-1], path[1:]))
    return path, float(score)
'''

VITERBI = [
    ("start and end scores forgotten",
     _variant(_VITERBI, ("delta = start + emissions[0]", "delta = emissions[0].clone()"), ("final = delta + end", "final = delta"))),
    ("end score forgotten", _variant(_VITERBI, ("final = delta + end", "final = delta"))),
    ("transitions indexed [j, i] instead of [i, j]", _variant(_VITERBI, ("delta[:, None] + transitions", "delta[:, None] + transitions.T"))),
    ("greedy: the best emission at each position, transitions ignored",
     _VITERBI[: _VITERBI.index("    delta = start")] + _GREEDY_TAGS.lstrip("\n")),
    ("best path read backwards (not reversed after backtracking)", _variant(_VITERBI, ("    path.reverse()\n", ""))),
]

# ---- task 5: crf_log_partition (answer cell "crf-partition") ---------------------------------------------

_PARTITION = '''
def crf_log_partition(emissions, transitions, start, end):
    if not isinstance(emissions, torch.Tensor) or emissions.ndim != 2 or emissions.shape[0] == 0:
        raise ValueError("emissions must be (T, K)")
    T, K = emissions.shape
    if transitions.shape != (K, K) or start.shape != (K,) or end.shape != (K,):
        raise ValueError("bad shapes")
    alpha = start + emissions[0]
    for t in range(1, T):
        alpha = torch.logsumexp(alpha[:, None] + transitions, dim=0) + emissions[t]
    return torch.logsumexp(alpha + end, dim=0)
'''

PARTITION = [
    ("max instead of logsumexp (that is the Viterbi score)",
     _variant(_PARTITION, ("torch.logsumexp(alpha[:, None] + transitions, dim=0)", "(alpha[:, None] + transitions).max(dim=0).values"),
              ("torch.logsumexp(alpha + end, dim=0)", "(alpha + end).max()"))),
    ("end score forgotten", _variant(_PARTITION, ("torch.logsumexp(alpha + end, dim=0)", "torch.logsumexp(alpha, dim=0)"))),
    ("transitions indexed [j, i] instead of [i, j]",
     _variant(_PARTITION, ("alpha[:, None] + transitions, dim=0", "alpha[:, None] + transitions.T, dim=0"))),
    ("exp, sum, then log (overflows for large scores)",
     _variant(_PARTITION, ("torch.logsumexp(alpha[:, None] + transitions, dim=0)", "torch.log((alpha[:, None] + transitions).exp().sum(dim=0))"),
              ("torch.logsumexp(alpha + end, dim=0)", "torch.log((alpha + end).exp().sum())"))),
    ("returned as a Python float (no gradient)", _variant(_PARTITION, ("return torch.logsumexp(alpha + end, dim=0)",
                                                                     "return torch.tensor(torch.logsumexp(alpha + end, dim=0).item(), dtype=emissions.dtype)"))),
]

WRONG_ANSWERS = {
    "ctc-collapse": COLLAPSE,
    "ctc-forward": FORWARD,
    "ctc-greedy": GREEDY,
    "viterbi": VITERBI,
    "crf-partition": PARTITION,
}
