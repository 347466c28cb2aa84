"""Choosing the next token from a model's scores: greedy, temperature and top-k sampling.

With logits ``z`` over the vocabulary and temperature ``T > 0``:

.. math::

   p_i(T) = \\frac{\\exp(z_i / T)}{\\sum_j \\exp(z_j / T)}
          = \\frac{p_i^{1/T}}{\\sum_j p_j^{1/T}}

``T = 1`` samples from the model as it is; ``T → 0`` puts all mass on the arg max (greedy);
``T → ∞`` tends to the uniform distribution. Top-k keeps only the k largest scores first.
"""

from __future__ import annotations

import torch


def _check(temperature: float, top_k: int | None) -> None:
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0 (use greedy() for T → 0), got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1 or None, got {top_k}")


def greedy(logits: torch.Tensor) -> torch.Tensor:
    """The arg max over the last dimension: (..., V) → (...)."""
    return logits.argmax(dim=-1)


def apply_temperature(probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """Re-weight a probability vector: ``p^(1/T)`` renormalised, over the last dimension."""
    _check(temperature, None)
    if (probs < 0).any():
        raise ValueError("probs must be non-negative")
    logp = torch.log(probs.clamp_min(torch.finfo(probs.dtype).tiny)) / temperature
    return torch.softmax(logp.masked_fill(probs == 0, float("-inf")), dim=-1)


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
        scores = scores.masked_fill(scores < kth, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    flat = probs.reshape(-1, probs.size(-1))  # (N, V)
    return torch.multinomial(flat, 1, generator=generator).view(probs.shape[:-1])


def _check_penalty(penalty: float) -> None:
    if not penalty >= 1.0:
        raise ValueError(f"repetition_penalty must be >= 1 (1 = off), got {penalty}")


def penalize_repetition(logits: torch.Tensor, previous: list[int], penalty: float) -> torch.Tensor:
    """Make tokens already generated less likely (Keskar et al. 2019): a token's logit ``z`` in
    ``previous`` becomes ``z / penalty`` if positive and ``z * penalty`` if negative. (V,) → (V,)."""
    _check_penalty(penalty)
    if penalty == 1.0 or not previous:
        return logits
    idx = torch.tensor(sorted(set(previous)), device=logits.device)
    z = logits[..., idx]
    return logits.index_copy(-1, idx, torch.where(z > 0, z / penalty, z * penalty))


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
    """Continue ``start`` (token ids) one token at a time with ``model.step``.

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
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    _check_penalty(repetition_penalty)  # before reading the prompt, not at the first step
    if first_choices is not None and not first_choices:
        raise ValueError("first_choices must be None or a non-empty list of token ids")
    if first_choices is not None and suppress is not None and not set(first_choices) - set(suppress):
        raise ValueError("suppress bans every id in first_choices: nothing is left to start with")
    is_module = isinstance(model, torch.nn.Module)
    was_training = model.training if is_module else False
    device = next(model.parameters()).device if is_module else torch.device("cpu")
    if is_module:
        model.eval()
    state, logits = None, None
    for token in start:  # read the prompt
        logits, state = model.step(torch.tensor([token], device=device), state)
    out: list[int] = []
    for _ in range(max_len):
        scores = penalize_repetition(logits[0].float().cpu(), list(start) + out, repetition_penalty)  # (V,)
        if suppress:
            scores = scores.index_fill(-1, torch.tensor(suppress), float("-inf"))
        if first_choices is not None and not out:
            allowed = torch.full_like(scores, float("-inf"))
            allowed[first_choices] = 0.0
            scores = scores + allowed
        nxt = int(sample(scores, temperature, top_k, generator))
        if eos_index is not None and nxt == eos_index:
            break
        out.append(nxt)
        logits, state = model.step(torch.tensor([nxt], device=device), state)
    if is_module:
        model.train(was_training)
    return out
