"""Plausible wrong answers to a05-seq2seq (teacher forcing, masked loss, greedy, beam search, length
normalisation); each must lose exactly its task's points.

WRONG_ANSWERS maps the grade_id of an answer cell to (description, source) pairs: the source is the
whole answer cell as a student might hand it in. tests/test_wrong_answers.py grades the solution with
that one cell replaced and checks that only the test cell of that task drops to 0.
"""

ASSIGNMENT = "a05-seq2seq"

# ---- task 1: shift_targets (answer cell "shift-targets") ---------------------------------------------

_SHIFT = '''
def shift_targets(y, lengths, bos_id=1, eos_id=2, pad_id=0):
    if not isinstance(y, torch.Tensor) or y.ndim != 2:
        raise ValueError("y must be (B, T)")
    B, T = y.shape
    lengths = torch.as_tensor(lengths)
    if lengths.shape != (B,) or (lengths < 0).any() or (lengths > T).any():
        raise ValueError("bad lengths")
    position = torch.arange(T + 1)
    is_token = position[None, :] < lengths[:, None]
    is_eos = position[None, :] == {eos_at}
    y_wide = torch.cat([y, y.new_full((B, 1), pad_id)], dim=1)
    decoder_output = torch.where(is_token, y_wide, pad_id)
    decoder_output = torch.where(is_eos, eos_id, decoder_output)
{output_override}    decoder_input = {decoder_input}
    return decoder_input, decoder_output
'''

_INPUT = "torch.where(is_token | (position[None, :] == lengths[:, None]), torch.cat([y.new_full((B, 1), bos_id), y], dim=1), pad_id)"


def _shift(eos_at="lengths[:, None]", output_override="", decoder_input=_INPUT):
    return _SHIFT.format(eos_at=eos_at, output_override=output_override, decoder_input=decoder_input)


SHIFT = [
    ("<eos> appended in the last column of every row (on a pad position for short rows)",
     _shift(output_override="    decoder_output = torch.cat([y, y.new_full((B, 1), eos_id)], dim=1)\n")),
    ("off by one: <eos> overwrites the last target token (position n - 1)", _shift(eos_at="lengths[:, None] - 1")),
    ("decoder input drops the last token: <bos> y_1 .. y_(T-1) then pad",
     _shift(decoder_input="torch.cat([y.new_full((B, 1), bos_id), y[:, :-1], y.new_full((B, 1), pad_id)], dim=1)")),
    ("special ids hard-coded to 1, 2, 0 (bos_id, eos_id, pad_id ignored)",
     _shift().replace("bos_id)", "1)").replace("eos_id, decoder_output", "2, decoder_output")
     .replace("pad_id)", "0)").replace(", pad_id)", ", 0)")),
]

# ---- task 2: masked_sequence_loss (answer cell "masked-loss") -----------------------------------------

_LOSS = '''
def masked_sequence_loss(logits, targets, pad_id=0):
    if logits.ndim != 3:
        raise ValueError("logits must be (B, T, V)")
    if targets.shape != logits.shape[:2]:
        raise ValueError("targets must be (B, T)")
    mask = targets != pad_id
    if mask.sum() == 0:
        raise ValueError("no tokens")
    log_probs = {log_probs}
    nll = -log_probs.gather(2, targets.unsqueeze(-1)).squeeze(-1)
    return {reduce}
'''


def _loss(log_probs="F.log_softmax(logits, dim=-1)",
          reduce="torch.where(mask, nll, torch.zeros_like(nll)).sum() / mask.sum()"):
    return _LOSS.format(log_probs=log_probs, reduce=reduce)


LOSS = [
    ("no masking: mean over every position, pad included", _loss(reduce="nll.mean()")),
    ("mean of the per-sequence means instead of the mean over tokens",
     _loss(reduce="(torch.where(mask, nll, torch.zeros_like(nll)).sum(dim=1) / mask.sum(dim=1)).mean()")),
    ("softmax over the time axis (dim=1) instead of the vocabulary", _loss(log_probs="F.log_softmax(logits, dim=1)")),
    ("masked sum divided by the batch size", _loss(reduce="torch.where(mask, nll, torch.zeros_like(nll)).sum() / logits.shape[0]")),
    ("log of softmax (-inf for large logits)", _loss(log_probs="torch.log(torch.softmax(logits, dim=-1))")),
]

# ---- task 3: greedy_decode (answer cell "greedy") ------------------------------------------------------

_GREEDY = '''
def greedy_decode(step, state, bos_id, eos_id, max_len):
    if max_len < 1:
        raise ValueError("max_len must be >= 1")
    N = state.size(0)
    tokens = torch.full((N,), bos_id, dtype=torch.long)
    finished = torch.zeros(N, dtype=torch.bool)
    outputs = [[] for _ in range(N)]
    for _ in range(max_len):
        log_probs, state = step(tokens, state)
        tokens = log_probs.argmax(dim=-1)
        for i in range(N):
            if {keep}:
                outputs[i].append(int(tokens[i]))
        finished = finished | (tokens == eos_id)
        if {stop}:
            break
    return outputs
'''


def _greedy(keep="not finished[i] and tokens[i] != eos_id", stop="finished.all()"):
    return _GREEDY.format(keep=keep, stop=stop)


GREEDY = [
    ("tokens after <eos> kept (only <eos> itself left out)", _greedy(keep="tokens[i] != eos_id")),
    ("<eos> included in the output", _greedy(keep="not finished[i]")),
    ("the whole batch stops when the first row ends", _greedy(stop="finished.any()")),
    ("always max_len calls of step, also after every row has ended", _greedy(stop="False")),
]

# ---- task 4: beam_search (answer cell "beam") -----------------------------------------------------------

_BEAM = '''
def beam_search(step, state, bos_id, eos_id, beam_size, max_len):
    if beam_size < 1 or max_len < 1:
        raise ValueError("beam_size and max_len must be >= 1")
    if state.size(0) != 1:
        raise ValueError("state must have one row")
    sequences = [[]]
    scores = torch.zeros(1, dtype=torch.float64)
    tokens = torch.full((1,), bos_id, dtype=torch.long)
    finished = []
    for _ in range(max_len):
        log_probs, state = step(tokens, state)
        V = log_probs.size(-1)
        candidates = {candidates}
        width = {width}
        top_scores, top_index = candidates.topk(min(width, candidates.numel()))
        rows, new_tokens, new_scores, new_sequences = [], [], [], []
        for score, index in zip(top_scores.tolist(), top_index.tolist()):
            row, token = divmod(index, V)
            if token == eos_id:
                finished.append((sequences[row], score))
{after_eos}            else:
                rows.append(row)
                new_tokens.append(token)
                new_scores.append(score)
                new_sequences.append(sequences[row] + [token])
        if not rows:
            break
        state = {reorder}
        tokens = torch.tensor(new_tokens, dtype=torch.long)
        scores = torch.tensor(new_scores, dtype=torch.float64)
        sequences = new_sequences
{at_max_len}    return sorted(finished, key=lambda h: h[1], reverse=True)
'''

_KEEP_EXPANDING = '''                rows.append(row)
                new_tokens.append(token)
                new_scores.append(score)
                new_sequences.append(sequences[row] + [token])
'''


def _beam(candidates="(scores[:, None] + log_probs.double()).flatten()", width="beam_size - len(finished)",
          after_eos="", reorder="state.index_select(0, torch.tensor(rows))",
          at_max_len="    else:\n        finished.extend(zip(sequences, scores.tolist()))\n"):
    return _BEAM.format(candidates=candidates, width=width, after_eos=after_eos, reorder=reorder, at_max_len=at_max_len)


BEAM = [
    ("states not reordered with index_select (the first rows kept)", _beam(reorder="state[: len(rows)]")),
    ("finished (<eos>) hypotheses stay in the beam and keep expanding",
     _beam(after_eos=_KEEP_EXPANDING)),
    ("scores not accumulated: only the last step's log-prob", _beam(candidates="log_probs.double().flatten()")),
    ("the beam width is not reduced when a hypothesis finishes", _beam(width="beam_size")),
    ("hypotheses still in the beam after max_len steps are dropped", _beam(at_max_len="")),
]

# ---- task 5: length_normalized_score and pick_best (answer cell "length-norm") ---------------------------

_NORM = '''
def length_normalized_score(logprob, length, alpha=0.6):
    if length < 1:
        raise ValueError("length must be >= 1")
    if alpha < 0:
        raise ValueError("alpha must be >= 0")
    return {score}


def pick_best(hypotheses, alpha=0.6):
    if not hypotheses:
        raise ValueError("hypotheses is empty")
    return max(hypotheses, key=lambda h: length_normalized_score(h[1], {length}, alpha))
'''


def _norm(score="float(logprob) / ((5.0 + length) / 6.0) ** alpha", length="len(h[0]) + 1"):
    return _NORM.format(score=score, length=length)


NORM = [
    ("divided by length ** alpha instead of ((5 + length) / 6) ** alpha", _norm(score="float(logprob) / length ** alpha")),
    ("<eos> not counted in the length (len(tokens))",
     _norm(length="max(len(h[0]), 1)")),
    ("multiplied by the length penalty instead of divided", _norm(score="float(logprob) * ((5.0 + length) / 6.0) ** alpha")),
]

WRONG_ANSWERS = {
    "shift-targets": SHIFT,
    "masked-loss": LOSS,
    "greedy": GREEDY,
    "beam": BEAM,
    "length-norm": NORM,
}
