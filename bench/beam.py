"""Batched beam search vs one input at a time, on the CPU (one thread).

B = 32 inputs, beam 5, max_len 30, a small random GRU decoder (H = 128, V = 500) whose ``<eos>``
has a low prior, so hypotheses run long. "batched" is one ``beam_search`` call over all 32 inputs
(N = 160 rows per step); "loop" calls ``beam_search`` on one input at a time. The two are timed
interleaved, and the table shows medians and their ratio.

    python bench/beam.py
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn as nn

from seqlab.decoding import beam_search

BEAM_HEADER = ("| decoding (B=32, beam 5, max_len 30, GRU H=128, V=500) | median s | ratio |\n"
               "|---|---:|---:|")
BOS, EOS = 1, 2


class RandomGRUDecoder(nn.Module):
    """Embedding → GRU → linear, untrained; the state is (N, H), batch first."""

    def __init__(self, vocab_size: int = 500, hidden_size: int = 128, eos_bias: float = -6.0) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, hidden_size)
        self.rnn = nn.GRU(hidden_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, vocab_size)
        with torch.no_grad():
            self.out.bias[EOS] = eos_bias  # <eos> rarely wins: sequences run to max_len or close

    @torch.no_grad()
    def step(self, tokens: torch.Tensor, state: torch.Tensor | None):
        x = self.embedding(tokens)[:, None]  # (N, 1, H)
        h = None if state is None else state[None]  # (1, N, H), the layout torch's GRU wants
        output, h = self.rnn(x, h)  # (N, 1, H)
        return self.out(output[:, 0]).log_softmax(dim=-1), h[0]  # (N, V), (N, H)


def beam_speed(rounds: int = 3) -> list[str]:
    """Markdown rows: median seconds of batched and looped beam search, and loop / batched."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    B, k, max_len = 32, 5, 30
    model = RandomGRUDecoder().eval()
    state = torch.randn(B, 128)  # one encoder summary per input
    kw = dict(bos_id=BOS, eos_id=EOS, beam_size=k, max_len=max_len)

    def batched():
        return beam_search(model.step, state, **kw)

    def looped():
        return [beam_search(model.step, state[b:b + 1], **kw)[0] for b in range(B)]

    def timed(fn):
        start = time.perf_counter()
        result = fn()
        return time.perf_counter() - start, result

    _, a = timed(batched)  # warm-up, and the two must agree
    _, b = timed(looped)
    if [[t for t, _ in h] for h in a] != [[t for t, _ in h] for h in b]:
        raise AssertionError("batched and looped beam search disagree")
    mean_len = statistics.mean(len(h[0][0]) for h in a)
    t_batch, t_loop = [], []
    for _ in range(rounds):
        t_batch.append(timed(batched)[0])
        t_loop.append(timed(looped)[0])
    mb, ml = statistics.median(t_batch), statistics.median(t_loop)
    return [f"| batched: one call, N = {B * k} rows a step (best hypothesis {mean_len:.1f} tokens on average) "
            f"| {mb:.3f} | 1.00× |",
            f"| loop over the {B} inputs, N = {k} rows a step | {ml:.3f} | {ml / mb:.2f}× |"]


if __name__ == "__main__":
    print(BEAM_HEADER)
    print("\n".join(beam_speed()))
