"""seqlab.nn.losses.focal_loss: gamma = 0 is F.cross_entropy (weights, ignore_index, reductions); gamma > 0
matches the formula computed another way, in value and gradient; stable; bad input is refused."""

import pytest
import torch
import torch.nn.functional as F

from seqlab.nn.losses import FocalLoss, focal_loss


def data(shape=(4, 5), C=7, seed=0, ignore=True):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(*shape, C, generator=g, dtype=torch.float64) * 2
    target = torch.randint(0, C, shape, generator=g)
    if ignore:
        target.view(-1)[::3] = -100
    return logits.requires_grad_(), target


def reference(logits, target, gamma, weight=None, ignore_index=-100):
    """The formula with one-hot vectors and explicit sums (no gather, no log_softmax)."""
    C = logits.size(-1)
    flat, t = logits.reshape(-1, C), target.reshape(-1)
    keep = t != ignore_index
    flat, t = flat[keep], t[keep]
    p = torch.exp(flat) / torch.exp(flat).sum(-1, keepdim=True)
    onehot = F.one_hot(t, C).to(flat.dtype)
    pt = (p * onehot).sum(-1)
    w = torch.ones(C, dtype=flat.dtype) if weight is None else weight
    wt = (w * onehot).sum(-1)
    return (-wt * (1 - pt) ** gamma * torch.log(pt)).sum() / wt.sum()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_gamma_zero_is_cross_entropy(reduction, weighted):
    logits, target = data()
    weight = torch.rand(7, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) + 0.1 if weighted else None
    ours = focal_loss(logits, target, gamma=0.0, weight=weight, reduction=reduction)
    ref = F.cross_entropy(logits.reshape(-1, 7), target.reshape(-1), weight=weight, reduction=reduction)
    torch.testing.assert_close(ours.reshape(ref.shape), ref)
    g_ours, = torch.autograd.grad(ours.sum(), logits)
    g_ref, = torch.autograd.grad(ref.sum(), logits)
    torch.testing.assert_close(g_ours, g_ref)


@pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0, 5.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_focal_matches_the_formula_in_value_and_gradient(gamma, weighted):
    logits, target = data(seed=int(gamma * 10))
    weight = torch.linspace(0.2, 2.0, 7, dtype=torch.float64) if weighted else None
    ours = focal_loss(logits, target, gamma=gamma, weight=weight)
    ref = reference(logits, target, gamma, weight)
    torch.testing.assert_close(ours, ref)
    g_ours, = torch.autograd.grad(ours, logits)
    g_ref, = torch.autograd.grad(ref, logits)
    torch.testing.assert_close(g_ours, g_ref)
    assert g_ours.reshape(-1, 7)[target.reshape(-1) == -100].abs().max() == 0  # ignored positions get no gradient


def test_easy_examples_are_down_weighted_by_one_minus_p_to_the_gamma():
    logits = torch.tensor([[4.0, 0.0, 0.0], [0.0, 0.2, 0.0]], dtype=torch.float64)
    target = torch.tensor([0, 1])
    ce = focal_loss(logits, target, gamma=0.0, reduction="none")
    fl = focal_loss(logits, target, gamma=2.0, reduction="none")
    pt = torch.softmax(logits, -1)[[0, 1], target]
    torch.testing.assert_close(fl / ce, (1 - pt) ** 2)
    assert (fl / ce)[0] < 0.002 < 0.3 < (fl / ce)[1]


def test_stable_for_confident_logits():
    logits = torch.tensor([[100.0, -100.0, 0.0], [-100.0, 100.0, 0.0]], requires_grad=True)
    for gamma in (0.0, 0.5, 2.0):
        loss = focal_loss(logits, torch.tensor([0, 0]), gamma=gamma)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(logits.grad).all(), gamma
        logits.grad = None


def test_module_and_batch_first_sequences():
    logits, target = data(shape=(3, 6), C=5, seed=3)
    module = FocalLoss(gamma=1.0, weight=torch.ones(5))
    torch.testing.assert_close(module(logits, target), focal_loss(logits, target, 1.0))
    assert "gamma=1.0" in repr(module)
    assert module.weight.dtype == torch.float32 and "weight" in dict(module.named_buffers())


def test_all_ignored_mean_is_nan_like_torch():
    logits = torch.randn(3, 4)
    target = torch.full((3,), -100)
    assert torch.isnan(focal_loss(logits, target, 2.0)) and torch.isnan(F.cross_entropy(logits, target))


def test_bad_input_raises_value_error():
    logits, target = data()
    with pytest.raises(ValueError, match="gamma must be >= 0"):
        focal_loss(logits, target, gamma=-1.0)
    with pytest.raises(ValueError, match="gamma must be >= 0"):
        FocalLoss(gamma=-0.5)
    with pytest.raises(ValueError, match="target must have shape"):
        focal_loss(logits, target[:, :3])
    with pytest.raises(ValueError, match="integer"):
        focal_loss(logits, target.double())
    with pytest.raises(ValueError, match="weight must have shape"):
        focal_loss(logits, target, weight=torch.ones(6))
    with pytest.raises(ValueError, match="reduction"):
        focal_loss(logits, target, reduction="avg")
