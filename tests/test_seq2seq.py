"""The recurrent encoder–decoder: wirings, padding, the step interface, torch's layers, learning."""

import pytest
import torch

from seqlab.data.batching import pad_sequences
from seqlab.nn.seq2seq import Seq2Seq, Seq2SeqConfig

PAD, BOS, EOS = 0, 1, 2


def make(**kw):
    torch.manual_seed(0)
    base = dict(src_vocab_size=12, tgt_vocab_size=9, embed_dim=5, hidden_size=6)
    base.update(kw)
    return Seq2Seq(Seq2SeqConfig(**base)).double().eval()


VARIANTS = [dict(recurrent=r, bridge=b, bidirectional_encoder=bi, num_layers=n)
            for r in ("gru", "lstm") for b in ("init", "every_step", "both") for bi in (False, True) for n in (1, 2)]
ATTENTION_VARIANTS = [dict(attention=a, recurrent=r, bidirectional_encoder=bi, num_layers=n, bridge=b)
                      for a, r, bi, n, b in [("additive", "gru", False, 1, "init"), ("additive", "lstm", True, 2, "both"),
                                             ("dot", "gru", False, 2, "init"), ("scaled_dot", "lstm", False, 1, "every_step"),
                                             ("general", "gru", True, 1, "init"), ("general", "lstm", True, 2, "init")]]


def batch():
    src, src_lengths = pad_sequences([[4, 5, 6, 7], [8, 9], [10, 11, 4]])
    tgt_in, _ = pad_sequences([[BOS, 3, 4, 5], [BOS, 6], [BOS, 7, 8]])
    return src, src_lengths, tgt_in


@pytest.mark.parametrize("kw", VARIANTS + ATTENTION_VARIANTS)
def test_stepping_equals_teacher_forcing_and_padding_changes_nothing(kw):
    model = make(**kw)
    src, src_lengths, tgt_in = batch()
    logits = model(src, src_lengths, tgt_in)  # (B, T, V)
    state = model.encode(src, src_lengths)
    assert all(s.size(0) == 3 for s in state)  # batch first, for beam search
    for t in range(tgt_in.size(1)):
        log_probs, state = model.step(tgt_in[:, t], state)
        torch.testing.assert_close(log_probs, torch.log_softmax(logits[:, t], -1))
    for b in range(3):  # each source alone gives what it gives in the padded batch
        n = int(src_lengths[b])
        alone = model(src[b:b + 1, :n], src_lengths[b:b + 1], tgt_in[b:b + 1])
        torch.testing.assert_close(alone, logits[b:b + 1])


@pytest.mark.parametrize("kw", [dict(recurrent="lstm", bidirectional_encoder=True, bridge="both"),
                                dict(recurrent="gru", num_layers=2), dict(recurrent="gru", attention="additive")])
def test_torch_layers_give_the_same_model(kw):
    ours, fused = make(**kw), make(builtin=True, **kw)
    fused.load_state_dict(ours.state_dict())  # the same parameter names
    src, src_lengths, tgt_in = batch()
    torch.testing.assert_close(fused(src, src_lengths, tgt_in), ours(src, src_lengths, tgt_in))


@pytest.mark.parametrize("attention", [None, "additive"])
def test_states_reorder_by_rows(attention):
    model = make(recurrent="lstm", bridge="both", attention=attention)
    src, src_lengths, tgt_in = batch()
    state = model.encode(src, src_lengths)
    order = torch.tensor([2, 0, 1])
    a, _ = model.step(tgt_in[:, 0], state)
    b, _ = model.step(tgt_in[order, 0], tuple(s.index_select(0, order) for s in state))
    torch.testing.assert_close(b, a[order])


def test_loss_ignores_padding_and_sequence_log_prob_sums_tokens():
    from seqlab.data.batching import Seq2SeqBatch

    model = make()
    src, src_lengths, tgt_in = batch()
    tgt_out, _ = pad_sequences([[3, 4, 5, EOS], [6, EOS], [7, 8, EOS]])
    loss, n = model.loss(Seq2SeqBatch(src, src_lengths, tgt_in, tgt_out))
    assert n == 9
    logp = model.sequence_log_prob(src, src_lengths, tgt_in, tgt_out)
    torch.testing.assert_close(-logp.sum() / n, loss)
    # the short sequence alone: its padded positions added nothing
    alone = model.sequence_log_prob(src[1:2, :2], src_lengths[1:2], tgt_in[1:2, :2], tgt_out[1:2, :2])
    torch.testing.assert_close(alone, logp[1:2])


def test_scheduled_sampling_with_teacher_prob_one_is_teacher_forcing():
    from seqlab.data.batching import Seq2SeqBatch

    model = make(recurrent="lstm", bridge="every_step")
    src, src_lengths, tgt_in = batch()
    tgt_out, _ = pad_sequences([[3, 4, 5, EOS], [6, EOS], [7, 8, EOS]])
    b = Seq2SeqBatch(src, src_lengths, tgt_in, tgt_out)
    torch.testing.assert_close(model.scheduled_sampling_loss(b, 1.0)[0], model.loss(b)[0])
    assert model.scheduled_sampling_loss(b, 0.0)[0] != model.loss(b)[0]
    with pytest.raises(ValueError, match="teacher_prob"):
        model.scheduled_sampling_loss(b, 1.5)


def _reverse_loss(attention=None, steps=200, lengths=(12, 12), vocab=13, lr=0.01, seed=0):
    """Train a small GRU seq2seq to reverse random sequences (lengths drawn from lo..hi) and return the last loss."""
    from seqlab.data.batching import Seq2SeqBatch

    torch.manual_seed(seed)
    model = Seq2Seq(Seq2SeqConfig(src_vocab_size=vocab, tgt_vocab_size=vocab, embed_dim=16, hidden_size=32, attention=attention))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    lo, hi = lengths
    for _ in range(steps):
        seqs = [torch.randint(3, vocab, (lo if lo == hi else int(torch.randint(lo, hi + 1, (1,), generator=g)),),
                              generator=g).tolist() for _ in range(32)]
        src, src_lengths = pad_sequences(seqs)
        tgt_in, _ = pad_sequences([[BOS] + s[::-1] for s in seqs])
        tgt_out, _ = pad_sequences([s[::-1] + [EOS] for s in seqs])
        loss, _ = model.loss(Seq2SeqBatch(src, src_lengths, tgt_in, tgt_out))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


def test_learns_to_reverse_short_sequences():
    assert _reverse_loss(steps=150, lengths=(1, 4), vocab=8, lr=0.02) < 0.3


@pytest.mark.parametrize("attention", ["additive", "dot", "general"])
def test_attention_maps_are_distributions_over_the_real_source(attention):
    model = make(attention=attention, bidirectional_encoder=attention != "dot")
    src, src_lengths, tgt_in = batch()
    maps = model.attention_maps(src, src_lengths, tgt_in)  # (B, T, S)
    assert maps.shape == (3, tgt_in.size(1), src.size(1))
    torch.testing.assert_close(maps.sum(-1), torch.ones(3, tgt_in.size(1), dtype=maps.dtype))
    for b in range(3):
        assert torch.equal(maps[b, :, int(src_lengths[b]):], torch.zeros_like(maps[b, :, int(src_lengths[b]):]))
    # the attention shapes the output: other weights over the same encoder outputs give other logits
    with torch.no_grad():
        model.combine.weight[:, : model.context_size].mul_(3.0)
    assert not torch.allclose(model(src, src_lengths, tgt_in), make(attention=attention, bidirectional_encoder=attention != "dot")(src, src_lengths, tgt_in))
    with pytest.raises(ValueError, match="no attention"):
        make().attention_maps(src, src_lengths, tgt_in)


def test_beam_search_runs_on_the_attention_state():
    from seqlab.decoding import beam_search, greedy_search

    model = make(attention="additive", recurrent="lstm")
    src, src_lengths, _ = batch()
    state = model.encode(src, src_lengths)
    greedy = greedy_search(model.step, state, bos_id=BOS, eos_id=EOS, max_len=6)
    beams = beam_search(model.step, state, bos_id=BOS, eos_id=EOS, beam_size=1, max_len=6)
    assert [b[0][0] if b else [] for b in beams] == greedy
    wide = beam_search(model.step, state, bos_id=BOS, eos_id=EOS, beam_size=3, max_len=6)
    assert len(wide) == 3 and all(len(b) >= 1 for b in wide)


def test_attention_learns_to_reverse_long_sequences_that_one_vector_cannot_hold():
    # 12 random tokens out of 10: about 40 bits, more than a 32-unit state learns to carry in 200 steps
    with_attention, without = _reverse_loss("additive"), _reverse_loss(None)
    assert with_attention < 0.5 * without, (with_attention, without)


def test_bad_config():
    with pytest.raises(ValueError, match="attention"):
        Seq2SeqConfig(10, 10, attention="luong")
    with pytest.raises(ValueError, match="2\\*hidden_size = 12 wide"):
        Seq2SeqConfig(10, 10, hidden_size=6, attention="dot", bidirectional_encoder=True)
    with pytest.raises(ValueError, match="bridge"):
        Seq2SeqConfig(10, 10, bridge="attention")
    with pytest.raises(ValueError, match="hidden_size"):
        Seq2SeqConfig(10, 10, hidden_size=0)
