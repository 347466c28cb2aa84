"""The linear-chain CRF against brute-force enumeration of all K^T paths on tiny inputs:
log Z, path scores, Viterbi, marginals; gradcheck; reductions; constraints; bad inputs."""

import itertools
import math

import pytest
import torch
from torch.func import functional_call

from seqlab.nn.crf import LinearChainCRF, allowed_transitions

BMES = ["B", "M", "E", "S"]


def make_crf(K, seed=0, scale=1.0):
    """A double-precision CRF with transitions larger than the U(-0.1, 0.1) default (they matter more)."""
    torch.manual_seed(seed)
    crf = LinearChainCRF(K).double()
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_(0, scale)
    return crf


def brute_path_score(crf, emissions_b, path):
    """s(y) for one sequence, written directly from the definition."""
    s = crf.start_transitions[path[0]] + crf.end_transitions[path[-1]]
    for t, j in enumerate(path):
        s = s + emissions_b[t, j]
        if t:
            s = s + crf.transitions[path[t - 1], j]
    return s


def all_paths(K, length):
    return list(itertools.product(range(K), repeat=length))


def brute_log_z(crf, emissions_b, length):
    scores = torch.stack([brute_path_score(crf, emissions_b, p) for p in all_paths(crf.num_tags, length)])
    return torch.logsumexp(scores, 0)


def brute_viterbi(crf, emissions_b, length):
    return max(all_paths(crf.num_tags, length), key=lambda p: brute_path_score(crf, emissions_b, p).item())


def batch(B=4, T=5, K=3, lengths=(5, 3, 1, 4), seed=1):
    torch.manual_seed(seed)
    emissions = torch.randn(B, T, K, dtype=torch.double)
    mask = torch.arange(T) < torch.tensor(lengths).unsqueeze(1)  # (B, T), left-aligned
    tags = torch.randint(0, K, (B, T))
    return emissions, tags, mask


def test_log_partition_and_score_match_brute_force_with_mixed_lengths():
    crf = make_crf(3)
    emissions, tags, mask = batch()
    log_z = crf.log_partition(emissions, mask)
    score = crf.score(emissions, tags, mask)
    assert log_z.shape == score.shape == (4,)
    for b, n in enumerate(mask.sum(1).tolist()):
        torch.testing.assert_close(log_z[b], brute_log_z(crf, emissions[b], n))
        torch.testing.assert_close(score[b], brute_path_score(crf, emissions[b], tags[b, :n].tolist()))
    # padding is ignored: garbage in padded emissions and tags changes nothing
    noisy_e = emissions.masked_fill(~mask.unsqueeze(2), 1e3)
    noisy_t = tags.masked_fill(~mask, 2)
    torch.testing.assert_close(crf.log_partition(noisy_e, mask), log_z)
    torch.testing.assert_close(crf.score(noisy_e, noisy_t, mask), score)


def test_nll_is_minus_log_probability_and_probabilities_sum_to_one():
    crf = make_crf(2, seed=3)
    emissions, _, mask = batch(B=2, T=4, K=2, lengths=(4, 2))
    # sum of p(y|x) over every path of the first sequence's length is 1
    total = sum(torch.exp(-crf(emissions[:1], torch.tensor([p]), mask[:1], reduction="none"))
                for p in all_paths(2, 4))
    torch.testing.assert_close(total, torch.ones(1, dtype=torch.double))
    tags = torch.tensor([[0, 1, 1, 0], [1, 0, 0, 0]])
    nll = crf(emissions, tags, mask, reduction="none")
    torch.testing.assert_close(nll, crf.log_partition(emissions, mask) - crf.score(emissions, tags, mask))
    assert (nll > 0).all()


def test_viterbi_matches_brute_force_argmax_and_respects_lengths():
    for seed in range(5):
        crf = make_crf(3, seed=seed)
        emissions, _, mask = batch(seed=seed + 10)
        paths = crf.decode(emissions, mask)
        assert [len(p) for p in paths] == mask.sum(1).tolist()
        for b, p in enumerate(paths):
            n = len(p)
            assert tuple(p) == brute_viterbi(crf, emissions[b], n)
            # the best path's score is the max over all paths
            best = max(brute_path_score(crf, emissions[b], q).item() for q in all_paths(3, n))
            assert brute_path_score(crf, emissions[b], p).item() == pytest.approx(best)


def test_a_sequence_decodes_alone_as_in_a_padded_batch():
    crf = make_crf(4, seed=2)
    emissions, _, mask = batch(K=4, seed=5)
    paths = crf.decode(emissions, mask)
    for b, n in enumerate(mask.sum(1).tolist()):
        assert crf.decode(emissions[b : b + 1, :n]) == [paths[b]]
        alone = crf.log_partition(emissions[b : b + 1, :n])
        torch.testing.assert_close(alone, crf.log_partition(emissions, mask)[b : b + 1])


def test_transitions_change_the_decoded_path():
    # emissions alone favour tag 0 everywhere; a huge penalty on 0 -> 0 forces alternation
    crf = LinearChainCRF(2).double()
    with torch.no_grad():
        for p in crf.parameters():
            p.zero_()
        crf.transitions[0, 0] = -10.0
    emissions = torch.tensor([[[1.0, 0.0]] * 5], dtype=torch.double)
    assert crf.decode(emissions) == [[0, 1, 0, 1, 0]]
    assert emissions.argmax(-1).tolist() == [[0, 0, 0, 0, 0]]


def test_gradient_of_log_z_is_the_brute_force_marginals():
    crf = make_crf(3, seed=4)
    emissions, _, mask = batch(seed=7)
    emissions.requires_grad_()
    crf.log_partition(emissions, mask).sum().backward()
    for b, n in enumerate(mask.sum(1).tolist()):
        paths = all_paths(3, n)
        probs = torch.softmax(torch.stack([brute_path_score(crf, emissions[b].detach(), p) for p in paths]), 0)
        marginals = torch.zeros(5, 3, dtype=torch.double)  # p(y_t = j | x); zero at padded steps
        for prob, p in zip(probs, paths):
            for t, j in enumerate(p):
                marginals[t, j] += prob
        torch.testing.assert_close(emissions.grad[b], marginals)
        torch.testing.assert_close(marginals[:n].sum(1), torch.ones(n, dtype=torch.double))


@pytest.mark.parametrize("reduction", ["none", "sum", "mean", "token_mean"])
def test_gradcheck_of_the_nll(reduction):
    crf = make_crf(3, seed=6)
    emissions, tags, mask = batch(B=3, T=4, K=3, lengths=(4, 2, 3), seed=8)
    names = ["transitions", "start_transitions", "end_transitions"]
    params = [getattr(crf, n).detach().clone().requires_grad_() for n in names]

    def nll(e, *ps):  # the CRF's parameters as inputs, so gradcheck perturbs them too
        return functional_call(crf, dict(zip(names, ps)), (e, tags, mask), {"reduction": reduction})

    assert torch.autograd.gradcheck(nll, (emissions.requires_grad_(), *params))


def test_reductions():
    crf = make_crf(3)
    emissions, tags, mask = batch()
    nll = crf(emissions, tags, mask, reduction="none")
    assert nll.shape == (4,)
    torch.testing.assert_close(crf(emissions, tags, mask, reduction="sum"), nll.sum())
    torch.testing.assert_close(crf(emissions, tags, mask), nll.mean())  # "mean" is the default
    torch.testing.assert_close(crf(emissions, tags, mask, reduction="token_mean"), nll.sum() / 13)  # 5+3+1+4 tokens
    with pytest.raises(ValueError, match="reduction"):
        crf(emissions, tags, mask, reduction="batchmean")


def test_no_mask_means_every_step_is_real():
    crf = make_crf(3)
    emissions, tags, _ = batch()
    full = torch.ones(4, 5, dtype=torch.bool)
    torch.testing.assert_close(crf(emissions, tags), crf(emissions, tags, full))
    assert crf.decode(emissions) == crf.decode(emissions, full)
    assert all(len(p) == 5 for p in crf.decode(emissions))


def test_initialisation_and_parameter_names_are_pytorch_crfs():
    torch.manual_seed(0)
    crf = LinearChainCRF(5)
    assert set(crf.state_dict()) == {"transitions", "start_transitions", "end_transitions"}
    assert crf.transitions.shape == (5, 5) and crf.start_transitions.shape == crf.end_transitions.shape == (5,)
    for p in crf.parameters():
        assert p.abs().max() <= 0.1 and p.std() > 0.02


def test_bmes_allowed_transitions():
    start, trans, end = allowed_transitions(BMES)
    assert start.tolist() == [True, False, False, True]
    assert end.tolist() == [False, False, True, True]
    allowed = {(BMES[i], BMES[j]) for i in range(4) for j in range(4) if trans[i, j]}
    assert allowed == {("B", "M"), ("B", "E"), ("M", "M"), ("M", "E"), ("E", "B"), ("E", "S"), ("S", "B"), ("S", "S")}
    # another order of the tags gives the same rules at the permuted indices
    order = ["S", "E", "B", "M"]
    start2, trans2, end2 = allowed_transitions(order)
    perm = [BMES.index(t) for t in order]
    assert torch.equal(start2, start[perm]) and torch.equal(end2, end[perm])
    assert torch.equal(trans2, trans[perm][:, perm])
    with pytest.raises(ValueError, match="tags"):
        allowed_transitions(["B", "I", "O"])


def valid_bmes(path):
    tags = [BMES[j] for j in path]
    ok = tags[0] in "BS" and tags[-1] in "ES"
    return ok and all((b in "ME") == (a in "BM") for a, b in zip(tags, tags[1:]))


def test_constraints_forbid_paths_in_decode_and_in_log_z():
    torch.manual_seed(0)
    crf = LinearChainCRF(4).double()
    emissions = 3 * torch.randn(30, 6, 4, dtype=torch.double)
    mask = torch.arange(6) < torch.randint(1, 7, (30, 1))
    unconstrained = crf.decode(emissions, mask)
    assert not all(valid_bmes(p) for p in unconstrained)  # per-position scores break the rules
    crf.constrain(*allowed_transitions(BMES))
    constrained = crf.decode(emissions, mask)
    assert all(valid_bmes(p) for p in constrained)
    assert set(crf.state_dict()) == {"transitions", "start_transitions", "end_transitions"}
    # log Z sums over the valid paths only, and Viterbi is the best valid path
    for b in range(3):
        n = int(mask[b].sum())
        valid = [p for p in all_paths(4, n) if valid_bmes(p)]
        scores = torch.stack([brute_path_score(crf, emissions[b], p) for p in valid])
        log_z = crf.log_partition(emissions[b : b + 1], mask[b : b + 1])[0]
        torch.testing.assert_close(log_z, torch.logsumexp(scores, 0))
        assert tuple(constrained[b]) == valid[int(scores.argmax())]
    # a gold path that breaks a rule has probability 0, and the other rows keep finite gradients
    tags = torch.tensor([[0, 0, 2, 3, 3, 3], [3, 0, 2, 3, 0, 2]])  # B B ... is forbidden; the second is valid
    e = emissions[:2, :, :].clone().requires_grad_()
    nll = crf(e, tags, reduction="none")
    assert math.isinf(nll[0].item()) and math.isfinite(nll[1].item())
    nll[1].backward()
    assert torch.isfinite(e.grad).all() and torch.isfinite(crf.transitions.grad).all()
    # a large negative value instead of -inf keeps the loss finite; None lifts the constraints
    crf.constrain(*allowed_transitions(BMES), value=-1e4)
    assert 1e3 < crf(e, tags, reduction="none")[0].item() < math.inf
    crf.constrain(None, None, None)
    assert crf.decode(emissions, mask) == unconstrained


def test_bad_inputs_raise_value_errors_naming_the_argument():
    crf = LinearChainCRF(3)
    emissions = torch.randn(2, 4, 3)
    tags = torch.zeros(2, 4, dtype=torch.long)
    mask = torch.tensor([[True, True, True, False], [True, True, False, False]])
    with pytest.raises(ValueError, match="emissions"):
        crf.log_partition(torch.randn(2, 4, 5))
    with pytest.raises(ValueError, match="emissions"):
        crf.decode(torch.randn(4, 3))
    with pytest.raises(ValueError, match="emissions"):
        crf.log_partition(torch.randn(2, 0, 3))
    with pytest.raises(ValueError, match="mask"):
        crf(emissions, tags, mask[:, :3])
    with pytest.raises(ValueError, match="mask"):
        crf(emissions, tags, mask.long())
    with pytest.raises(ValueError, match="mask.*left-aligned"):
        crf.decode(emissions, torch.tensor([[True, False, True, False], [True, True, False, False]]))
    with pytest.raises(ValueError, match=r"mask\[:, 0\]"):
        crf.log_partition(emissions, torch.tensor([[False, True, True, True], [True, True, False, False]]))
    with pytest.raises(ValueError, match="tags"):
        crf(emissions, tags[:, :3], mask)
    with pytest.raises(ValueError, match="tags"):
        crf.score(emissions, torch.full((2, 4), 3), mask)
    with pytest.raises(ValueError, match="tags"):
        crf(emissions, torch.full((2, 4), -1), mask)
    with pytest.raises(ValueError, match="tags"):
        crf(emissions, tags.float(), mask)
    # tags out of range at padded steps are fine (e.g. an ignore index there)
    padded = tags.masked_fill(~mask, -100)
    torch.testing.assert_close(crf(emissions, padded, mask), crf(emissions, tags, mask))
    with pytest.raises(ValueError, match="num_tags"):
        LinearChainCRF(0)
    with pytest.raises(ValueError, match="transitions"):
        crf.constrain(None, torch.ones(2, 2, dtype=torch.bool), None)
