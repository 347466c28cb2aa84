r"""Decoding: turning a next-token model into sequences (greedy, sampling, beam search).

**The interface.** A decoder is any function

``step(tokens (N,), state) -> (log_probs (N, V), state)``

``state`` is ``None`` before anything was read, a tensor, or a (nested) tuple of tensors, each
with N rows **batch first**, so that beams are reordered with ``index_select(0, idx)`` and
expanded with ``repeat_interleave(k, dim=0)`` (:func:`reorder_state`, :func:`expand_state`).
Every search starts by feeding ``bos_id`` to every row, so a prompt is read by stepping it
through the model first and passing its last token as ``bos_id``.

**Processors** are the sampling tricks, small functions ``(scores (N, V), generated (N, t)) ->
scores (N, V)`` applied in order before a token is chosen, and shared by every search:
:func:`temperature`, :func:`top_k`, :func:`top_p`, :func:`repetition_penalty`, :func:`suppress`,
:func:`first_choices`. With logits ``z`` and temperature ``T > 0``

.. math::

   p_i(T) = \frac{\exp(z_i / T)}{\sum_j \exp(z_j / T)} = \frac{p_i^{1/T}}{\sum_j p_j^{1/T}}

``T = 1`` samples from the model as it is, ``T → 0`` tends to greedy, ``T → ∞`` to uniform.

**Beam search** keeps the ``k`` best prefixes of every input and looks for

.. math::

   \hat Y = \arg\max_Y \frac{\log p(Y \mid x)}{\mathrm{lp}(Y)}, \qquad
   \log p(Y \mid x) = \sum_{t=1}^{|Y|} \log p(y_t \mid y_{<t}, x), \qquad
   \mathrm{lp}(Y) = \left(\frac{5 + |Y|}{6}\right)^{\alpha}

where ``Y`` ends with ``<eos>`` and ``|Y|`` counts its tokens *and* the ``<eos>``; ``lp`` is
GNMT's length penalty (Wu et al. 2016), ``α = 0`` gives ``lp = 1``: the plain log-probability,
which favours short outputs because every token multiplies in a probability below one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

Processor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
NEG_INF = float("-inf")


# ---------------------------------------------------------------- state helpers

def _map_state(fn: Callable[[torch.Tensor], torch.Tensor], state):
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return fn(state)
    if isinstance(state, tuple) and hasattr(state, "_fields"):  # a namedtuple
        return type(state)(*(_map_state(fn, s) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(_map_state(fn, s) for s in state)
    raise TypeError(f"state must be None, a tensor or a nested tuple of tensors, got {type(state).__name__}")


def _leaves(state) -> list[torch.Tensor]:
    out: list[torch.Tensor] = []
    _map_state(lambda t: out.append(t) or t, state)
    return out


def reorder_state(state, index: torch.Tensor):
    """Pick rows of every tensor in ``state`` (batch first): ``t.index_select(0, index)``."""
    return _map_state(lambda t: t.index_select(0, index.to(t.device)), state)


def expand_state(state, k: int):
    """Repeat every row ``k`` times in place (row b becomes rows b*k … b*k+k-1)."""
    return _map_state(lambda t: t.repeat_interleave(k, dim=0), state)


def _batch_size(state, batch_size: int | None) -> int:
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    if state is None:
        if batch_size is None:
            raise ValueError("state is None: give batch_size, the number of inputs to decode")
        return batch_size
    sizes = {t.size(0) for t in _leaves(state) if t.dim() > 0}
    if len(sizes) != 1:
        raise ValueError(f"every tensor in the state must have the same first (batch) dimension, got {sorted(sizes)}")
    (n,) = sizes
    if batch_size is not None and batch_size != n:
        raise ValueError(f"batch_size={batch_size} but the state has {n} rows (batch first)")
    return n


def _device(state) -> torch.device:
    leaves = _leaves(state)
    return leaves[0].device if leaves else torch.device("cpu")


# ---------------------------------------------------------------- processors

def _check(temperature: float, top_k: int | None) -> None:
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0 (use greedy() for T → 0), got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1 or None, got {top_k}")


def _check_penalty(penalty: float) -> None:
    if not penalty >= 1.0:
        raise ValueError(f"repetition_penalty must be >= 1 (1 = off), got {penalty}")


def _check_ids(ids, name: str) -> list[int]:
    ids = [int(i) for i in ids]
    if not ids:
        raise ValueError(f"{name} must be a non-empty list of token ids")
    return ids


def temperature(t: float) -> Processor:
    """Divide the scores by ``t > 0`` (``t < 1`` sharpens, ``t > 1`` flattens)."""
    _check(t, None)
    return lambda scores, generated: scores / t


def top_k(k: int) -> Processor:
    """Keep the ``k`` highest scores of each row (ties with the k-th are kept), the rest → -inf."""
    _check(1.0, k)

    def process(scores: torch.Tensor, generated: torch.Tensor) -> torch.Tensor:
        if k >= scores.size(-1):
            return scores
        kth = torch.topk(scores, k, dim=-1).values[..., -1:]  # (N, 1)
        return scores.masked_fill(scores < kth, NEG_INF)
    return process


def top_p(p: float) -> Processor:
    """Nucleus filtering (Holtzman et al. 2020): keep the smallest set of highest-probability tokens
    whose probabilities ``softmax(scores)`` sum to at least ``p`` ∈ (0, 1]; the rest → -inf."""
    if not 0 < p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {p}")

    def process(scores: torch.Tensor, generated: torch.Tensor) -> torch.Tensor:
        if p == 1:
            return scores
        sorted_scores, order = scores.sort(dim=-1, descending=True)  # (N, V)
        probs = sorted_scores.softmax(dim=-1)
        before = probs.cumsum(dim=-1) - probs  # mass of the tokens ranked above
        drop = before >= p
        drop[..., 0] = False  # the best token always stays
        return scores.masked_fill(drop.scatter(-1, order, drop), NEG_INF)
    return process


def _penalize(z: torch.Tensor, seen: torch.Tensor, penalty: float) -> torch.Tensor:
    return torch.where(seen, torch.where(z > 0, z / penalty, z * penalty), z)


def repetition_penalty(penalty: float, prompt=None) -> Processor:
    """Keskar et al. (2019): a score ``z`` of a token already in the prompt or the output becomes
    ``z / penalty`` if ``z > 0`` and ``z * penalty`` otherwise (``penalty`` ≥ 1, 1 = off).

    ``prompt`` is None, one list of ids shared by every row, or one list (or a (B, P) tensor, -1 =
    padding) per input; with N = B·k rows, rows b·k … b·k+k-1 belong to input b, as beam search lays
    them out. On log-probabilities (always ≤ 0) the penalty always multiplies.
    """
    _check_penalty(penalty)
    per_input = None
    if prompt is not None:
        if isinstance(prompt, torch.Tensor):
            per_input = prompt.long().reshape(1, -1) if prompt.dim() == 1 else prompt.long()
        else:
            rows = [list(r) for r in prompt] if prompt and isinstance(prompt[0], (list, tuple)) else [list(prompt)]
            width = max(1, max(len(r) for r in rows))
            per_input = torch.tensor([r + [-1] * (width - len(r)) for r in rows], dtype=torch.long)

    def process(scores: torch.Tensor, generated: torch.Tensor) -> torch.Tensor:
        if penalty == 1.0:
            return scores
        N, V = scores.shape
        seen = torch.zeros(N, V + 1, dtype=torch.bool, device=scores.device)  # column V: padding
        if per_input is not None:
            B = per_input.size(0)
            if N % B:
                raise ValueError(f"the prompt has {B} rows but the scores {N}: N must be a multiple of B")
            ids = per_input.to(scores.device)
            seen.scatter_(1, torch.where(ids < 0, V, ids).repeat_interleave(N // B, dim=0), True)
        if generated.numel():
            seen.scatter_(1, generated, True)
        return _penalize(scores, seen[:, :V], penalty)
    return process


def suppress(ids: Sequence[int]) -> Processor:
    """Ban these ids at every step (score → -inf), e.g. ``<unk>`` or ``<pad>``."""
    ids = _check_ids(ids, "suppress")

    def process(scores: torch.Tensor, generated: torch.Tensor) -> torch.Tensor:
        return scores.index_fill(-1, torch.tensor(ids, device=scores.device), NEG_INF)
    return process


def first_choices(ids: Sequence[int]) -> Processor:
    """Restrict the first new token to these ids (every other score → -inf); later steps are free."""
    ids = _check_ids(ids, "first_choices")

    def process(scores: torch.Tensor, generated: torch.Tensor) -> torch.Tensor:
        if generated.size(1) > 0:
            return scores
        allowed = torch.zeros(scores.size(-1), dtype=torch.bool, device=scores.device)
        allowed[ids] = True
        return scores.masked_fill(~allowed, NEG_INF)
    return process


_temperature, _top_k, _top_p = temperature, top_k, top_p  # the searches' arguments shadow these names
_repetition_penalty, _suppress, _first_choices = repetition_penalty, suppress, first_choices


def _process(processors: Sequence[Processor], scores: torch.Tensor, generated: torch.Tensor) -> torch.Tensor:
    for proc in processors:
        scores = proc(scores, generated)
    return scores


# ---------------------------------------------------------------- greedy and sampling

def _check_search(bos_id, eos_id, max_len: int) -> None:
    if not isinstance(max_len, int) or max_len < 1:
        raise ValueError(f"max_len must be an int >= 1, got {max_len!r}")
    if not isinstance(bos_id, int):
        raise ValueError(f"bos_id must be a token id (int), got {bos_id!r}")
    if eos_id is not None and not isinstance(eos_id, int):
        raise ValueError(f"eos_id must be a token id (int) or None, got {eos_id!r}")


@torch.no_grad()
def _one_by_one(step, state, choose, bos_id, eos_id, max_len, processors, batch_size) -> list[list[int]]:
    """The loop of greedy and sampling: every row takes one token per step; a row that emitted
    ``eos_id`` is done and keeps emitting it; stop when every row is done or after max_len steps."""
    _check_search(bos_id, eos_id, max_len)
    B = _batch_size(state, batch_size)
    tokens = torch.full((B,), bos_id, dtype=torch.long, device=_device(state))  # (B,)
    generated = tokens.new_empty(B, 0)  # (B, t)
    done = torch.zeros(B, dtype=torch.bool, device=tokens.device)
    for _ in range(max_len):
        log_probs, state = step(tokens, state)  # (B, V)
        scores = _process(processors, log_probs, generated.to(log_probs.device))
        scores = scores.masked_fill(done.to(scores.device)[:, None], 0.0)  # done rows: anything finite
        nxt = choose(scores).to(tokens.device)  # (B,)
        if eos_id is not None:
            nxt = nxt.masked_fill(done, eos_id)
            done = done | (nxt == eos_id)
        generated = torch.cat([generated, nxt[:, None]], dim=1)  # (B, t+1)
        tokens = nxt
        if bool(done.all()):
            break
    out = []
    for row in generated.tolist():
        out.append(row[:row.index(eos_id)] if eos_id in row else row)
    return out


def greedy_search(step, state, *, bos_id: int, eos_id: int | None, max_len: int,
                  batch_size: int | None = None, processors: Sequence[Processor] = ()) -> list[list[int]]:
    """The arg max at every step, for a batch of B inputs (B from the state's first dimension, or
    ``batch_size`` when ``state`` is None). Returns one list of new ids per input, without
    ``<bos>``/``<eos>``; at most ``max_len`` of them."""
    return _one_by_one(step, state, greedy, bos_id, eos_id, max_len, processors, batch_size)


def sample_search(step, state, *, bos_id: int, eos_id: int | None, max_len: int, temperature: float = 1.0,
                  top_k: int | None = None, top_p: float | None = None, generator: torch.Generator | None = None,
                  processors: Sequence[Processor] = (), batch_size: int | None = None) -> list[list[int]]:
    """Like :func:`greedy_search`, but each token is drawn from ``softmax(scores)``. The scores go
    through ``processors`` first, then the temperature, top-k and top-p filters (in that order)."""
    procs = [*processors, _temperature(temperature)]
    if top_k is not None:
        procs.append(_top_k(top_k))
    if top_p is not None:
        procs.append(_top_p(top_p))

    def draw(scores: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(scores, dim=-1)  # (B, V)
        if generator is not None:
            probs = probs.to(generator.device)
        return torch.multinomial(probs, 1, generator=generator)[:, 0]  # (B,)
    return _one_by_one(step, state, draw, bos_id, eos_id, max_len, procs, batch_size)


# ---------------------------------------------------------------- beam search

def _length_penalty(n, alpha: float):
    return ((5.0 + n) / 6.0) ** alpha if alpha > 0 else 1.0


@torch.no_grad()
def beam_search(step, state, *, bos_id: int, eos_id: int, beam_size: int, max_len: int, length_penalty: float = 0.0,
                processors: Sequence[Processor] = (), batch_size: int | None = None) -> list[list[tuple[list[int], float]]]:
    r"""The ``beam_size`` best sequences of each of B inputs, as ``(tokens, score)`` best first.

    All B·k beams go through ``step`` together (N = B·k rows, row b·k + j is beam j of input b).
    At every step each live beam is extended by every token; the best 2k candidates of each input
    are split into finished ones (the token is ``<eos>`` and it ranks among the first k: these leave
    the beam and are never extended) and the best k others, which become the new beams (the state
    follows them with ``index_select``). After ``max_len`` steps the live beams are finished as they
    are: their score is the log-probability of their tokens, with no ``<eos>`` term.

    ``score`` = ``log p(tokens + <eos>) / lp`` with ``lp = ((5 + |Y|) / 6) ** length_penalty`` and
    ``|Y|`` = number of tokens + 1 for the ``<eos>`` (just the tokens for a hypothesis cut at
    max_len). ``processors`` change the scores that choose, prune and rank the hypotheses, but the
    reported score stays the model's log-probability (so with processors the list is ordered by
    the processed score, which may differ from the reported one).

    An input is done when it holds k finished hypotheses and its best live beam cannot beat the
    worst of them. With ``length_penalty = 0`` that is exact, because adding a token only lowers a
    log-probability (this assumes the processed scores are ≤ 0, as log-probabilities and every
    processor here keep them). With ``length_penalty > 0`` a longer hypothesis can still win, and
    the test is the usual heuristic (Hugging Face's default): the best live beam's score divided
    by ``lp`` at its current length.
    """
    _check_search(bos_id, eos_id, max_len)
    if eos_id is None:
        raise ValueError("eos_id must be a token id (int) for beam search")
    if not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError(f"beam_size must be an int >= 1, got {beam_size!r}")
    if not length_penalty >= 0:
        raise ValueError(f"length_penalty must be >= 0 (0 = off), got {length_penalty}")
    B, k, alpha = _batch_size(state, batch_size), beam_size, float(length_penalty)
    N, device = B * k, _device(state)
    state = expand_state(state, k)
    tokens = torch.full((N,), bos_id, dtype=torch.long, device=device)  # (N,)
    generated = tokens.new_empty(N, 0)  # (N, t)
    live = torch.full((B, k), NEG_INF, device=device)  # cumulative processed score of each beam
    live[:, 0] = 0.0  # one start per input, so the first step does not pick k copies of one prefix
    live_model = torch.zeros(B, k, device=device)  # cumulative model log-probability
    fin = torch.full((B, k), NEG_INF, device=device)  # finished pool, sorted: processed score / lp
    fin_model = torch.full((B, k), NEG_INF, device=device)  # model log-probability / lp
    fin_tokens = torch.full((B, k, max_len), -1, dtype=torch.long, device=device)
    fin_len = torch.zeros(B, k, dtype=torch.long, device=device)
    done = torch.zeros(B, dtype=torch.bool, device=device)
    first_row = torch.arange(B, device=device)[:, None] * k  # (B, 1)

    def pad(seq: torch.Tensor) -> torch.Tensor:  # (B, c, t) → (B, c, max_len)
        return torch.nn.functional.pad(seq, (0, max_len - seq.size(-1)), value=-1)

    for t in range(max_len):
        log_probs, state = step(tokens, state)  # (N, V)
        log_probs = log_probs.to(device)
        V = log_probs.size(-1)
        scores = _process(processors, log_probs, generated)  # (N, V)
        cand = (live.view(N, 1) + scores).view(B, k * V)
        cand_model = (live_model.view(N, 1) + log_probs.float()).view(B, k * V)
        c = min(2 * k, k * V)
        top, flat = cand.topk(c, dim=1)  # (B, c), best first
        top_model = cand_model.gather(1, flat)
        beam, token = flat // V, flat % V  # (B, c)
        valid = (top > NEG_INF) & ~done[:, None]
        is_eos = token == eos_id
        prefix = generated.index_select(0, (first_row + beam).view(-1)).view(B, c, t)  # (B, c, t)

        # the next beams: the best k candidates that do not end in <eos>
        nxt, pick = top.masked_fill(is_eos | ~valid, NEG_INF).topk(k, dim=1)  # (B, k)
        nxt_model, nxt_beam, nxt_token = top_model.gather(1, pick), beam.gather(1, pick), token.gather(1, pick)
        rows = (first_row + nxt_beam).view(N)  # where each new beam comes from

        # finished now: <eos> among the first k candidates; at max_len also the new beams as they are
        lp = _length_penalty(t + 1, alpha)
        ended = valid & is_eos & (torch.arange(c, device=device) < k)
        pools = [(fin, fin_model, fin_tokens, fin_len),
                 (top.masked_fill(~ended, NEG_INF) / lp, top_model / lp, pad(prefix),
                  torch.full((B, c), t, device=device))]
        if t == max_len - 1:
            cut = torch.cat([prefix.gather(1, pick[..., None].expand(B, k, t)), nxt_token[..., None]], dim=2)
            pools.append((nxt / lp, nxt_model / lp, pad(cut), torch.full((B, k), t + 1, device=device)))
        merged = [torch.cat(parts, dim=1) for parts in zip(*pools)]
        fin, order = merged[0].topk(k, dim=1)  # (B, k)
        fin_model, fin_len = merged[1].gather(1, order), merged[3].gather(1, order).long()
        fin_tokens = merged[2].gather(1, order[..., None].expand(B, k, max_len))

        # stop an input when its worst finished hypothesis is at least as good as its best live beam can get
        full = fin[:, -1] > NEG_INF
        done = done | (full & (nxt[:, 0] / lp <= fin[:, -1]))
        if t == max_len - 1 or bool(done.all()):
            break
        live, live_model = nxt.masked_fill(done[:, None], NEG_INF), nxt_model
        generated = torch.cat([generated.index_select(0, rows), nxt_token.view(N, 1)], dim=1)  # (N, t+1)
        tokens = nxt_token.view(N)
        state = reorder_state(state, rows)

    out = []
    for b in range(B):  # only to build the Python result
        out.append([(fin_tokens[b, j, :fin_len[b, j]].tolist(), float(fin_model[b, j]))
                    for j in range(k) if fin[b, j] > NEG_INF])
    return out


# ---------------------------------------------------------------- the single-row functions of chapter 3

def greedy(logits: torch.Tensor) -> torch.Tensor:
    """The arg max over the last dimension: (..., V) → (...)."""
    return logits.argmax(dim=-1)


def apply_temperature(probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """Re-weight a probability vector: ``p^(1/T)`` renormalised, over the last dimension."""
    _check(temperature, None)
    if (probs < 0).any():
        raise ValueError("probs must be non-negative")
    logp = torch.log(probs.clamp_min(torch.finfo(probs.dtype).tiny)) / temperature
    return torch.softmax(logp.masked_fill(probs == 0, NEG_INF), dim=-1)


def sample(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one index per row from ``softmax(logits / T)``, restricted to the top k: (..., V) → (...)."""
    _check(temperature, top_k)
    scores = logits / temperature  # (..., V)
    if top_k is not None and top_k < scores.size(-1):
        kth = torch.topk(scores, top_k, dim=-1).values[..., -1:]  # (..., 1)
        scores = scores.masked_fill(scores < kth, NEG_INF)
    probs = torch.softmax(scores, dim=-1)
    flat = probs.reshape(-1, probs.size(-1))  # (N, V)
    return torch.multinomial(flat, 1, generator=generator).view(probs.shape[:-1])


def penalize_repetition(logits: torch.Tensor, previous: list[int], penalty: float) -> torch.Tensor:
    """Make tokens already generated less likely (Keskar et al. 2019): a token's logit ``z`` in
    ``previous`` becomes ``z / penalty`` if positive and ``z * penalty`` if negative. (V,) → (V,)."""
    _check_penalty(penalty)
    if penalty == 1.0 or not previous:
        return logits
    seen = torch.zeros(logits.shape, dtype=torch.bool, device=logits.device)
    seen[..., sorted(set(previous))] = True
    return _penalize(logits, seen, penalty)


def prompt_ids(vocab, text: str | list[str], tokenize, add_bos: bool = True) -> list[int]:
    """Token ids of a start text (``"天"``) for :func:`generate`, with ``<bos>`` first.

    Refuses an empty start and a word outside the vocabulary (which the model would only see
    as ``<unk>``) with a ValueError that names the word.
    """
    tokens = tokenize(text) if isinstance(text, str) else list(text)
    if not tokens:
        raise ValueError("the start text is empty: give at least one word, e.g. '天'")
    unknown = [t for t in tokens if t not in vocab]
    if unknown:
        raise ValueError(f"start word(s) {unknown} are not in the vocabulary ({len(vocab)} tokens); "
                         f"try a frequent word such as {vocab.itos[4:9]}")
    return vocab.encode(tokens, add_bos=add_bos)


# ---------------------------------------------------------------- models as decoders

def decoder_step(model) -> Callable:
    """The decoding interface of a model: its ``decode_step`` (log-probabilities, batch-first state)
    if it has one, else its ``step`` with a ``log_softmax`` on top, the state passed through as the
    model gives it (enough for greedy and sampling; beam search needs a batch-first state)."""
    if hasattr(model, "decode_step"):
        return model.decode_step

    def step(tokens: torch.Tensor, state):
        scores, state = model.step(tokens, state)
        return scores.float().log_softmax(dim=-1), state
    return step


class _ModelStep:
    """``model.step`` for :func:`generate`: one row, the model's own scores (logits, on the CPU, so
    the repetition penalty sees the numbers it always saw), the model's state kept here."""

    def __init__(self, model, device: torch.device, state) -> None:
        self.model, self.device, self.state = model, device, state

    def __call__(self, tokens: torch.Tensor, _state):
        logits, self.state = self.model.step(tokens.to(self.device), self.state)  # (1, V)
        return logits.float().cpu(), None


@torch.no_grad()
def generate(
    model,
    start: list[int],
    max_len: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    eos_index: int | None = None,
    generator: torch.Generator | None = None,
    repetition_penalty: float = 1.0,
    first_choices: list[int] | None = None,
    suppress: list[int] | None = None,
) -> list[int]:
    """Continue ``start`` (token ids) one token at a time with ``model.step``: :func:`sample_search`
    on one row, with the options as processors.

    ``model.step(token (1,), state) -> (logits (1, V), state)``: a recurrent network or any
    other next-token model, such as the n-gram baseline. Stops after ``max_len`` new tokens or
    at ``eos_index`` (not included). ``temperature`` ≤ 0 is refused; for greedy decoding use
    ``top_k=1``. ``repetition_penalty`` > 1 discourages tokens already in the prompt or the output
    (see :func:`penalize_repetition`; the prompt counts, as in CTRL). ``first_choices`` restricts
    the first new token to these ids (e.g. every word that starts with 天, when 天 alone is not a
    word); ``suppress`` bans these ids at every step (e.g. ``<unk>``). Both set the banned scores
    to -inf before sampling. Returns only the new tokens.
    """
    _check(temperature, top_k)
    if not start:
        raise ValueError("start must contain at least one token id")
    if not isinstance(max_len, int) or max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    _check_penalty(repetition_penalty)  # before reading the prompt, not at the first step
    if first_choices is not None and not first_choices:
        raise ValueError("first_choices must be None or a non-empty list of token ids")
    if first_choices is not None and suppress is not None and not set(first_choices) - set(suppress):
        raise ValueError("suppress bans every id in first_choices: nothing is left to start with")
    processors: list[Processor] = []
    if repetition_penalty != 1.0:
        processors.append(_repetition_penalty(repetition_penalty, prompt=list(start)))
    if suppress:
        processors.append(_suppress(suppress))
    if first_choices is not None:
        processors.append(_first_choices(first_choices))
    is_module = isinstance(model, torch.nn.Module)
    was_training = model.training if is_module else False
    device = next(model.parameters()).device if is_module else torch.device("cpu")
    if is_module:
        model.eval()
    try:
        step = _ModelStep(model, device, None)
        for token in start[:-1]:  # read the prompt; its last token starts the search
            step(torch.tensor([token]), None)
        (out,) = sample_search(step, None, bos_id=int(start[-1]), eos_id=eos_index, max_len=max_len,
                               temperature=temperature, top_k=top_k, generator=generator,
                               processors=processors, batch_size=1)
    finally:
        if is_module:
            model.train(was_training)
    return out


# ---------------------------------------------------------------- CTC decoding (chapter 6)
#
# A CTC model gives log-probabilities per frame, (B, T, V) batch first, with a blank symbol; a
# label sequence is read off an alignment by the collapse (merge repeats, then drop blanks), so
# decoding looks for labels, not for a path. See seqlab.nn.ctc for the loss and its recursion.

import math  # noqa: E402  (the CTC section only; the code above does not use it)


def ctc_collapse(ids, blank: int = 0) -> list[int]:
    """The CTC collapse B: merge repeated neighbours, then drop the blanks.

    ``[a, a, ∅, a]`` → ``[a, a]``: the blank between keeps the two a's apart, while ``[a, a]``
    alone gives ``[a]``. ``ids``: a sequence of ints or a 1-D tensor.
    """
    if isinstance(ids, torch.Tensor):
        if ids.dim() != 1:
            raise ValueError(f"ids must be 1-D (one alignment), got shape {tuple(ids.shape)}")
        ids = ids.tolist()
    out: list[int] = []
    prev = None
    for i in ids:
        i = int(i)
        if i != prev and i != blank:
            out.append(i)
        prev = i
    return out


def _check_ctc(log_probs: torch.Tensor, input_lengths, blank: int, name: str = "log_probs") -> torch.Tensor:
    """Validate (B, T, V) log_probs, the blank and the lengths; return the lengths as a (B,) list tensor."""
    if not isinstance(log_probs, torch.Tensor) or log_probs.dim() != 3 or not log_probs.is_floating_point():
        shape = tuple(log_probs.shape) if isinstance(log_probs, torch.Tensor) else type(log_probs).__name__
        raise ValueError(f"{name} must be a floating (B, T, V) tensor, batch first, got {shape}")
    B, T, V = log_probs.shape
    if isinstance(blank, bool) or not isinstance(blank, int) or not 0 <= blank < V:
        raise ValueError(f"blank must be an int in [0, V) = [0, {V}), got {blank!r}")
    lengths = torch.as_tensor(input_lengths if isinstance(input_lengths, torch.Tensor) else list(input_lengths))
    if lengths.is_floating_point() or tuple(lengths.shape) != (B,):
        raise ValueError(f"input_lengths must be B = {B} integers, got {lengths.dtype} of shape "
                         f"{tuple(lengths.shape)}")
    if B and (lengths.min() < 0 or lengths.max() > T):
        raise ValueError(f"input_lengths must lie in [0, T] = [0, {T}], got {lengths.tolist()}")
    return lengths.long().cpu()


def ctc_greedy_decode(log_probs: torch.Tensor, input_lengths, blank: int = 0) -> list[list[int]]:
    """Best path decoding: the most probable symbol at every frame, then the collapse.

    ``log_probs`` (B, T, V), ``input_lengths`` (B,): frames after a sequence's length are
    ignored. Returns one label list per sequence. This is the most probable *alignment*, which
    need not collapse to the most probable *labelling* (see :func:`ctc_prefix_beam_search`).
    """
    lengths = _check_ctc(log_probs, input_lengths, blank)
    best = log_probs.argmax(dim=-1).cpu()  # (B, T)
    return [ctc_collapse(best[b, :int(n)], blank) for b, n in enumerate(lengths)]


def _logaddexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    m = max(a, b)
    return m + math.log1p(math.exp(-abs(a - b)))


def ctc_prefix_beam_search(log_probs: torch.Tensor, input_lengths=None, beam_size: int = 8,
                           blank: int = 0) -> list[list[tuple[list[int], float]]]:
    r"""CTC prefix beam search (Hannun et al. 2014): the ``beam_size`` most probable label prefixes.

    Every prefix :math:`\ell` keeps two log-probabilities over the frames read so far: the sum
    over its alignments that end in a blank, :math:`p_b(\ell)`, and in its last label,
    :math:`p_{nb}(\ell)`. With :math:`y_t(k)` the frame's probabilities, a frame extends them as

    .. math::

       p_b'(\ell) &\mathrel{+}= y_t(\varnothing)\,(p_b(\ell) + p_{nb}(\ell)) \\
       p_{nb}'(\ell) &\mathrel{+}= y_t(c)\,p_{nb}(\ell) \quad (c = \text{last label of } \ell:
       \text{a repeat merges}) \\
       p_{nb}'(\ell c) &\mathrel{+}= y_t(c)\,\big(p_b(\ell) + p_{nb}(\ell)\big) \quad (c \ne
       \text{last}), \qquad y_t(c)\,p_b(\ell) \quad (c = \text{last: needs the blank between})

    (in log space, ``+`` is logaddexp), then keeps the ``beam_size`` prefixes with the largest
    :math:`p_b + p_{nb}`. The score of a prefix is :math:`\log(p_b + p_{nb})`, the log-probability
    of the labels summed over all their alignments, i.e. ``-ctc_loss(reduction="none")`` when the
    beam is large enough that no alignment was pruned; with a small beam it is a lower bound.

    ``log_probs`` (B, T, V) or one sequence (T, V); ``input_lengths`` (B,), ``None`` for all T
    frames. Returns, per sequence (a batch of one for (T, V)), up to ``beam_size`` pairs
    ``(labels, score)``, best first. The search is a Python loop per sequence, frame, prefix and
    symbol: clear, fine for the lesson's sizes, not for production.
    """
    if isinstance(log_probs, torch.Tensor) and log_probs.dim() == 2:
        log_probs = log_probs[None]  # (1, T, V)
    if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError(f"beam_size must be a positive int, got {beam_size!r}")
    if input_lengths is None and isinstance(log_probs, torch.Tensor) and log_probs.dim() == 3:
        input_lengths = [log_probs.size(1)] * log_probs.size(0)
    lengths = _check_ctc(log_probs, input_lengths, blank)
    V = log_probs.size(-1)
    table = log_probs.detach().double().cpu().tolist()  # B × T × V Python floats
    out = []
    for b, n in enumerate(lengths.tolist()):
        beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, NEG_INF)}  # prefix -> (p_b, p_nb)
        for frame in table[b][:n]:
            grown: dict[tuple[int, ...], list[float]] = {}

            def add(prefix, p_b=NEG_INF, p_nb=NEG_INF):
                old = grown.setdefault(prefix, [NEG_INF, NEG_INF])
                old[0], old[1] = _logaddexp(old[0], p_b), _logaddexp(old[1], p_nb)

            for prefix, (p_b, p_nb) in beams.items():
                total = _logaddexp(p_b, p_nb)
                last = prefix[-1] if prefix else None
                for c in range(V):
                    y = frame[c]
                    if y == NEG_INF:
                        continue
                    if c == blank:
                        add(prefix, p_b=total + y)
                    elif c == last:
                        add(prefix, p_nb=p_nb + y)  # 1 1 → 1: the repeat merges
                        add(prefix + (c,), p_nb=p_b + y)  # 1 ∅ 1 → 1 1
                    else:
                        add(prefix + (c,), p_nb=total + y)
            alive = [(prefix, p) for prefix, p in grown.items() if _logaddexp(*p) > NEG_INF]  # drop p = 0
            scored = sorted(alive, key=lambda kv: -_logaddexp(*kv[1]))[:beam_size]
            beams = {prefix: (p[0], p[1]) for prefix, p in scored}
        ranked = sorted(((list(p), _logaddexp(*s)) for p, s in beams.items()), key=lambda r: -r[1])
        out.append(ranked[:beam_size])
    return out
