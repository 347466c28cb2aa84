"""Scaled dot-product attention: seqlab's step-by-step version vs ``F.scaled_dot_product_attention``.

Forward + backward on the CPU at B = 32, heads = 4, d = 32 and L = S = 64 and 256, float32, the
default thread count. seqlab builds the whole (L × S) weight matrix (QKᵀ, mask, softmax, then the
product with V) and keeps it for backward; torch's CPU kernel (the flash-attention style fused
kernel) works through the keys in blocks with a running softmax, so it never holds the L × S
matrix and touches less memory as L grows. Timed interleaved, medians over rounds.

    python bench/attention.py
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F

from seqlab.nn.attention import scaled_dot_product_attention

ATTENTION_HEADER = ("| shape (B, heads, L, d) | mask | torch ms | seqlab ms | ratio |\n"
                    "|---|---|---:|---:|---:|")


def _timed(fn, q, k, v, **kw) -> float:
    for t in (q, k, v):
        t.grad = None
    start = time.perf_counter()
    fn(q, k, v, **kw).sum().backward()
    return time.perf_counter() - start


def attention_speed(rounds: int = 15, lengths=(64, 256)) -> list[str]:
    """Markdown rows: median ms of torch's and seqlab's attention (forward + backward) and seqlab / torch."""
    rows = []
    for L in lengths:
        for causal in (False, True):
            torch.manual_seed(0)
            q, k, v = (torch.randn(32, 4, L, 32, requires_grad=True) for _ in range(3))
            kw = dict(is_causal=causal)
            for _ in range(3):  # warm-up
                _timed(F.scaled_dot_product_attention, q, k, v, **kw)
                _timed(scaled_dot_product_attention, q, k, v, **kw)
            ref, ours = [], []
            for _ in range(rounds):
                ref.append(_timed(F.scaled_dot_product_attention, q, k, v, **kw))
                ours.append(_timed(scaled_dot_product_attention, q, k, v, **kw))
            r, o = statistics.median(ref), statistics.median(ours)
            rows.append(f"| (32, 4, {L}, 32) | {'causal' if causal else 'none'} | {r * 1000:.2f} | {o * 1000:.2f} | {o / r:.2f}× |")
    return rows


if __name__ == "__main__":
    print(ATTENTION_HEADER)
    print("\n".join(attention_speed()))
