"""seqlab's from-scratch CTC loss vs ``F.ctc_loss``, forward + backward, on the CPU (one thread).

B = 32 sequences of T = 100 frames over V = 12 symbols (blank 0), random targets of length 8,
random logits; one call is ``log_softmax`` → loss (``reduction="mean"``) → ``backward()``.
torch's loss gets ``log_probs.transpose(0, 1)``, its (T, B, V) layout. The two are timed
interleaved (``repeats`` calls per round, per side), and the table shows medians per call and
their ratio. Ours is a Python loop over time with autograd through it; torch's is one C++ kernel
each way.

    python bench/ctc.py
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F

from seqlab.nn.ctc import ctc_loss

CTC_HEADER = ("| CTC loss, forward + backward (CPU, B=32, T=100, V=12, S=8) | median ms | ratio |\n"
              "|---|---:|---:|")


def ctc_speed(rounds: int = 5, repeats: int = 10) -> list[str]:
    """Markdown rows: median milliseconds per call of ours and of ``F.ctc_loss``, and ours / torch."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    B, T, V, S = 32, 100, 12, 8
    logits = torch.randn(B, T, V, requires_grad=True)
    targets = torch.randint(1, V, (B, S))
    input_lengths = torch.full((B,), T)
    target_lengths = torch.full((B,), S)

    def ours():
        loss = ctc_loss(logits.log_softmax(-1), targets, input_lengths, target_lengths)
        loss.backward()
        return loss

    def theirs():
        loss = F.ctc_loss(logits.log_softmax(-1).transpose(0, 1), targets, input_lengths, target_lengths)
        loss.backward()
        return loss

    def timed(fn):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        return (time.perf_counter() - start) / repeats

    logits.grad = None  # warm-up, and the two must agree
    a = ours()
    grad = logits.grad.clone()
    logits.grad = None
    b = theirs()
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(grad, logits.grad, atol=1e-5, rtol=1e-4)
    t_ours, t_torch = [], []
    for _ in range(rounds):
        t_ours.append(timed(ours))
        t_torch.append(timed(theirs))
    mo, mt = statistics.median(t_ours), statistics.median(t_torch)
    return [f"| F.ctc_loss (C++), log_probs (T, B, V) | {mt * 1e3:.2f} | 1.00× |",
            f"| seqlab.nn.ctc.ctc_loss: α recursion in log space, autograd | {mo * 1e3:.2f} | {mo / mt:.2f}× |"]


if __name__ == "__main__":
    print(CTC_HEADER)
    print("\n".join(ctc_speed()))
