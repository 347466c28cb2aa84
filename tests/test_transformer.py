"""seqlab.nn.transformer against torch's Transformer layers with copied state dicts."""

import math

import pytest
import torch
import torch.nn as nn

from seqlab.nn.attention import causal_mask
from seqlab.nn.transformer import (PositionalEncoding, TransformerConfig, TransformerDecoder, TransformerDecoderLayer,
                                   TransformerEncoder, TransformerEncoderLayer, sinusoidal_encoding)


pytestmark = pytest.mark.usefixtures("float64")


KW = dict(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0, batch_first=True)


def grads_of(out, tensors, module):
    probe = torch.linspace(-1, 1, out.numel()).view_as(out)
    return torch.autograd.grad((out * probe).sum(), (*tensors, *module.parameters()))


def x(B=3, T=5, seed=0):
    return torch.randn(B, T, 8, generator=torch.Generator().manual_seed(seed), requires_grad=True)


PAD = torch.tensor([[False] * 5, [False] * 3 + [True] * 2, [False] + [True] * 4])


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("masks", ["none", "padding", "causal", "both"])
def test_encoder_layer_matches_torch(norm_first, activation, masks):
    torch.manual_seed(0)
    ref = nn.TransformerEncoderLayer(**KW, norm_first=norm_first, activation=activation).eval()
    ours = TransformerEncoderLayer(**KW, norm_first=norm_first, activation=activation).eval()
    assert list(ours.state_dict()) == list(ref.state_dict())
    ours.load_state_dict(ref.state_dict())
    kw = {}
    if masks in ("padding", "both"):
        kw["src_key_padding_mask"] = PAD
    if masks in ("causal", "both"):
        kw["src_mask"] = ~causal_mask(5)
    src = x()
    a, b = ours(src, **kw), ref(src, **kw)
    torch.testing.assert_close(a, b)
    for g, h in zip(grads_of(a, (src,), ours), grads_of(b, (src,), ref)):
        torch.testing.assert_close(g, h)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_torch(norm_first):
    torch.manual_seed(1)
    ref = nn.TransformerDecoderLayer(**KW, norm_first=norm_first).eval()
    ours = TransformerDecoderLayer(**KW, norm_first=norm_first).eval()
    assert list(ours.state_dict()) == list(ref.state_dict())
    ours.load_state_dict(ref.state_dict())
    tgt, memory = x(T=4, seed=2), x(T=5, seed=3)
    kw = dict(tgt_mask=~causal_mask(4), tgt_key_padding_mask=PAD[:, :4], memory_key_padding_mask=PAD)
    a, b = ours(tgt, memory, **kw), ref(tgt, memory, **kw)
    torch.testing.assert_close(a, b)
    for g, h in zip(grads_of(a, (tgt, memory), ours), grads_of(b, (tgt, memory), ref)):
        torch.testing.assert_close(g, h)
    # tgt_is_causal alone builds the mask
    torch.testing.assert_close(ours(tgt, memory, tgt_is_causal=True), ref(tgt, memory, tgt_mask=~causal_mask(4)))


@pytest.mark.parametrize("norm_first", [False, True])
def test_fused_layers_give_the_same_outputs(norm_first):
    torch.manual_seed(2)
    plain = TransformerDecoderLayer(**KW, norm_first=norm_first).eval()
    fused = TransformerDecoderLayer(**KW, norm_first=norm_first, fused=True).eval()
    fused.load_state_dict(plain.state_dict())
    tgt, memory = x(T=4, seed=4), x(T=5, seed=5)
    kw = dict(tgt_is_causal=True, memory_key_padding_mask=PAD)
    a, b = fused(tgt, memory, **kw), plain(tgt, memory, **kw)
    torch.testing.assert_close(a, b)
    for g, h in zip(grads_of(a, (tgt, memory), fused), grads_of(b, (tgt, memory), plain)):
        torch.testing.assert_close(g, h)


def test_stacks_match_torch_stacks():
    torch.manual_seed(3)
    cfg = TransformerConfig(d_model=8, nhead=2, num_layers=2, dim_feedforward=16, dropout=0.0, norm_first=True)
    enc, dec = TransformerEncoder(cfg).eval(), TransformerDecoder(cfg).eval()
    ref_enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(**KW, norm_first=True), 2, norm=nn.LayerNorm(8),
                                    enable_nested_tensor=False).eval()
    ref_dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(**KW, norm_first=True), 2, norm=nn.LayerNorm(8)).eval()
    enc.load_state_dict(ref_enc.state_dict())
    dec.load_state_dict(ref_dec.state_dict())
    src, tgt = x(T=5, seed=6), x(T=4, seed=7)
    memory = enc(src, src_key_padding_mask=PAD)
    torch.testing.assert_close(memory, ref_enc(src, src_key_padding_mask=PAD))
    torch.testing.assert_close(dec(tgt, memory, tgt_mask=~causal_mask(4), memory_key_padding_mask=PAD),
                               ref_dec(tgt, memory, tgt_mask=~causal_mask(4), memory_key_padding_mask=PAD))


def test_sinusoidal_encoding_values_and_positional_module():
    pe = sinusoidal_encoding(50, 6)
    assert pe.shape == (50, 6)
    p, i = 7, 1
    assert math.isclose(pe[p, 2 * i].item(), math.sin(p / 10000 ** (2 * i / 6)), rel_tol=1e-5)
    assert math.isclose(pe[p, 2 * i + 1].item(), math.cos(p / 10000 ** (2 * i / 6)), rel_tol=1e-5)
    module = PositionalEncoding(6, max_len=50)
    z = torch.zeros(2, 10, 6)
    torch.testing.assert_close(module(z), pe[:10].expand(2, 10, 6).to(z.dtype))
    torch.testing.assert_close(module(z[:, :1], offset=9)[:, 0], pe[9].expand(2, 6).to(z.dtype))
    with pytest.raises(ValueError, match="max_len"):
        module(torch.zeros(1, 51, 6))
    with pytest.raises(ValueError, match="even"):
        sinusoidal_encoding(4, 5)


def test_without_positions_self_attention_is_permutation_equivariant():
    torch.manual_seed(4)
    layer = TransformerEncoderLayer(**KW).eval()
    src = x().detach()
    perm = torch.tensor([3, 0, 4, 1, 2])
    torch.testing.assert_close(layer(src[:, perm]), layer(src)[:, perm])
    pos = PositionalEncoding(8)
    assert not torch.allclose(layer(pos(src[:, perm])), layer(pos(src))[:, perm])


def test_config_and_layer_errors():
    with pytest.raises(ValueError, match="divisible"):
        TransformerConfig(d_model=10, nhead=3)
    with pytest.raises(ValueError, match="batch first"):
        TransformerEncoderLayer(8, 2, batch_first=False)
    with pytest.raises(ValueError, match="activation"):
        TransformerEncoderLayer(8, 2, activation="tanh")


def _batch():
    from seqlab.data.batching import Seq2SeqBatch, pad_sequences

    src, lengths = pad_sequences([[4, 5, 6, 7], [8, 9], [10, 11, 4]])
    tgt_in, _ = pad_sequences([[1, 3, 4, 5], [1, 6], [1, 7, 8]])
    tgt_out, _ = pad_sequences([[3, 4, 5, 2], [6, 2], [7, 8, 2]])
    return Seq2SeqBatch(src, lengths, tgt_in, tgt_out)


def _seq2seq(**kw):
    from seqlab.nn.transformer import TransformerSeq2Seq, TransformerSeq2SeqConfig

    torch.manual_seed(0)
    base = dict(src_vocab_size=12, tgt_vocab_size=9, d_model=8, nhead=2, dim_feedforward=16, dropout=0.0)
    return TransformerSeq2Seq(TransformerSeq2SeqConfig(**{**base, **kw})).eval()


@pytest.mark.parametrize("kw", [{}, dict(norm_first=False), dict(fused=True)])
def test_transformer_seq2seq_steps_equal_teacher_forcing_and_padding_changes_nothing(kw):
    model, b = _seq2seq(**kw), _batch()
    logits = model(b.src, b.src_lengths, b.tgt_in)
    state = model.encode(b.src, b.src_lengths)
    for t in range(b.tgt_in.size(1)):
        log_probs, state = model.step(b.tgt_in[:, t], state)
        real = b.tgt_in[:, t] != 0
        torch.testing.assert_close(log_probs[real], torch.log_softmax(logits[real, t], -1))
    for i in range(3):
        n, m = int(b.src_lengths[i]), int((b.tgt_in[i] != 0).sum())
        alone = model(b.src[i:i + 1, :n], b.src_lengths[i:i + 1], b.tgt_in[i:i + 1, :m])
        torch.testing.assert_close(alone, logits[i:i + 1, :m])
    loss, n = model.loss(b)
    assert n == 9 and torch.isfinite(loss)


def test_transformer_seq2seq_works_with_beam_search_and_learns_to_reverse():
    from seqlab.data.batching import Seq2SeqBatch, pad_sequences
    from seqlab.decoding import beam_search, greedy_search

    model = _seq2seq(d_model=32, dim_feedforward=64, src_vocab_size=10, tgt_vocab_size=10).train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        seqs = [torch.randint(3, 10, (int(torch.randint(2, 7, (1,), generator=g)),), generator=g).tolist() for _ in range(32)]
        src, lengths = pad_sequences(seqs)
        loss, _ = model.loss(Seq2SeqBatch(src, lengths, pad_sequences([[1] + s[::-1] for s in seqs])[0],
                                          pad_sequences([s[::-1] + [2] for s in seqs])[0]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    tests = [[3, 4, 5, 6], [9, 8, 7], [5, 5, 3, 9, 4]]
    src, lengths = pad_sequences(tests)
    state = model.encode(src, lengths)
    out = greedy_search(model.step, state, bos_id=1, eos_id=2, max_len=8)
    assert sum(o == t[::-1] for o, t in zip(out, tests)) >= 2, out
    beams = beam_search(model.step, state, bos_id=1, eos_id=2, beam_size=3, max_len=8)
    assert [b[0][0] for b in beam_search(model.step, state, bos_id=1, eos_id=2, beam_size=1, max_len=8)] == out
    assert len(beams) == 3


def test_transformer_lm_is_causal_and_steps_like_its_forward():
    from seqlab.decoding import generate
    from seqlab.nn.transformer import TransformerLM

    torch.manual_seed(0)
    lm = TransformerLM(20, TransformerConfig(d_model=8, nhead=2, num_layers=2, dim_feedforward=16, dropout=0.0)).eval()
    tokens = torch.randint(3, 20, (2, 6))
    logits, _ = lm(tokens)
    changed = tokens.clone()
    changed[:, 4:] = 3
    torch.testing.assert_close(lm(changed)[0][:, :4], logits[:, :4])  # the future does not leak back
    state = None
    for t in range(6):
        step_logits, state = lm.step(tokens[:, t], state)
        torch.testing.assert_close(step_logits, logits[:, t])
    assert lm.out.weight is lm.embedding.weight
    loss, n = lm.loss(tokens[:, :-1], tokens[:, 1:])
    assert n == 10 and torch.isfinite(loss)
    assert len(generate(lm, [1, 5], max_len=4, top_k=1)) == 4


def test_embeddings_start_small_so_tied_logits_are_not_overconfident():
    from seqlab.nn.transformer import TransformerLM, TransformerSeq2Seq, TransformerSeq2SeqConfig

    torch.manual_seed(0)
    lm = TransformerLM(500, TransformerConfig(d_model=64, nhead=4, num_layers=1, dim_feedforward=64, dropout=0.0))
    w = lm.embedding.weight.detach()
    assert abs(w[1:].std().item() - 64 ** -0.5) < 0.01 and torch.equal(w[0], torch.zeros(64))
    logits, _ = lm(torch.randint(1, 500, (4, 10)))
    assert logits.std().item() < 3.0  # N(0, 1) embeddings would give about sqrt(64) = 8
    s2s = TransformerSeq2Seq(TransformerSeq2SeqConfig(50, 40, d_model=16, nhead=2))
    assert abs(s2s.src_embedding.weight[1:].std().item() - 0.25) < 0.05
