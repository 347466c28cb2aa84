import pytest
import torch
import torch.nn.functional as F

from seqlab.data.skipgram import SkipGramBatches
from seqlab.device import seed_everything
from seqlab.metrics import cosine_neighbors
from seqlab.nn.word2vec import SkipGramNS
from seqlab.text import Vocab
from seqlab.train import fit


def reference_loss(v_weight, u_weight, center, context, negatives):
    """SGNS as logistic regression: torch's binary cross-entropy with logits, label 1 / 0."""
    v = F.embedding(center, v_weight)
    pos_logit = (F.embedding(context, u_weight) * v).sum(-1)
    neg_logit = torch.einsum("bke,be->bk", F.embedding(negatives, u_weight), v)
    pos = F.binary_cross_entropy_with_logits(pos_logit, torch.ones_like(pos_logit), reduction="none")
    neg = F.binary_cross_entropy_with_logits(neg_logit, torch.zeros_like(neg_logit), reduction="none").sum(-1)
    return (pos + neg).mean()


@pytest.mark.parametrize("batch, k", [(1, 1), (7, 5)])
def test_loss_and_gradients_match_binary_cross_entropy(batch, k):
    torch.manual_seed(0)
    model = SkipGramNS(20, 8)
    with torch.no_grad():
        model.context.weight.normal_()  # zeros at init would make the check trivial
    center, context = torch.randint(0, 20, (batch,)), torch.randint(0, 20, (batch,))
    negatives = torch.randint(0, 20, (batch, k))
    v = model.center.weight.detach().clone().requires_grad_()
    u = model.context.weight.detach().clone().requires_grad_()
    ours, ref = model(center, context, negatives), reference_loss(v, u, center, context, negatives)
    torch.testing.assert_close(ours, ref)
    ours.backward()
    ref.backward()
    torch.testing.assert_close(model.center.weight.grad, v.grad)
    torch.testing.assert_close(model.context.weight.grad, u.grad)


def test_bad_sizes():
    with pytest.raises(ValueError, match="embedding_dim"):
        SkipGramNS(10, 0)
    with pytest.raises(ValueError, match="num_embeddings"):
        SkipGramNS(0, 4)


def test_training_smoke_run_learns_two_topics():
    """Seeded, offline dry run: words from one topic end up nearest each other."""
    seed_everything(0)
    g = torch.Generator().manual_seed(0)
    topics = [["貓", "狗", "魚", "鳥"], ["一", "二", "三", "四"]]
    sents = [[topics[t][int(i)] for i in torch.randint(0, 4, (12,), generator=g)] for t in [0, 1] * 60]
    vocab = Vocab.build(sents)
    counts = [vocab.counts[w] for w in vocab.itos]
    data = SkipGramBatches([vocab.encode(s) for s in sents], counts, window=3, negatives=3, batch_size=256, t=1.0)
    model = SkipGramNS(len(vocab), 8, sparse=True)
    history = fit(model, data, lambda m, b: m(*b), torch.optim.SparseAdam(model.parameters(), lr=0.05),
                  epochs=4, progress=False)
    assert history.train_loss[-1] < 0.8 * history.train_loss[0]
    for topic in topics:
        nearest = [w for w, _ in cosine_neighbors(model.vectors, vocab, topic[0], 3)]
        assert set(nearest) == set(topic[1:])
