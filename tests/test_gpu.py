"""seqlab on a CUDA device: every model gives the numbers it gives on the CPU, and the from-scratch
layers agree with the GPU's fused kernels (cuDNN's LSTM/GRU/RNN, the flash and memory-efficient
attention kernels, torch's fused Transformer layer).

The tests in :class:`TestOnGPU` are marked ``gpu``: ``make gpu-check`` (bench/gpu_check.py) runs them
with ``pytest -m gpu`` on a GPU machine; elsewhere they are skipped with the reason. The same
harness, :func:`compare_devices`, runs every entry of the same list :data:`CASES` CPU against CPU in
the normal suite (:func:`test_every_case_cpu_against_cpu`), so the list, its model builders and the
harness are exercised on every machine and cannot rot unseen.

Environment:

* ``SEQLAB_GPU_TEST_DEVICE``: the device the gpu tests compare with the CPU, ``cuda`` by default;
  ``cpu`` runs them on any machine (``bench/gpu_check.py --dry-run`` does so).
* ``SEQLAB_REQUIRE_GPU=1``: fail instead of skipping when that device is missing (gpu_check sets it,
  so a GPU run cannot pass with every test skipped).

Float32 with TF32 off (:func:`gpu` fixture): the CPU and the GPU then differ only in the order of
their sums, so outputs and gradients must agree to ``rtol`` and to ``atol`` times the tensor's scale.
"""

from __future__ import annotations

import copy
import importlib.util
import math
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from seqlab.data.batching import make_seq2seq_batch
from seqlab.decoding import beam_search, ctc_greedy_decode, ctc_prefix_beam_search, generate, greedy_search
from seqlab.nn.attention import (AdditiveAttention, DotProductAttention, MultiHeadAttention, causal_mask,
                                 scaled_dot_product_attention)
from seqlab.nn.classifier import SequenceClassifier
from seqlab.nn.crf import LinearChainCRF, allowed_transitions
from seqlab.nn.ctc import ctc_loss
from seqlab.nn.language_model import RNNLanguageModel
from seqlab.nn.losses import FocalLoss, focal_loss
from seqlab.nn.lstm import GRUCell, LSTMCell, PeepholeLSTMCell
from seqlab.nn.recurrent import GRU, LAYERS, LSTM, RNN, PeepholeLSTM, run_padded
from seqlab.nn.rnn import RNNCell
from seqlab.nn.seq2seq import Seq2Seq, Seq2SeqConfig
from seqlab.nn.tagger import BiLSTMTagger
from seqlab.nn.transformer import (PositionalEncoding, TransformerConfig, TransformerDecoder,
                                   TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer,
                                   TransformerLM, TransformerSeq2Seq, TransformerSeq2SeqConfig)
from seqlab.nn.word2vec import SkipGramNS

ROOT = Path(__file__).resolve().parents[1]
GPU_DEVICE = os.environ.get("SEQLAB_GPU_TEST_DEVICE", "cuda")
RTOL, ATOL = 1e-4, 2e-5  # float32, TF32 off; ATOL is relative to each tensor's largest entry (at least 1)


# ---------------------------------------------------------------- the harness

def _move(x, device):
    """Inputs onto ``device``: tensors copied there (floating ones as leaves that require grad),
    containers rebuilt, anything else (ints, None) as it is."""
    if isinstance(x, torch.Tensor):
        x = x.detach().to(device)
        return x.requires_grad_() if x.is_floating_point() else x
    if isinstance(x, tuple) and hasattr(x, "_fields"):  # a NamedTuple batch
        return type(x)(*(_move(v, device) for v in x))
    if isinstance(x, (tuple, list)):
        return type(x)(_move(v, device) for v in x)
    return x


def _flatten(x, path: str = "out") -> list[tuple[str, object]]:
    """Every leaf of nested tuples/lists/dicts with its path, so two results compare leaf by leaf and
    a difference in structure (a decoded sequence one token longer) shows as a different path."""
    if isinstance(x, (tuple, list)):
        return [leaf for k, v in enumerate(x) for leaf in _flatten(v, f"{path}[{k}]")] or [(path, type(x)())]
    if isinstance(x, dict):
        return [leaf for k in sorted(x) for leaf in _flatten(x[k], f"{path}[{k!r}]")]
    return [(path, x)]


def _forward_backward(model: nn.Module, inputs: tuple, run: Callable) -> tuple[list, dict]:
    """Run ``run(model, *inputs)``; backpropagate a fixed random projection of every float output
    that has a graph. Returns the flattened outputs and every gradient (parameters by name, then inputs)."""
    out = _flatten(run(model, *inputs))
    with_graph = [t for _, t in out if isinstance(t, torch.Tensor) and t.requires_grad]
    if with_graph:
        g = torch.Generator().manual_seed(1)  # the same projection on both devices, drawn on the CPU
        loss = sum((t * torch.randn(t.shape, generator=g, dtype=t.dtype).to(t.device)).sum() for t in with_graph)
        loss.backward()
    grads = {f"parameter {name}": p.grad for name, p in model.named_parameters()}
    grads.update({f"input {path}": t.grad for path, t in _flatten(inputs, "inputs")
                  if isinstance(t, torch.Tensor) and t.requires_grad})
    return out, grads


def _assert_same(a, b, what: str, rtol: float, atol: float) -> None:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        assert isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor), f"{what}: {type(a)} vs {type(b)}"
        a, b = (t.detach().cpu() for t in (a, b))
        a, b = (t.to_dense() if t.is_sparse else t for t in (a, b))
        assert a.dtype == b.dtype and a.shape == b.shape, f"{what}: {a.dtype}{tuple(a.shape)} vs {b.dtype}{tuple(b.shape)}"
        if a.is_floating_point():
            finite = a[torch.isfinite(a)]
            scale = max(1.0, float(finite.abs().max())) if finite.numel() else 1.0
            torch.testing.assert_close(b, a, rtol=rtol, atol=atol * scale, equal_nan=True,
                                       msg=lambda m: f"{what}: {m}")
        else:
            assert torch.equal(a, b), f"{what}: {a.tolist()} != {b.tolist()}"
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=rtol, abs_tol=atol * max(1.0, abs(a))) or a == b, f"{what}: {a} != {b}"
    else:
        assert a == b, f"{what}: {a!r} != {b!r}"


def _compare(result_a, result_b, rtol: float, atol: float) -> None:
    (out_a, grads_a), (out_b, grads_b) = result_a, result_b
    assert [p for p, _ in out_a] == [p for p, _ in out_b], "the outputs differ in structure"
    for (path, a), (_, b) in zip(out_a, out_b):
        _assert_same(a, b, path, rtol, atol)
    assert list(grads_a) == list(grads_b), "the models differ in their parameters"
    for name in grads_a:
        _assert_same(grads_a[name], grads_b[name], f"gradient of {name}", rtol, atol)


def compare_devices(make_model: Callable[[], nn.Module], make_inputs: Callable[[], tuple], device_a, device_b,
                    run: Callable | None = None, rtol: float = RTOL, atol: float = ATOL) -> tuple[list, dict]:
    """Build one model (seed 0) and one set of inputs, copy both to ``device_a`` and ``device_b``, run
    ``run(model, *inputs)`` (default ``model(*inputs)``) and backpropagate on each, and assert that the
    outputs (tensors, and exactly: ints, decoded token lists) and the gradients of every parameter and
    every float input agree. Returns device_a's flattened outputs and gradients."""
    run = run or (lambda model, *xs: model(*xs))
    torch.manual_seed(0)
    model, inputs = make_model(), make_inputs()
    results = [_forward_backward(copy.deepcopy(model).to(device), _move(inputs, device), run)
               for device in (device_a, device_b)]
    _compare(*results, rtol=rtol, atol=atol)
    return results[0]


def compare_implementations(model_a: nn.Module, model_b: nn.Module, make_inputs: Callable[[], tuple], device,
                            run_a: Callable, run_b: Callable, rtol: float = RTOL, atol: float = ATOL) -> None:
    """Two implementations with the same parameter names (seqlab's and torch's) on one device: the
    same outputs and gradients."""
    inputs = make_inputs()
    _compare(_forward_backward(model_a.to(device), _move(inputs, device), run_a),
             _forward_backward(model_b.to(device), _move(inputs, device), run_b), rtol=rtol, atol=atol)


# ---------------------------------------------------------------- inputs

def _randn(*shape: int, seed: int = 0, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _tokens(B: int, T: int, V: int, lengths=None, seed: int = 0) -> torch.Tensor:
    """(B, T) ids in [4, V) (after the four special tokens), 0 (<pad>) after each length."""
    x = torch.randint(4, V, (B, T), generator=torch.Generator().manual_seed(seed))
    if lengths is not None:
        x = x.masked_fill(torch.arange(T) >= torch.as_tensor(lengths)[:, None], 0)
    return x


def _batch(V_src: int = 13, V_tgt: int = 11, seed: int = 0):
    """A Seq2SeqBatch of three pairs of different lengths (<bos> = 1, <eos> = 2)."""
    g = torch.Generator().manual_seed(seed)
    pairs = [(torch.randint(4, V_src, (n,), generator=g).tolist(), torch.randint(4, V_tgt, (m,), generator=g).tolist())
             for n, m in ((7, 5), (4, 6), (2, 1))]
    return make_seq2seq_batch(pairs, bos_index=1, eos_index=2)


def _padding(lengths, S: int) -> torch.Tensor:
    """(B, S) bool, True at real positions."""
    return torch.arange(S) < torch.as_tensor(lengths)[:, None]


class Fn(nn.Module):
    """A function as a module without parameters, for the functional parts (losses, decoders)."""

    def __init__(self, fn: Callable) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


def _sharpen(model: nn.Module, factor: float = 4.0) -> nn.Module:
    """Scale the output layer so the next-token distributions are peaked: decoders then choose by
    margins far above float32 noise, and CPU and GPU must pick the same tokens."""
    with torch.no_grad():
        model.out.weight.mul_(factor)
    return model


def _with_random_context(model: SkipGramNS) -> SkipGramNS:
    nn.init.normal_(model.context.weight, std=0.3)  # word2vec starts u at 0, which leaves v without gradient
    return model


# ---------------------------------------------------------------- decoding runs (no gradients)

def _decode_lm(m, *_):
    m.eval()
    step = m.decode_step
    return (greedy_search(step, None, bos_id=1, eos_id=2, max_len=10, batch_size=3),
            beam_search(step, None, bos_id=1, eos_id=2, beam_size=3, max_len=10, length_penalty=0.6, batch_size=2))


def _decode_seq2seq(m, src, src_lengths):
    m.eval()
    with torch.no_grad():
        state = m.encode(src, src_lengths)
    return (greedy_search(m.step, state, bos_id=1, eos_id=2, max_len=9),
            beam_search(m.step, state, bos_id=1, eos_id=2, beam_size=3, max_len=9))


def _generate(m, *_):
    return generate(m, [1, 5, 6], max_len=10, temperature=0.8, top_k=5, repetition_penalty=1.3, suppress=[3],
                    generator=torch.Generator().manual_seed(0))  # the draws come from this CPU generator


def _ctc_decode(_, logits, lengths):
    log_probs = logits.detach().log_softmax(-1)
    return ctc_greedy_decode(log_probs, lengths), ctc_prefix_beam_search(log_probs, lengths, beam_size=4)


# ---------------------------------------------------------------- the model list

@dataclass(frozen=True)
class Case:
    name: str
    make_model: Callable[[], nn.Module]
    make_inputs: Callable[[], tuple]
    run: Callable | None = None
    rtol: float = RTOL
    atol: float = ATOL
    grads: bool = True  # the case backpropagates (decoders do not)


def _s2s(**kw) -> Callable[[], Seq2Seq]:
    return lambda: Seq2Seq(Seq2SeqConfig(13, 11, embed_dim=8, hidden_size=6, **kw))


def _s2s_run(m, batch):
    return m.loss(batch), m(batch.src, batch.src_lengths, batch.tgt_in)


def _s2s_attention_run(m, batch):
    return _s2s_run(m, batch), m.attention_maps(batch.src, batch.src_lengths, batch.tgt_in)


def _tiny_transformer(**kw) -> TransformerConfig:
    return TransformerConfig(d_model=16, nhead=4, num_layers=2, dim_feedforward=32, dropout=0.0, **kw)


def _tseq2seq(**kw) -> Callable[[], TransformerSeq2Seq]:
    return lambda: TransformerSeq2Seq(TransformerSeq2SeqConfig(13, 11, d_model=16, nhead=4, num_encoder_layers=2,
                                                               num_decoder_layers=2, dim_feedforward=32, dropout=0.0,
                                                               max_len=32, **kw))


def _lm_inputs():
    tokens = _tokens(3, 8, 13, lengths=[8, 5, 3])
    return tokens[:, :-1], tokens[:, 1:]


def _lm_run(m, inputs, targets):
    return m.loss(inputs, targets), m(inputs)


def _tagger_inputs():
    lengths = torch.tensor([7, 4, 1])
    tags = torch.randint(0, 4, (3, 7), generator=torch.Generator().manual_seed(3)).masked_fill(~_padding(lengths, 7), -100)
    return _tokens(3, 7, 13, lengths), lengths, tags


def _tagger_run(m, tokens, lengths, tags):
    return m.loss(tokens, lengths, tags), m.emissions(tokens, lengths), m.predict(tokens, lengths)


def _crf_inputs():
    lengths = [7, 4, 1]
    tags = torch.randint(0, 4, (3, 7), generator=torch.Generator().manual_seed(3))
    return _randn(3, 7, 4), tags, _padding(lengths, 7)


def _crf_run(m, emissions, tags, mask):
    return (m(emissions, tags, mask, reduction="none"), m(emissions, tags, mask, reduction="token_mean"),
            m.log_partition(emissions, mask), m.decode(emissions, mask))


def _constrained_crf() -> LinearChainCRF:
    return LinearChainCRF(4).constrain(*allowed_transitions(("B", "M", "E", "S")), value=-1e4)


def _ctc_inputs():
    targets = torch.tensor([[1, 2, 2, 3], [4, 5, 0, 0], [3, 1, 5, 0]])  # padded (B, S); 0 is the blank
    return _randn(3, 9, 6), targets, torch.tensor([9, 7, 5]), torch.tensor([4, 2, 3])


def _ctc_run(_, logits, targets, input_lengths, target_lengths):
    log_probs = logits.log_softmax(-1)  # (B, T, V), batch first
    flat = torch.cat([t[:n] for t, n in zip(targets, target_lengths.tolist())])  # the 1-D form of the same targets
    infeasible = ctc_loss(log_probs, targets, torch.tensor([9, 7, 2]), target_lengths, reduction="none",
                          zero_infinity=True)  # 2 frames cannot hold 3 labels: that loss is 0, no gradient
    return (ctc_loss(log_probs, targets, input_lengths, target_lengths),
            ctc_loss(log_probs, flat, input_lengths.tolist(), target_lengths.tolist(), reduction="sum"), infeasible)


def _focal_inputs():
    target = torch.randint(0, 5, (3, 7), generator=torch.Generator().manual_seed(4))
    target[0, :2] = -100
    return _randn(3, 7, 5, scale=2.0), target


def _focal_run(m, logits, target):
    weight = torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0], device=logits.device)
    return (focal_loss(logits, target, gamma=2.0, weight=weight), focal_loss(logits, target, gamma=0.5, reduction="none"),
            m(logits, target))


def _word2vec_inputs():
    g = torch.Generator().manual_seed(5)
    return torch.randint(0, 13, (6,), generator=g), torch.randint(0, 13, (6,), generator=g), torch.randint(0, 13, (6, 4), generator=g)


def _mha_inputs():
    return _randn(3, 5, 16, seed=1), _randn(3, 6, 16, seed=2), _randn(3, 6, 16, seed=3)


def _key_padding(lengths=(6, 3, 0), S: int = 6) -> torch.Tensor:
    return ~_padding(list(lengths), S)  # True = ignore (torch's convention); the third row ignores every key


def _tf_inputs(T: int = 7, lengths=(7, 4, 2)):
    return _randn(3, T, 16), ~_padding(list(lengths), T)  # x (B, T, d), padding True = ignore


def _tf_decoder_inputs():
    return _randn(3, 5, 16, seed=1), _randn(3, 7, 16, seed=2), ~_padding([5, 3, 2], 5), ~_padding([7, 4, 1], 7)


CASES: list[Case] = [
    # cells and recurrent layers (seqlab.nn.rnn, .lstm, .recurrent)
    Case("RNNCell", lambda: RNNCell(5, 6), lambda: (_randn(3, 5), _randn(3, 6, seed=1))),
    Case("RNNCell-relu-zero-state", lambda: RNNCell(5, 6, nonlinearity="relu"), lambda: (_randn(3, 5),)),
    Case("LSTMCell", lambda: LSTMCell(5, 6), lambda: (_randn(3, 5), (_randn(3, 6, seed=1), _randn(3, 6, seed=2)))),
    Case("PeepholeLSTMCell", lambda: PeepholeLSTMCell(5, 6), lambda: (_randn(3, 5), (_randn(3, 6, seed=1), _randn(3, 6, seed=2)))),
    Case("GRUCell", lambda: GRUCell(5, 6), lambda: (_randn(3, 5), _randn(3, 6, seed=1))),
    Case("RNN-2-layers-bidirectional-padded", lambda: RNN(5, 6, num_layers=2, bidirectional=True),
         lambda: (_randn(3, 7, 5), None, torch.tensor([7, 4, 1])), run=lambda m, x, hx, n: m(x, hx, lengths=n)),
    Case("RNN-relu-time-first-with-state", lambda: RNN(5, 6, nonlinearity="relu", batch_first=False),
         lambda: (_randn(7, 3, 5), _randn(1, 3, 6, seed=1))),
    Case("LSTM-2-layers-bidirectional-padded-with-state", lambda: LSTM(5, 6, num_layers=2, bidirectional=True),
         lambda: (_randn(3, 7, 5), (_randn(4, 3, 6, seed=1), _randn(4, 3, 6, seed=2)), torch.tensor([7, 4, 1])),
         run=lambda m, x, hx, n: m(x, hx, lengths=n)),
    Case("PeepholeLSTM-padded", lambda: PeepholeLSTM(5, 6), lambda: (_randn(3, 7, 5), None, [5, 7, 2]),
         run=lambda m, x, hx, n: m(x, hx, lengths=n)),
    Case("GRU-2-layers-bidirectional-padded", lambda: GRU(5, 6, num_layers=2, bidirectional=True),
         lambda: (_randn(3, 7, 5), None, torch.tensor([7, 4, 1])), run=lambda m, x, hx, n: m(x, hx, lengths=n)),
    Case("GRU-no-bias", lambda: GRU(5, 6, bias=False), lambda: (_randn(3, 7, 5),)),
    # many-to-one, language models, taggers (seqlab.nn.classifier, .language_model, .tagger)
    Case("SequenceClassifier-bilstm", lambda: SequenceClassifier(13, 8, 6, 3, recurrent="lstm", bidirectional=True),
         lambda: (_tokens(3, 7, 13, [7, 4, 1]), torch.tensor([7, 4, 1]))),
    Case("SequenceClassifier-gru-2-layers-builtin", lambda: SequenceClassifier(13, 8, 6, 3, recurrent="gru", num_layers=2,
                                                                               builtin=True),
         lambda: (_tokens(3, 7, 13, [7, 4, 1]), torch.tensor([7, 4, 1]))),
    Case("SequenceClassifier-rnn", lambda: SequenceClassifier(13, 8, 6, 2, recurrent="rnn"),
         lambda: (_tokens(3, 7, 13, [2, 7, 5]), torch.tensor([2, 7, 5]))),
    Case("RNNLanguageModel-lstm-2-layers-tied", lambda: RNNLanguageModel(13, 8, 8, num_layers=2, tie_weights=True),
         _lm_inputs, run=_lm_run),
    Case("RNNLanguageModel-gru-builtin", lambda: RNNLanguageModel(13, 8, 6, recurrent="gru", builtin=True),
         _lm_inputs, run=_lm_run),
    Case("BiLSTMTagger-softmax", lambda: BiLSTMTagger(13, 4, embed_dim=8, hidden_size=6), _tagger_inputs, run=_tagger_run),
    Case("BiLSTMTagger-crf-2-layers", lambda: BiLSTMTagger(13, 4, embed_dim=8, hidden_size=6, num_layers=2, crf=True),
         _tagger_inputs, run=_tagger_run),
    Case("BiLSTMTagger-crf-builtin", lambda: BiLSTMTagger(13, 4, embed_dim=8, hidden_size=6, crf=True, builtin=True),
         _tagger_inputs, run=_tagger_run),
    # encoder-decoders with and without attention (seqlab.nn.seq2seq)
    Case("Seq2Seq-gru-init", _s2s(), lambda: (_batch(),), run=_s2s_run),
    Case("Seq2Seq-lstm-every-step-bidirectional", _s2s(recurrent="lstm", bridge="every_step", bidirectional_encoder=True),
         lambda: (_batch(),), run=_s2s_run),
    Case("Seq2Seq-gru-both-2-layers-additive", _s2s(bridge="both", num_layers=2, attention="additive", attention_size=5),
         lambda: (_batch(),), run=_s2s_attention_run),
    Case("Seq2Seq-lstm-dot", _s2s(recurrent="lstm", attention="dot"), lambda: (_batch(),), run=_s2s_attention_run),
    Case("Seq2Seq-gru-scaled-dot", _s2s(attention="scaled_dot"), lambda: (_batch(),), run=_s2s_attention_run),
    Case("Seq2Seq-rnn-bidirectional-general", _s2s(recurrent="rnn", bidirectional_encoder=True, attention="general"),
         lambda: (_batch(),), run=_s2s_attention_run),
    Case("Seq2Seq-lstm-additive-builtin", _s2s(recurrent="lstm", attention="additive", builtin=True),
         lambda: (_batch(),), run=_s2s_attention_run),
    # attention (seqlab.nn.attention)
    Case("AdditiveAttention-masked-with-an-empty-row", lambda: AdditiveAttention(6, 5, 7),
         lambda: (_randn(3, 4, 6), _randn(3, 8, 5, seed=1), _randn(3, 8, 4, seed=2), _padding([8, 3, 0], 8))),
    Case("AdditiveAttention-one-query", lambda: AdditiveAttention(6, 5, 7),
         lambda: (_randn(3, 6), _randn(3, 8, 5, seed=1), None, _padding([8, 3, 5], 8))),
    Case("DotProductAttention-scaled", lambda: DotProductAttention(),
         lambda: (_randn(3, 4, 5), _randn(3, 8, 5, seed=1), _randn(3, 8, 4, seed=2), _padding([8, 3, 1], 8))),
    Case("DotProductAttention-plain", lambda: DotProductAttention(scaled=False),
         lambda: (_randn(3, 4, 5), _randn(3, 8, 5, seed=1), None, None)),
    Case("DotProductAttention-general", lambda: DotProductAttention(query_size=6, key_size=5),
         lambda: (_randn(3, 4, 6), _randn(3, 8, 5, seed=1), _randn(3, 8, 4, seed=2), _padding([8, 3, 1], 8))),
    Case("scaled_dot_product_attention-bool-mask-with-an-empty-row", lambda: Fn(scaled_dot_product_attention),
         lambda: (_randn(2, 3, 4, 8), _randn(2, 3, 6, 8, seed=1), _randn(2, 3, 6, 5, seed=2),
                  _padding([6, 0], 6)[:, None, None, :])),
    Case("scaled_dot_product_attention-float-mask-and-scale", lambda: Fn(scaled_dot_product_attention),
         lambda: (_randn(2, 3, 4, 8), _randn(2, 3, 6, 8, seed=1), _randn(2, 3, 6, 5, seed=2), _randn(4, 6, seed=3)),
         run=lambda m, q, k, v, mask: m(q, k, v, attn_mask=mask, scale=0.3)),
    Case("scaled_dot_product_attention-causal", lambda: Fn(scaled_dot_product_attention),
         lambda: (_randn(2, 3, 6, 8), _randn(2, 3, 6, 8, seed=1), _randn(2, 3, 6, 5, seed=2)),
         run=lambda m, q, k, v: m(q, k, v, is_causal=True)),
    Case("MultiHeadAttention-weights-per-head-key-padding", lambda: MultiHeadAttention(16, 4), _mha_inputs,
         run=lambda m, q, k, v: m(q, k, v, key_padding_mask=_key_padding().to(q.device), average_attn_weights=False)),
    Case("MultiHeadAttention-fused-masks", lambda: MultiHeadAttention(16, 4, fused=True), _mha_inputs,
         run=lambda m, q, k, v: m(q, k, v, key_padding_mask=_key_padding().to(q.device), need_weights=False,
                                  attn_mask=~causal_mask(5, 6, device=q.device))),
    Case("MultiHeadAttention-time-first-no-bias-causal", lambda: MultiHeadAttention(16, 4, bias=False, batch_first=False),
         lambda: (_randn(5, 3, 16),), run=lambda m, x: m(x, x, x, is_causal=True)),
    # the Transformer (seqlab.nn.transformer)
    Case("PositionalEncoding", lambda: PositionalEncoding(16, 32), lambda: (_randn(3, 7, 16),),
         run=lambda m, x: m(x, offset=3)),
    Case("TransformerEncoderLayer-post-norm-padding", lambda: TransformerEncoderLayer(16, 4, 32, dropout=0.0), _tf_inputs,
         run=lambda m, x, pad: m(x, src_key_padding_mask=pad)),
    Case("TransformerEncoderLayer-pre-norm-gelu-causal-fused",
         lambda: TransformerEncoderLayer(16, 4, 32, dropout=0.0, activation="gelu", norm_first=True, fused=True),
         _tf_inputs, run=lambda m, x, pad: m(x, src_key_padding_mask=pad, is_causal=True)),
    Case("TransformerDecoderLayer-post-norm", lambda: TransformerDecoderLayer(16, 4, 32, dropout=0.0), _tf_decoder_inputs,
         run=lambda m, y, mem, pad, mem_pad: m(y, mem, tgt_key_padding_mask=pad, memory_key_padding_mask=mem_pad,
                                               tgt_is_causal=True)),
    Case("TransformerDecoderLayer-pre-norm-fused",
         lambda: TransformerDecoderLayer(16, 4, 32, dropout=0.0, norm_first=True, fused=True), _tf_decoder_inputs,
         run=lambda m, y, mem, pad, mem_pad: m(y, mem, tgt_key_padding_mask=pad, memory_key_padding_mask=mem_pad,
                                               tgt_is_causal=True)),
    Case("TransformerEncoder-2-layers", lambda: TransformerEncoder(_tiny_transformer()), _tf_inputs,
         run=lambda m, x, pad: m(x, src_key_padding_mask=pad)),
    Case("TransformerDecoder-2-layers-post-norm", lambda: TransformerDecoder(_tiny_transformer(norm_first=False)),
         _tf_decoder_inputs,
         run=lambda m, y, mem, pad, mem_pad: m(y, mem, tgt_key_padding_mask=pad, memory_key_padding_mask=mem_pad,
                                               tgt_is_causal=True)),
    Case("TransformerSeq2Seq", _tseq2seq(), lambda: (_batch(),), run=_s2s_run),
    Case("TransformerSeq2Seq-post-norm-fused", _tseq2seq(norm_first=False, fused=True), lambda: (_batch(),), run=_s2s_run),
    Case("TransformerLM-tied", lambda: TransformerLM(13, _tiny_transformer(), max_len=32), _lm_inputs, run=_lm_run),
    # structured prediction (seqlab.nn.crf, .ctc), embeddings (.word2vec) and losses (.losses)
    Case("LinearChainCRF", lambda: LinearChainCRF(4), _crf_inputs, run=_crf_run),
    Case("LinearChainCRF-constrained", _constrained_crf, _crf_inputs, run=_crf_run),
    Case("ctc_loss", lambda: Fn(ctc_loss), _ctc_inputs, run=_ctc_run),
    Case("SkipGramNS", lambda: _with_random_context(SkipGramNS(13, 8)), _word2vec_inputs),
    Case("SkipGramNS-sparse", lambda: _with_random_context(SkipGramNS(13, 8, sparse=True)), _word2vec_inputs),
    Case("focal_loss-and-FocalLoss", lambda: FocalLoss(gamma=0.0, weight=torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0]),
                                                       reduction="sum"), _focal_inputs, run=_focal_run),
    # decoding (seqlab.decoding): the same tokens on both devices
    Case("decoding-greedy-and-beam-RNNLanguageModel", lambda: _sharpen(RNNLanguageModel(13, 8, 12, num_layers=2)),
         lambda: (), run=_decode_lm, grads=False),
    Case("decoding-greedy-and-beam-Seq2Seq-attention",
         lambda: _sharpen(Seq2Seq(Seq2SeqConfig(13, 11, embed_dim=8, hidden_size=12, recurrent="lstm", attention="additive"))),
         lambda: (_batch().src, _batch().src_lengths), run=_decode_seq2seq, grads=False),
    Case("decoding-greedy-and-beam-TransformerSeq2Seq", lambda: _sharpen(_tseq2seq()()),
         lambda: (_batch().src, _batch().src_lengths), run=_decode_seq2seq, grads=False),
    Case("decoding-greedy-and-beam-TransformerLM", lambda: _sharpen(TransformerLM(13, _tiny_transformer(), max_len=32,
                                                                                  tie_weights=False)),
         lambda: (), run=_decode_lm, grads=False),
    Case("decoding-generate-sampling", lambda: _sharpen(RNNLanguageModel(13, 8, 12), 2.0), lambda: (), run=_generate,
         grads=False),
    Case("decoding-ctc-greedy-and-prefix-beam", lambda: Fn(None), lambda: (_randn(3, 12, 6, scale=3.0), torch.tensor([12, 7, 3])),
         run=_ctc_decode, grads=False),
]
CASE_PARAMS = [pytest.param(case, id=case.name) for case in CASES]


# ---------------------------------------------------------------- every machine: the harness and the list

@pytest.mark.parametrize("case", CASE_PARAMS)
def test_every_case_cpu_against_cpu(case: Case):
    out, grads = compare_devices(case.make_model, case.make_inputs, "cpu", "cpu", run=case.run,
                                 rtol=case.rtol, atol=case.atol)
    assert out, f"{case.name} produced no output"
    has_grad = any(g is not None and bool(g.to_dense().abs().sum() > 0 if g.is_sparse else g.abs().sum() > 0)
                   for g in grads.values())
    assert has_grad == case.grads, f"{case.name}: gradients {'missing' if case.grads else 'unexpected'}"


class _Drifting(nn.Module):
    """Gives different numbers on each copy it is run as: the harness must notice."""

    def __init__(self, where: str) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(3))
        self.where = where

    def forward(self, x):
        drift = torch.rand(()).item()  # the global generator has moved on by the second run
        if self.where == "output":
            return x * self.w * (1 + drift)
        return x * self.w + (self.w - self.w.detach()) * drift  # equal values, different gradients


@pytest.mark.parametrize("where", ["output", "gradient"])
def test_the_harness_notices_a_difference(where):
    with pytest.raises(AssertionError, match=r"out: |gradient of parameter w"):
        compare_devices(lambda: _Drifting(where), lambda: (_randn(3),), "cpu", "cpu")


def test_every_module_of_seqlab_nn_has_a_case():
    """A new model in seqlab.nn gets a case here (and so a GPU check)."""
    import seqlab.nn as package

    covered = {type(case.make_model()).__name__ for case in CASES}
    covered |= {"ctc_loss", "focal_loss", "scaled_dot_product_attention"}  # functions, wrapped in Fn
    exempt = {"GatedCellBase", "Recurrent", "Encoder", "Fn", "_Layer",  # bases and parts of the models above
              "Seq2SeqConfig", "TransformerConfig", "TransformerSeq2SeqConfig"}
    missing = []
    for path in sorted(Path(package.__file__).parent.glob("*.py")):
        if path.stem in ("__init__", "init"):  # init: initialisation functions, no model
            continue
        source = path.read_text(encoding="utf-8")
        for name in re.findall(r"^class (\w+)\(nn\.Module\)|^class (\w+)\((?:\w+)\):", source, flags=re.M):
            name = name[0] or name[1]
            if name not in covered and name not in exempt and not name.startswith("_"):
                missing.append(f"{path.stem}.{name}")
    assert not missing, f"no CASES entry builds {missing}"


def test_gpu_check_sorts_every_notebook_and_fits_its_budget():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "bench" / "gpu_check.py")
    gpu_check = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gpu_check", gpu_check)  # its dataclass looks itself up there
    spec.loader.exec_module(gpu_check)
    book = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "book").glob("*/*.ipynb"))
    assert sorted([*gpu_check.NOTEBOOKS, *gpu_check.LEFT_OUT]) == book
    assert not set(gpu_check.NOTEBOOKS) & set(gpu_check.LEFT_OUT)
    assert gpu_check.TESTS_ESTIMATE_S + sum(gpu_check.NOTEBOOKS.values()) <= gpu_check.BUDGET_S


# ---------------------------------------------------------------- on the GPU

@pytest.fixture
def gpu():
    """The device under test (cuda unless SEQLAB_GPU_TEST_DEVICE says otherwise), with TF32 off for
    matrix products and cuDNN, restored afterwards; skipped (or failed, with SEQLAB_REQUIRE_GPU=1)
    where there is no such device."""
    device = torch.device(GPU_DEVICE)
    if device.type == "cuda" and not torch.cuda.is_available():
        reason = ("no CUDA device (torch.cuda.is_available() is False); make gpu-check runs these "
                  "on a GPU machine")
        if os.environ.get("SEQLAB_REQUIRE_GPU"):
            pytest.fail(reason)
        pytest.skip(reason)
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield device
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


ATTENTION_KERNELS = [  # (backend, dtype, mask, causal): what each fused kernel accepts
    ("FLASH_ATTENTION", torch.float16, None, False),
    ("FLASH_ATTENTION", torch.bfloat16, None, True),
    ("EFFICIENT_ATTENTION", torch.float32, "padding", False),
    ("EFFICIENT_ATTENTION", torch.float16, "padding", False),
    ("EFFICIENT_ATTENTION", torch.bfloat16, None, True),
    ("CUDNN_ATTENTION", torch.bfloat16, None, True),
    ("MATH", torch.float32, "padding", False),
]
TOLERANCE = {torch.float32: 1e-4, torch.float16: 5e-3, torch.bfloat16: 4e-2}  # relative to each tensor's scale


def _kernel_required(backend: str, device: torch.device) -> bool:
    """Whether this device must offer the kernel (else a missing one is a skip, not a failure)."""
    if device.type != "cuda":
        return backend in ("MATH", "FLASH_ATTENTION")  # the CPU build has these two
    major, _ = torch.cuda.get_device_capability(device)
    return backend == "MATH" or backend == "EFFICIENT_ATTENTION" or (backend == "FLASH_ATTENTION" and major >= 8)


class TestOnGPU:
    pytestmark = pytest.mark.gpu

    @pytest.mark.parametrize("case", CASE_PARAMS)
    def test_same_numbers_as_on_the_cpu(self, gpu, case: Case):
        compare_devices(case.make_model, case.make_inputs, "cpu", gpu, run=case.run, rtol=case.rtol, atol=case.atol)

    @pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
    @pytest.mark.parametrize("num_layers, bidirectional, padded", [(1, False, False), (2, True, True)])
    def test_recurrent_layers_match_cudnn(self, gpu, kind, num_layers, bidirectional, padded):
        torch.manual_seed(0)
        ref = getattr(nn, kind.upper())(5, 6, num_layers=num_layers, batch_first=True, bidirectional=bidirectional)
        ours = LAYERS[kind](5, 6, num_layers=num_layers, batch_first=True, bidirectional=bidirectional)
        ours.load_state_dict(ref.state_dict())
        n = num_layers * (2 if bidirectional else 1)
        state = (_randn(n, 3, 6, seed=1), _randn(n, 3, 6, seed=2)) if kind == "lstm" else _randn(n, 3, 6, seed=1)
        lengths = torch.tensor([7, 4, 1]) if padded else None
        if gpu.type == "cuda":  # torch's layer must really run cuDNN's kernel on this device
            assert torch.backends.cudnn.is_available() and torch.backends.cudnn.enabled
        compare_implementations(ours, ref, lambda: (_randn(3, 7, 5), state), gpu,
                                run_a=lambda m, x, hx: run_padded(m, x, lengths, hx),
                                run_b=lambda m, x, hx: run_padded(m, x, lengths, hx))

    @pytest.mark.parametrize("backend, dtype, mask, causal", ATTENTION_KERNELS,
                             ids=[f"{b}-{str(d).removeprefix('torch.')}-{m or 'no-mask'}{'-causal' if c else ''}"
                                  for b, d, m, c in ATTENTION_KERNELS])
    def test_attention_matches_the_fused_kernels(self, gpu, backend, dtype, mask, causal):
        from torch.nn.attention import SDPBackend, sdpa_kernel

        B, H, L, S, E = 2, 4, 48, 64, 64  # head size 64 and S a multiple of 16 suit every kernel
        if causal:
            L = S  # the flash kernel wants a square causal mask
        q, k, v = (_randn(B, H, n, E, seed=i).to(gpu, dtype) for i, n in enumerate((L, S, S)))
        attn_mask = _padding([S, 37], S)[:, None, None, :].to(gpu) if mask == "padding" else None  # True = attend
        leaves = [t.detach().requires_grad_() for t in (q, k, v)]
        try:
            with sdpa_kernel(getattr(SDPBackend, backend)):
                out = F.scaled_dot_product_attention(*leaves, attn_mask=attn_mask, is_causal=causal)
        except RuntimeError as error:
            message = f"{backend} cannot run {dtype} on {gpu}: {str(error).splitlines()[0]}"
            if _kernel_required(backend, gpu):
                pytest.fail(message)
            pytest.skip(message)
        reference = [t.detach().float().requires_grad_() for t in (q, k, v)]  # the same numbers, in float32
        expected = scaled_dot_product_attention(*reference, attn_mask=attn_mask, is_causal=causal)
        w = _randn(*expected.shape, seed=9).to(gpu)
        (out.float() * w).sum().backward()
        (expected * w).sum().backward()
        tol = TOLERANCE[dtype]
        for what, a, b in [("output", out, expected), *((f"gradient of {n}", x.grad, y.grad)
                                                        for n, x, y in zip("qkv", leaves, reference))]:
            b = b.detach()
            torch.testing.assert_close(a.detach().float(), b, rtol=tol, atol=tol * float(b.abs().max()),
                                       msg=lambda m, what=what: f"{backend} {dtype} {what}: {m}")

    @pytest.mark.parametrize("need_weights", [True, False])
    def test_multihead_attention_matches_torch_on_the_device(self, gpu, need_weights):
        torch.manual_seed(0)
        ref = nn.MultiheadAttention(16, 4, batch_first=True)
        ours = MultiHeadAttention(16, 4, fused=not need_weights)
        ours.load_state_dict(ref.state_dict())
        padding = _key_padding((6, 3, 5))  # no row without keys: torch gives NaN there on some paths

        def run(m, q, k, v):
            return m(q, k, v, key_padding_mask=padding.to(q.device), need_weights=need_weights,
                     attn_mask=~causal_mask(5, 6, device=q.device))
        compare_implementations(ours, ref, _mha_inputs, gpu, run_a=run, run_b=run)

    def test_transformer_encoder_layer_matches_torch_fast_path(self, gpu):
        """torch's TransformerEncoderLayer at inference takes its fused path (one kernel per block on a GPU)."""
        torch.manual_seed(0)
        ref = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True).eval()
        ours = TransformerEncoderLayer(16, 4, 32, dropout=0.0).eval()
        ours.load_state_dict(ref.state_dict())
        ref, ours = ref.to(gpu), ours.to(gpu)
        x, pad = (t.to(gpu) for t in _tf_inputs())
        with torch.no_grad():
            expected, actual = ref(x, src_key_padding_mask=pad), ours(x, src_key_padding_mask=pad)
        real = ~pad  # torch's fast path may leave anything at padded positions
        torch.testing.assert_close(actual[real], expected[real], rtol=RTOL, atol=1e-4)  # layer-normed: entries O(1)
