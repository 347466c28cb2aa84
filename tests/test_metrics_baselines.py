import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqlab.baselines import cooccurrence, ppmi_svd
from seqlab.metrics import analogy_accuracy, cosine_neighbors, evaluate_embeddings, neighbor_precision
from seqlab.text import Vocab

WORDS = ["國王", "王后", "男人", "女人", "蘋果"]


@pytest.fixture
def toy():
    vocab = Vocab(WORDS)
    emb = torch.zeros(len(vocab), 3)
    emb[vocab["國王"]] = torch.tensor([1.0, 1.0, 0.0])  # royal + male
    emb[vocab["王后"]] = torch.tensor([1.0, -1.0, 0.0])  # royal + female
    emb[vocab["男人"]] = torch.tensor([0.1, 1.0, 0.0])
    emb[vocab["女人"]] = torch.tensor([0.1, -1.0, 0.0])
    emb[vocab["蘋果"]] = torch.tensor([0.0, 0.2, 1.0])
    emb[:4] = 5.0  # specials must never be returned
    return emb, vocab


def test_cosine_neighbors_match_torch(toy):
    emb, vocab = toy
    got = cosine_neighbors(emb, vocab, "國王", k=4)
    sims = F.cosine_similarity(emb[4:], emb[vocab["國王"]].unsqueeze(0), dim=1)
    expected = sorted(((WORDS[i], float(s)) for i, s in enumerate(sims) if WORDS[i] != "國王"), key=lambda x: -x[1])
    assert [w for w, _ in got] == [w for w, _ in expected]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], atol=1e-6)
    with pytest.raises(KeyError):
        cosine_neighbors(emb, vocab, "不存在", 3)
    with pytest.raises(ValueError, match="k"):
        cosine_neighbors(emb, vocab, "國王", 0)


def test_analogy_and_precision(toy):
    emb, vocab = toy
    acc, n = analogy_accuracy(emb, vocab, [("男人", "國王", "女人", "王后"), ("國王", "男人", "王后", "蘋果"), ("x", "y", "z", "w")])
    assert (acc, n) == (0.5, 2)
    p, n = neighbor_precision(emb, vocab, {"royal": ["國王", "王后"], "people": ["男人", "女人"], "one": ["蘋果"]}, k=1)
    assert n == 4 and p == pytest.approx(0.0)  # 國王's nearest is 男人 (cos .74) not 王后 (0)
    row = evaluate_embeddings(emb, vocab, {"g": ["國王", "男人"]}, {"r": [("男人", "國王", "女人", "王后")]}, k=1)
    assert row["類比 r"] == 1.0 and row["鄰近詞 P@1"] == 1.0
    with pytest.raises(ValueError, match="no analogy"):
        analogy_accuracy(emb, vocab, [("x", "y", "z", "w")])
    with pytest.raises(ValueError, match="embeddings"):
        analogy_accuracy(torch.zeros(0, 3), vocab, [])


def test_cooccurrence_counts_both_directions():
    vocab = Vocab(["a", "b", "c"])
    m = cooccurrence([["a", "b", "c"], ["a", "zzz", "b"]], vocab, window=1).toarray()
    a, b, c = vocab["a"], vocab["b"], vocab["c"]
    assert m[a, b] == m[b, a] == 1 and m[b, c] == 1 and m[a, c] == 0
    assert m[:4].sum() == 0  # the unknown word is not counted
    with pytest.raises(ValueError, match="window"):
        cooccurrence([["a"]], vocab, 0)
    with pytest.raises(ValueError, match="empty"):
        cooccurrence([["a"]], vocab, 2)


def test_ppmi_svd_matches_dense_reference():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(12)]
    sents = [[words[j] for j in rng.integers(0, 12, 15)] for _ in range(40)]
    vocab = Vocab.build(sents)
    got = ppmi_svd(sents, vocab, window=2, dim=4, alpha=0.75, eigenvalue_power=1.0)
    counts = cooccurrence(sents, vocab, 2).toarray()
    ctx = counts.sum(0) ** 0.75
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(counts * ctx.sum() / (counts.sum(1, keepdims=True) * ctx[None, :]))
    ppmi = np.where(counts > 0, np.maximum(pmi, 0), 0)
    u, s, _ = np.linalg.svd(ppmi)
    ref = u[:, :4] * s[:4]
    # singular vectors are defined up to sign: compare the Gram matrices
    np.testing.assert_allclose(got.numpy() @ got.numpy().T, ref @ ref.T, atol=1e-3)
    with pytest.raises(ValueError, match="dim"):
        ppmi_svd(sents, vocab, dim=0)
