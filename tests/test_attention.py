"""seqlab.nn.attention against torch.nn.functional.scaled_dot_product_attention and by hand."""

import math

import pytest
import torch
import torch.nn.functional as F

from seqlab.nn.attention import (AdditiveAttention, DotProductAttention, attention_weights, causal_mask,
                                 masked_softmax, padding_mask, scaled_dot_product_attention)



pytestmark = pytest.mark.usefixtures("float64")


def qkv(B=2, H=3, L=4, S=5, E=6, Ev=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    make = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True)  # noqa: E731
    return make(B, H, L, E), make(B, H, S, E), make(B, H, S, Ev)


def assert_same(mask=None, is_causal=False, scale=None, **shape):
    q, k, v = qkv(**shape)
    ours = scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal, scale=scale)
    grads = torch.autograd.grad(ours.square().sum(), (q, k, v))
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal, scale=scale)
    ref_grads = torch.autograd.grad(ref.square().sum(), (q, k, v))
    torch.testing.assert_close(ours, ref)
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a, b)


def test_matches_torch_without_mask():
    assert_same()


def test_matches_torch_when_L_differs_from_S_and_custom_scale():
    assert_same(L=3, S=8, scale=0.3)
    assert_same(L=9, S=2, scale=1.0)


def test_matches_torch_with_boolean_mask_true_takes_part():
    g = torch.Generator().manual_seed(1)
    mask = torch.rand(2, 3, 4, 5, generator=g) > 0.3
    mask[..., 0] = True  # every query keeps at least one key here
    assert_same(mask=mask)
    assert_same(mask=mask[:, :1])  # broadcast over heads


def test_matches_torch_with_float_mask_added():
    g = torch.Generator().manual_seed(2)
    bias = torch.randn(4, 5, generator=g, dtype=torch.float64)
    bias[1, 2] = float("-inf")
    assert_same(mask=bias)


def test_matches_torch_causal_square_and_rectangular():
    assert_same(is_causal=True, L=5, S=5)
    assert_same(is_causal=True, L=3, S=6)


def test_padding_mask_from_lengths_removes_the_padded_keys():
    q, k, v = qkv(B=2, H=1, L=3, S=5)
    mask = padding_mask(torch.tensor([5, 2]))  # (B, S)
    assert mask.tolist() == [[True] * 5, [True, True, False, False, False]]
    out = scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])
    # row 1 sees only its first two keys: changing the padded values changes nothing
    v2 = v.detach().clone()
    v2[1, :, 2:] = 100.0
    out2 = scaled_dot_product_attention(q, k, v2, attn_mask=mask[:, None, None, :])
    torch.testing.assert_close(out[1], out2[1])
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :]))


def test_weights_rows_sum_to_one_and_match_the_formula():
    q, k, _ = qkv()
    w = attention_weights(q, k)
    torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]))
    by_hand = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-1)
    torch.testing.assert_close(w, by_hand)


def test_fully_masked_query_gives_zero_weights_zero_output_no_nan_like_torch():
    q, k, v = qkv(B=1, H=1, L=3, S=4)
    mask = torch.ones(3, 4, dtype=torch.bool)
    mask[1] = False
    out = scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert not torch.isnan(out).any()
    assert torch.equal(out[0, 0, 1], torch.zeros(v.size(-1)))
    assert torch.equal(attention_weights(q, k, mask)[0, 0, 1], torch.zeros(4))
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    gq, = torch.autograd.grad(out.sum(), q)
    assert not torch.isnan(gq).any() and torch.equal(gq[0, 0, 1], torch.zeros(q.size(-1)))
    # the same with a float mask of -inf
    bias = torch.zeros(3, 4).masked_fill(~mask, float("-inf"))
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, attn_mask=bias), out)


def test_dropout_zero_is_exact_and_dropout_one_zeroes_everything():
    q, k, v = qkv()
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, dropout_p=0.0),
                               F.scaled_dot_product_attention(q, k, v))
    assert torch.equal(scaled_dot_product_attention(q, k, v, dropout_p=1.0), torch.zeros(2, 3, 4, 7))


def test_dropout_keeps_the_expectation():
    torch.manual_seed(0)
    q, k, v = (t.detach() for t in qkv(B=1, H=1, L=2, S=3))
    mean = torch.stack([scaled_dot_product_attention(q, k, v, dropout_p=0.5) for _ in range(4000)]).mean(0)
    torch.testing.assert_close(mean, scaled_dot_product_attention(q, k, v), atol=0.1, rtol=0)


def test_shape_errors_name_the_shapes():
    q, k, v = qkv()
    with pytest.raises(ValueError, match=r"\(2, 3, 4, 6\).*\(2, 3, 5, 3\)"):
        scaled_dot_product_attention(q, k[..., :3], v)
    with pytest.raises(ValueError, match=r"key \(2, 3, 5, 6\).*value \(2, 3, 4, 7\)"):
        scaled_dot_product_attention(q, k, v[:, :, :4])
    with pytest.raises(ValueError, match=r"attn_mask \(3, 3\).*\(2, 3, 4, 5\)"):
        scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="not both"):
        scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(4, 5, dtype=torch.bool), is_causal=True)
    with pytest.raises(TypeError, match="boolean or floating"):
        scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(4, 5, dtype=torch.long))


def test_causal_mask_is_lower_triangular_top_left():
    assert causal_mask(2, 3).tolist() == [[True, False, False], [True, True, False]]


def test_masked_softmax_is_softmax_without_mask():
    x = torch.randn(3, 4)
    torch.testing.assert_close(masked_softmax(x), torch.softmax(x, -1))


def test_sqrt_dk_keeps_the_score_variance_at_one():
    g = torch.Generator().manual_seed(0)
    for d in (4, 64, 256):
        q, k = torch.randn(20000, d, generator=g), torch.randn(20000, d, generator=g)
        raw = (q * k).sum(-1)
        assert abs(raw.var().item() / d - 1) < 0.1
        assert abs((raw / math.sqrt(d)).var().item() - 1) < 0.1


# ---------------------------------------------------------------- the modules

def test_additive_attention_matches_the_formula_and_masks_padding():
    torch.manual_seed(0)
    att = AdditiveAttention(query_size=5, key_size=7, hidden_size=4)
    q, keys, values = torch.randn(2, 5), torch.randn(2, 6, 7), torch.randn(2, 6, 3)
    mask = padding_mask(torch.tensor([6, 3]))
    context, w = att(q, keys, values, mask)
    assert context.shape == (2, 3) and w.shape == (2, 6)
    e = torch.tanh(q[:, None] @ att.query_proj.weight.T + keys @ att.key_proj.weight.T + att.key_proj.bias)
    e = (e @ att.v.weight.T).squeeze(-1)  # (B, S)
    expected = torch.softmax(e.masked_fill(~mask, float("-inf")), dim=-1)
    torch.testing.assert_close(w, expected)
    torch.testing.assert_close(context, (expected.unsqueeze(-1) * values).sum(1))
    assert torch.equal(w[1, 3:], torch.zeros(3))
    # several queries at once give the same rows as one at a time
    qs = torch.randn(2, 4, 5)
    c_all, w_all = att(qs, keys, values, mask)
    for t in range(4):
        c_t, w_t = att(qs[:, t], keys, values, mask)
        torch.testing.assert_close(c_all[:, t], c_t)
        torch.testing.assert_close(w_all[:, t], w_t)
    # precomputed key projections give the same result
    torch.testing.assert_close(att(q, keys, values, mask, projected_keys=att.project_keys(keys))[0], context)


def test_additive_attention_gradients_check():
    torch.manual_seed(1)
    att = AdditiveAttention(3, 4, 5)
    q = torch.randn(2, 3, requires_grad=True)
    k = torch.randn(2, 4, 4, requires_grad=True)
    mask = padding_mask(torch.tensor([4, 2]))
    assert torch.autograd.gradcheck(lambda q, k: att(q, k, None, mask)[0], (q, k))


def test_dot_and_scaled_dot_match_sdpa():
    torch.manual_seed(2)
    q, keys, values = torch.randn(3, 2, 8), torch.randn(3, 5, 8), torch.randn(3, 5, 4)
    mask = padding_mask(torch.tensor([5, 1, 3]))
    for scaled, scale in ((True, None), (False, 1.0)):
        c, w = DotProductAttention(scaled=scaled)(q, keys, values, mask)
        torch.testing.assert_close(c, F.scaled_dot_product_attention(q, keys, values, attn_mask=mask[:, None], scale=scale))


def test_general_score_handles_different_sizes():
    torch.manual_seed(3)
    att = DotProductAttention(query_size=4, key_size=6, scaled=False)
    q, keys = torch.randn(2, 4), torch.randn(2, 5, 6)
    c, w = att(q, keys)
    expected = torch.softmax(torch.einsum("bq,qk,bsk->bs", q, att.weight.weight, keys), dim=-1)
    torch.testing.assert_close(w, expected)
    assert c.shape == (2, 6)


def test_module_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"query \(2, 1, 4\).*keys \(2, 5, 6\)"):
        DotProductAttention()(torch.randn(2, 4), torch.randn(2, 5, 6))
    with pytest.raises(ValueError, match=r"\(B, S\) = \(2, 5\).*\(2, 4\)"):
        DotProductAttention()(torch.randn(2, 6), torch.randn(2, 5, 6), mask=torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="both"):
        DotProductAttention(query_size=3)
    with pytest.raises(ValueError, match=r"\(B, Dq\) or \(B, L, Dq\)"):
        AdditiveAttention(2, 2, 2)(torch.randn(2), torch.randn(2, 3, 2))


def test_bench_script_runs_and_prints_a_row_per_shape():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "attention.py"
    spec = importlib.util.spec_from_file_location("bench_attention", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.attention_speed(rounds=1, lengths=(8,))
    assert len(rows) == 2 and all(r.startswith("| (32, 4, 8, 32) |") and r.endswith("× |") for r in rows)
