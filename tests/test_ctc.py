"""seqlab.nn.ctc against F.ctc_loss and against brute force; the CTC decoders in seqlab.decoding."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from seqlab.decoding import ctc_collapse, ctc_greedy_decode, ctc_prefix_beam_search
from seqlab.nn.ctc import ctc_loss

REDUCTIONS = ("none", "sum", "mean")


def both(logits, targets, input_lengths, target_lengths, **kw):
    """Ours and torch's loss, and their gradients w.r.t. the logits (through log_softmax in both:
    torch's CTC backward assumes its input is a log_softmax)."""
    x1 = logits.detach().clone().requires_grad_()
    x2 = logits.detach().clone().requires_grad_()
    ours = ctc_loss(x1.log_softmax(-1), targets, input_lengths, target_lengths, **kw)
    theirs = F.ctc_loss(x2.log_softmax(-1).transpose(0, 1), targets, input_lengths, target_lengths, **kw)
    return ours, theirs, x1, x2


def assert_same(logits, targets, input_lengths, target_lengths, **kw):
    ours, theirs, x1, x2 = both(logits, targets, input_lengths, target_lengths, **kw)
    torch.testing.assert_close(ours, theirs)
    w = torch.rand_like(ours)  # a random weighting, so that every row's gradient is checked
    (ours * w).sum().backward()
    (theirs * w).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad)
    return ours


def brute_force(log_probs, target, T, blank=0):
    """log p(target | x) = log of the summed probabilities of all V^T alignments that collapse to it."""
    V = log_probs.size(-1)
    total = 0.0
    for path in itertools.product(range(V), repeat=T):
        if ctc_collapse(path, blank) == list(target):
            total += math.exp(sum(log_probs[t, k].item() for t, k in enumerate(path)))
    return math.log(total) if total > 0 else -math.inf


def labellings(log_probs, T, blank=0):
    """Every label sequence with its probability summed over alignments, by enumeration."""
    V = log_probs.size(-1)
    p: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(V), repeat=T):
        key = tuple(ctc_collapse(path, blank))
        p[key] = p.get(key, 0.0) + math.exp(sum(log_probs[t, k].item() for t, k in enumerate(path)))
    return p


def test_collapse_merges_repeats_then_drops_blanks():
    assert ctc_collapse([1, 1, 0, 1]) == [1, 1]
    assert ctc_collapse([1, 1, 1]) == [1]
    assert ctc_collapse(torch.tensor([0, 2, 2, 0, 0, 3, 3, 0])) == [2, 3]
    assert ctc_collapse([0, 0]) == [] and ctc_collapse([]) == []
    assert ctc_collapse([3, 1, 1, 3, 2], blank=3) == [1, 2]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_padded_targets_match_torch(reduction):
    torch.manual_seed(0)
    B, T, V = 6, 12, 6
    logits = torch.randn(B, T, V, dtype=torch.double)
    targets = torch.randint(1, V, (B, 7))
    targets[1, :3] = torch.tensor([1, 2, 2])  # 好棒棒: a repeated neighbour
    targets[2, :4] = torch.tensor([3, 3, 3, 3])
    input_lengths = torch.tensor([12, 5, 11, 3, 9, 1])  # unsorted
    target_lengths = torch.tensor([7, 3, 4, 0, 1, 1])  # lengths 0 and 1
    loss = assert_same(logits, targets, input_lengths, target_lengths, reduction=reduction)
    assert torch.isfinite(loss).all()


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_concatenated_targets_match_torch_and_padded(reduction):
    torch.manual_seed(1)
    B, T, V = 5, 10, 5
    logits = torch.randn(B, T, V, dtype=torch.double)
    target_lengths = torch.tensor([3, 0, 5, 1, 2])
    flat = torch.randint(1, V, (int(target_lengths.sum()),))
    flat[:3] = torch.tensor([1, 2, 2])
    input_lengths = [10, 4, 8, 2, 7]  # lists, as F.ctc_loss allows (both lists or both tensors)
    loss = assert_same(logits, flat, input_lengths, target_lengths.tolist(), reduction=reduction)
    padded = torch.full((B, 5), 99)  # padding values must not matter
    starts = (target_lengths.cumsum(0) - target_lengths).tolist()
    for b, (start, n) in enumerate(zip(starts, target_lengths.tolist())):
        padded[b, :n] = flat[start:start + n]
    again = ctc_loss(logits.log_softmax(-1), padded, input_lengths, target_lengths, reduction=reduction)
    torch.testing.assert_close(again, loss.detach())


@pytest.mark.parametrize("blank", [2, 4])
def test_blank_other_than_zero_matches_torch(blank):
    torch.manual_seed(2)
    B, T, V = 4, 9, 5
    logits = torch.randn(B, T, V, dtype=torch.double)
    labels = [k for k in range(V) if k != blank]
    targets = torch.tensor(labels)[torch.randint(0, V - 1, (B, 4))]
    targets[0, :2] = labels[0]  # a repeat
    assert_same(logits, targets, [9, 7, 9, 5], [4, 2, 3, 0], blank=blank, reduction="none")


@pytest.mark.parametrize("seed", range(4))
def test_random_batches_match_torch(seed):
    g = torch.Generator().manual_seed(seed)
    B, T, V = 8, 20, 7
    logits = 3 * torch.randn(B, T, V, dtype=torch.double, generator=g)  # peaky, as after training
    S = torch.randint(0, 9, (B,), generator=g)
    targets = torch.randint(1, V, (B, 8), generator=g)
    input_lengths = torch.randint(12, T + 1, (B,), generator=g)
    assert_same(logits, targets, input_lengths, S, reduction="mean")


def test_float32_matches_torch():
    torch.manual_seed(3)
    logits = torch.randn(4, 30, 8)
    targets = torch.randint(1, 8, (4, 10))
    assert_same(logits, targets, [30, 25, 30, 12], [10, 7, 3, 5], reduction="mean")


def test_just_long_enough_is_finite_one_frame_less_is_not():
    # [1, 2, 2, 3, 3]: S = 5 with 2 repeats, so T = 7 is the shortest input that fits
    torch.manual_seed(4)
    logits = torch.randn(2, 7, 4, dtype=torch.double)
    targets = torch.tensor([[1, 2, 2, 3, 3], [1, 2, 2, 3, 3]])
    loss = assert_same(logits, targets, [7, 6], [5, 5], reduction="none", zero_infinity=True)
    ours, theirs, _, _ = both(logits, targets, [7, 6], [5, 5], reduction="none")
    assert math.isfinite(ours[0].item()) and ours[1].item() == math.inf
    torch.testing.assert_close(ours, theirs)
    # the only alignment at T = S + repeats: 1 2 ∅ 2 3 ∅ 3
    lp = logits.log_softmax(-1)[0]
    path = [1, 2, 0, 2, 3, 0, 3]
    torch.testing.assert_close(loss[0], -sum(lp[t, k] for t, k in enumerate(path)))


def test_infeasible_without_zero_infinity_is_inf_and_spares_the_other_rows():
    torch.manual_seed(5)
    B, T, V = 3, 4, 5
    logits = torch.randn(B, T, V, dtype=torch.double)
    targets = torch.tensor([[1, 2, 3, 4, 1], [1, 1, 1, 0, 0], [2, 3, 0, 0, 0]])
    input_lengths, target_lengths = [4, 4, 4], [5, 3, 2]  # row 0: S > T; row 1: 3 + 2 repeats > 4
    for reduction in ("sum", "mean"):
        ours, theirs, _, _ = both(logits, targets, input_lengths, target_lengths, reduction=reduction)
        assert ours.item() == theirs.item() == math.inf
    ours, theirs, x1, x2 = both(logits, targets, input_lengths, target_lengths, reduction="none")
    torch.testing.assert_close(ours, theirs)
    assert ours[:2].tolist() == [math.inf, math.inf] and math.isfinite(ours[2].item())
    ours[2].backward()
    theirs[2].backward()  # torch's rows 0 and 1 get nan; ours stay finite (zero)
    torch.testing.assert_close(x1.grad[2], x2.grad[2])
    assert torch.equal(x1.grad[:2], torch.zeros_like(x1.grad[:2]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_zero_infinity_matches_torch(reduction):
    torch.manual_seed(6)
    B, T, V = 4, 5, 4
    logits = torch.randn(B, T, V, dtype=torch.double)
    targets = torch.tensor([[1, 2, 3, 1, 2, 3], [1, 1, 2, 2, 0, 0], [3, 0, 0, 0, 0, 0], [1, 2, 1, 0, 0, 0]])
    loss = assert_same(logits, targets, [5, 5, 5, 2], [6, 4, 1, 3], reduction=reduction, zero_infinity=True)
    if reduction == "none":
        assert loss[0].item() == loss[1].item() == loss[3].item() == 0.0 and loss[2].item() > 0


def test_input_length_zero():
    logits = torch.randn(2, 3, 4, dtype=torch.double)
    loss = ctc_loss(logits.log_softmax(-1), torch.tensor([[1], [1]]), [0, 0], [0, 1], reduction="none")
    expected = F.ctc_loss(logits.log_softmax(-1).transpose(0, 1), torch.tensor([[1], [1]]), [0, 0], [0, 1],
                          reduction="none")
    assert loss.tolist() == [0.0, math.inf] == expected.abs().tolist()


@pytest.mark.parametrize("target,blank", [([1, 2, 2], 0), ([1], 0), ([], 0), ([2, 1], 0), ([1, 1], 2),
                                          ([0, 2, 0], 1), ([1, 2, 1, 2], 0), ([1, 1, 1], 0),
                                          ([1, 1, 1, 1], 0)])
def test_loss_is_minus_log_of_the_summed_alignments(target, blank):
    torch.manual_seed(7)
    T, V = 5, 3
    log_probs = torch.randn(1, T, V, dtype=torch.double).log_softmax(-1)
    loss = ctc_loss(log_probs, torch.tensor([target + [1]]), [T], [len(target)],  # one padding value
                    blank=blank, reduction="none")
    expected = brute_force(log_probs[0], target, T, blank)
    if expected == -math.inf:  # [1, 1, 1, 1] needs 4 + 3 = 7 frames, more than T = 5
        assert target == [1, 1, 1, 1] and loss.item() == math.inf
    else:
        torch.testing.assert_close(torch.exp(-loss[0]), torch.tensor(math.exp(expected), dtype=torch.double))


def test_probabilities_of_all_labellings_sum_to_one():
    torch.manual_seed(8)
    T, V = 4, 3
    log_probs = torch.randn(1, T, V, dtype=torch.double).log_softmax(-1)
    total = 0.0
    for labels in labellings(log_probs[0], T):
        padded = torch.tensor([list(labels) + [1] * (T - len(labels))])
        total += torch.exp(-ctc_loss(log_probs, padded, [T], [len(labels)], reduction="none")).item()
    assert total == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("call,match", [
    (lambda lp, t: ctc_loss(lp[0], t, [5, 5], [2, 2]), "log_probs"),
    (lambda lp, t: ctc_loss(lp.long(), t, [5, 5], [2, 2]), "log_probs"),
    (lambda lp, t: ctc_loss(lp, t[:1], [5, 5], [2, 2]), "targets"),
    (lambda lp, t: ctc_loss(lp, t.double(), [5, 5], [2, 2]), "targets"),
    (lambda lp, t: ctc_loss(lp, t[:, None], [5, 5], [2, 2]), "targets"),
    (lambda lp, t: ctc_loss(lp, t.flatten()[:3], [5, 5], [2, 2]), "targets"),
    (lambda lp, t: ctc_loss(lp, t + 10, [5, 5], [2, 2]), "targets"),
    (lambda lp, t: ctc_loss(lp, t * 0, [5, 5], [2, 2]), "blank"),
    (lambda lp, t: ctc_loss(lp, t, [5], [2, 2]), "input_lengths"),
    (lambda lp, t: ctc_loss(lp, t, [6, 5], [2, 2]), "input_lengths"),
    (lambda lp, t: ctc_loss(lp, t, [-1, 5], [2, 2]), "input_lengths"),
    (lambda lp, t: ctc_loss(lp, t, [5, 5], [2.0, 2.0]), "target_lengths"),
    (lambda lp, t: ctc_loss(lp, t, [5, 5], [4, 2]), "target_lengths"),
    (lambda lp, t: ctc_loss(lp, t, [5, 5], [-1, 2]), "target_lengths"),
    (lambda lp, t: ctc_loss(lp, t, [5, 5], [2, 2], blank=4), "blank"),
    (lambda lp, t: ctc_loss(lp, t, [5, 5], [2, 2], blank=-1), "blank"),
    (lambda lp, t: ctc_loss(lp, t, [5, 5], [2, 2], reduction="avg"), "reduction"),
])
def test_bad_inputs_raise_value_error_naming_the_argument(call, match):
    log_probs = torch.randn(2, 5, 4).log_softmax(-1)
    targets = torch.tensor([[1, 2, 3], [3, 3, 1]])
    with pytest.raises(ValueError, match=match):
        call(log_probs, targets)


# ---------------------------------------------------------------- decoding

def test_greedy_decode_hand_example():
    frames = torch.tensor([1, 1, 0, 1, 2, 2, 0, 3])  # argmax per frame
    log_probs = torch.full((2, 8, 4), -5.0)
    log_probs[0, torch.arange(8), frames] = -0.1
    log_probs[1, torch.arange(8), frames.flip(0)] = -0.1
    assert ctc_greedy_decode(log_probs, [8, 8]) == [[1, 1, 2, 3], [3, 2, 1, 1]]  # 3 ∅ 2 2 1 ∅ 1 1
    assert ctc_greedy_decode(log_probs, torch.tensor([6, 3])) == [[1, 1, 2], [3, 2]]
    assert ctc_greedy_decode(log_probs, [0, 8], blank=1) == [[], [3, 0, 2, 0]]


@pytest.mark.parametrize("seed", range(5))
def test_prefix_beam_search_with_a_large_beam_is_exact(seed):
    g = torch.Generator().manual_seed(seed)
    T, V = 4, 3
    log_probs = (2 * torch.randn(1, T, V, dtype=torch.double, generator=g)).log_softmax(-1)
    p = labellings(log_probs[0], T)
    (hyps,) = ctc_prefix_beam_search(log_probs, [T], beam_size=100)
    best, score = hyps[0]
    assert tuple(best) == max(p, key=p.get)
    assert len(hyps) == len(p)  # every labelling of nonzero probability
    for labels, s in hyps:
        assert s == pytest.approx(math.log(p[tuple(labels)]), abs=1e-10)
    padded = torch.tensor([best + [1] * (T - len(best))])
    loss = ctc_loss(log_probs, padded, [T], [len(best)], reduction="none")
    assert score == pytest.approx(-loss.item(), abs=1e-10)


def test_prefix_beam_search_beats_greedy():
    # every frame: blank 0.6, label 1 0.4. Greedy: ∅ ∅ → [] with p = 0.36; but [1] has the three
    # alignments 1 1, 1 ∅, ∅ 1: p = 0.16 + 0.24 + 0.24 = 0.64
    log_probs = torch.tensor([[0.6, 0.4], [0.6, 0.4]]).log()
    assert ctc_greedy_decode(log_probs[None], [2]) == [[]]
    (hyps,) = ctc_prefix_beam_search(log_probs, beam_size=2)  # (T, V): one sequence, all frames
    assert [h for h, _ in hyps] == [[1], []]
    assert [math.exp(s) for _, s in hyps] == pytest.approx([0.64, 0.36])


def test_prefix_beam_search_batch_and_lengths():
    torch.manual_seed(9)
    log_probs = torch.randn(3, 6, 4).log_softmax(-1)
    batch = ctc_prefix_beam_search(log_probs, [6, 2, 0], beam_size=3)
    assert batch[0] == ctc_prefix_beam_search(log_probs[0], beam_size=3)[0]
    assert batch[1] == ctc_prefix_beam_search(log_probs[1, :2], beam_size=3)[0]
    assert batch[2] == [([], 0.0)]
    assert all(len(h) <= 3 and [s for _, s in h] == sorted((s for _, s in h), reverse=True) for h in batch)


def test_decoders_refuse_bad_inputs():
    log_probs = torch.randn(2, 5, 4).log_softmax(-1)
    with pytest.raises(ValueError, match="beam_size"):
        ctc_prefix_beam_search(log_probs, [5, 5], beam_size=0)
    with pytest.raises(ValueError, match="blank"):
        ctc_prefix_beam_search(log_probs, [5, 5], beam_size=2, blank=4)
    with pytest.raises(ValueError, match="input_lengths"):
        ctc_greedy_decode(log_probs, [5])
    with pytest.raises(ValueError, match="input_lengths"):
        ctc_greedy_decode(log_probs, [5, 6])
    with pytest.raises(ValueError, match="log_probs"):
        ctc_greedy_decode(log_probs[0], [5])
    with pytest.raises(ValueError, match="ids"):
        ctc_collapse(torch.zeros(2, 2, dtype=torch.long))
