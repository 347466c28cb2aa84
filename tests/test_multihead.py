"""seqlab.nn.attention.MultiHeadAttention against torch.nn.MultiheadAttention with copied state dicts."""

import pytest
import torch
import torch.nn as nn

from seqlab.nn.attention import MultiHeadAttention, causal_mask


pytestmark = pytest.mark.usefixtures("float64")


def pair(E=8, H=2, batch_first=True, bias=True, fused=False):
    torch.manual_seed(0)
    ref = nn.MultiheadAttention(E, H, batch_first=batch_first, bias=bias).eval()
    ours = MultiHeadAttention(E, H, batch_first=batch_first, bias=bias, fused=fused).eval()
    ours.load_state_dict(ref.state_dict())
    return ours, ref


def inputs(B=3, L=4, S=5, E=8, seed=1):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(B, n, E, generator=g, requires_grad=True) for n in (L, S, S))


def run(module, q, k, v, **kw):
    out, w = module(q, k, v, **kw)
    grads = torch.autograd.grad((out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum(),
                                (q, k, v, *module.parameters()))
    return out, w, grads


def assert_same(ours, ref, q, k, v, **kw):
    a_out, a_w, a_g = run(ours, q, k, v, **kw)
    b_out, b_w, b_g = run(ref, q, k, v, **kw)
    torch.testing.assert_close(a_out, b_out)
    if b_w is not None:
        torch.testing.assert_close(a_w, b_w)
    else:
        assert a_w is None
    for x, y in zip(a_g, b_g):
        torch.testing.assert_close(x, y)


def test_state_dict_has_torch_names_and_loads_both_ways():
    ours, ref = pair()
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert list(ours.state_dict()) == ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    ref.load_state_dict(ours.state_dict())


@pytest.mark.parametrize("average", [True, False])
def test_self_and_cross_attention_match_torch(average):
    ours, ref = pair()
    q, k, v = inputs()
    assert_same(ours, ref, q, k, v, average_attn_weights=average)  # cross: L != S
    assert_same(ours, ref, q, q, q, average_attn_weights=average)  # self


def test_key_padding_mask_true_means_ignore_like_torch():
    ours, ref = pair()
    q, k, v = inputs()
    pad = torch.tensor([[False] * 5, [False, False, False, True, True], [False, True, True, True, True]])
    assert_same(ours, ref, q, k, v, key_padding_mask=pad)
    _, w = ours(q, k, v, key_padding_mask=pad)
    assert torch.equal(w[1, :, 3:], torch.zeros(4, 2)) and torch.equal(w[2, :, 1:], torch.zeros(4, 4))


def test_float_masks_are_added_like_torch():
    ours, ref = pair()
    q, k, v = inputs()
    g = torch.Generator().manual_seed(3)
    assert_same(ours, ref, q, k, v, attn_mask=torch.randn(4, 5, generator=g),
                key_padding_mask=torch.randn(3, 5, generator=g))


def test_causal_and_per_head_masks_like_torch():
    ours, ref = pair()
    q, _, _ = inputs(L=5, S=5)
    assert_same(ours, ref, q, q, q, attn_mask=~causal_mask(5))
    assert_same(ours, ref, q, q, q, attn_mask=~causal_mask(5), is_causal=True)
    g = torch.Generator().manual_seed(4)
    per_head = torch.rand(3 * 2, 5, 5, generator=g) > 0.7
    per_head[..., 0] = False  # every query keeps one key
    assert_same(ours, ref, q, q, q, attn_mask=per_head)


def test_is_causal_alone_builds_the_causal_mask():
    ours, ref = pair()
    q, _, _ = inputs(L=5, S=5)
    a, _ = ours(q, q, q, is_causal=True)
    b, _ = ref(q, q, q, attn_mask=~causal_mask(5))
    torch.testing.assert_close(a, b)
    # the first output does not depend on the later inputs
    q2 = q.detach().clone()
    q2[:, 1:] = 0.0
    torch.testing.assert_close(ours(q2, q2, q2, is_causal=True)[0][:, 0], a[:, 0])


def test_time_first_layout_and_no_bias():
    ours, ref = pair(batch_first=False, bias=False)
    q, k, v = (t.transpose(0, 1).detach().requires_grad_() for t in inputs())  # (T, B, E)
    assert_same(ours, ref, q, k, v)


@pytest.mark.parametrize("kw", [{}, dict(key_padding_mask=torch.tensor([[False] * 5, [False] * 3 + [True] * 2,
                                                                         [False] + [True] * 4])),
                                dict(attn_mask=~causal_mask(4, 5))])
def test_fused_path_gives_the_same_outputs_and_gradients(kw):
    ours, ref = pair(fused=True)
    q, k, v = inputs()
    assert_same(ours, ref, q, k, v, need_weights=False, **kw)
    plain = MultiHeadAttention(8, 2).eval()
    plain.load_state_dict(ours.state_dict())
    torch.testing.assert_close(ours(q, k, v, need_weights=False, **kw)[0], plain(q, k, v, **kw)[0])


def test_fully_masked_query_gives_zeros_on_both_paths():
    for fused in (False, True):
        ours, _ = pair(fused=fused)
        q, k, v = inputs()
        mask = torch.zeros(4, 5, dtype=torch.bool)
        mask[2] = True  # query 2 may see nothing
        out, _ = ours(q, k, v, attn_mask=mask, need_weights=False)
        assert not torch.isnan(out).any()
        torch.testing.assert_close(out[:, 2], ours.out_proj.bias.expand(3, 8))  # zero context → only W^O's bias


def test_dropout_in_training_only_and_errors():
    torch.manual_seed(0)
    m = MultiHeadAttention(8, 2, dropout=0.5)
    q, k, v = (t.detach() for t in inputs())
    m.eval()
    assert torch.equal(m(q, k, v)[0], m(q, k, v)[0])
    m.train()
    assert not torch.equal(m(q, k, v)[0], m(q, k, v)[0])
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match=r"key_padding_mask must be \(B, S\) = \(3, 5\)"):
        m(q, k, v, key_padding_mask=torch.zeros(3, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\(L, S\) = \(4, 5\)"):
        m(q, k, v, attn_mask=torch.zeros(5, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\(B, L, 8\)"):
        m(q[..., :6], k, v)


def test_bench_script_runs():
    import importlib.util
    from pathlib import Path

    torch.set_default_dtype(torch.float32)
    path = Path(__file__).resolve().parents[1] / "bench" / "multihead.py"
    spec = importlib.util.spec_from_file_location("bench_multihead", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.multihead_speed(rounds=1, B=2, L=8, E=16, heads=2)
    assert len(rows) == 3 and rows[0].startswith("| nn.MultiheadAttention |") and rows[0].endswith("1.00× |")
