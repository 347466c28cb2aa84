"""Multi-head attention: seqlab's (from scratch, and fused) vs ``nn.MultiheadAttention``.

Forward + backward on the CPU at B = 32, L = 64, E = 128, 4 heads, self-attention with a causal
mask, float32, the default thread count; the same weights in all three (copied state dicts).
"from scratch" builds the (L × L) weights per head; "fused" hands the heads to
``F.scaled_dot_product_attention`` (``need_weights=False``), as torch does when it is not asked
for the weights. Timed interleaved, medians over rounds.

    python bench/multihead.py
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn as nn

from seqlab.nn.attention import MultiHeadAttention, causal_mask

MULTIHEAD_HEADER = ("| module (B=32, L=64, E=128, 4 heads, causal) | median ms | ratio to nn.MultiheadAttention |\n"
                    "|---|---:|---:|")


def multihead_speed(rounds: int = 15, B: int = 32, L: int = 64, E: int = 128, heads: int = 4) -> list[str]:
    torch.manual_seed(0)
    ref = nn.MultiheadAttention(E, heads, batch_first=True)
    ours = MultiHeadAttention(E, heads)
    fused = MultiHeadAttention(E, heads, fused=True)
    ours.load_state_dict(ref.state_dict())
    fused.load_state_dict(ref.state_dict())
    x = torch.randn(B, L, E, requires_grad=True)
    mask = ~causal_mask(L)  # True = ignore, as nn.MultiheadAttention

    def timed(module) -> float:
        module.zero_grad()
        start = time.perf_counter()
        out, _ = module(x, x, x, attn_mask=mask, need_weights=False)
        out.sum().backward()
        return time.perf_counter() - start

    modules = {"nn.MultiheadAttention": ref, "seqlab, from scratch": ours, "seqlab, fused=True": fused}
    for _ in range(3):
        for m in modules.values():
            timed(m)
    times = {name: [] for name in modules}
    for _ in range(rounds):
        for name, m in modules.items():
            times[name].append(timed(m))
    base = statistics.median(times["nn.MultiheadAttention"])
    return [f"| {name} | {statistics.median(t) * 1000:.2f} | {statistics.median(t) / base:.2f}× |" for name, t in times.items()]


if __name__ == "__main__":
    print(MULTIHEAD_HEADER)
    print("\n".join(multihead_speed()))
