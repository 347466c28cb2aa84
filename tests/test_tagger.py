"""The BiLSTM tagger (softmax and CRF): exact padding, ours = torch's LSTM with the same state dict,
a smoke training run on a synthetic segmentation task, and BMES constraints on the CRF's output."""

import pytest
import torch
import torch.nn.functional as F

from seqlab.nn.crf import allowed_transitions
from seqlab.nn.tagger import BiLSTMTagger

BMES = ["B", "M", "E", "S"]
# a toy lexicon: each token id belongs to one word at one position, so its tag is learnable
LEXICON = [[1], [2], [3], [4, 5], [6, 7], [8, 9, 10], [11, 12, 13, 14]]
VOCAB = 15  # ids 1..14, 0 = <pad>


def word_tags(word):
    return [3] if len(word) == 1 else [0] + [1] * (len(word) - 2) + [2]  # S, or B M* E


def synthetic_batch(n, max_words=5, seed=0):
    """Sentences of random lexicon words: padded tokens (B, T), lengths (B,), BMES tag ids (B, T) (-100 at padding)."""
    g = torch.Generator().manual_seed(seed)
    sentences = []
    for _ in range(n):
        n_words = int(torch.randint(1, max_words + 1, (1,), generator=g))
        words = [LEXICON[i] for i in torch.randint(len(LEXICON), (n_words,), generator=g).tolist()]
        sentences.append(([t for w in words for t in w], [y for w in words for y in word_tags(w)]))
    T = max(len(s) for s, _ in sentences)
    tokens = torch.zeros(n, T, dtype=torch.long)
    tags = torch.full((n, T), -100)
    for b, (s, y) in enumerate(sentences):
        tokens[b, : len(s)] = torch.tensor(s)
        tags[b, : len(y)] = torch.tensor(y)
    return tokens, torch.tensor([len(s) for s, _ in sentences]), tags


def valid_bmes(path):
    tags = [BMES[j] for j in path]
    return tags[0] in "BS" and tags[-1] in "ES" and all((b in "ME") == (a in "BM") for a, b in zip(tags, tags[1:]))


def random_batch(B=5, T=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([T, 3, 1, 5, T - 1][:B])
    tokens = torch.randint(1, VOCAB, (B, T), generator=g) * (torch.arange(T) < lengths.unsqueeze(1))
    return tokens, lengths


@pytest.mark.parametrize("crf", [False, True])
@pytest.mark.parametrize("builtin", [False, True])
def test_shapes_and_padding_does_not_change_predictions(crf, builtin):
    torch.manual_seed(0)
    model = BiLSTMTagger(VOCAB, 4, embed_dim=8, hidden_size=6, num_layers=2, crf=crf, builtin=builtin).eval()
    tokens, lengths = random_batch()
    emissions = model.emissions(tokens, lengths)
    assert emissions.shape == (5, 7, 4)
    predicted = model.predict(tokens, lengths)
    assert [len(p) for p in predicted] == lengths.tolist()
    for b, n in enumerate(lengths.tolist()):
        alone = tokens[b : b + 1, :n]
        torch.testing.assert_close(model.emissions(alone, [n])[0], emissions[b, :n])
        assert model.predict(alone, [n]) == [predicted[b]]
        # more padding after the sequence changes nothing either
        wider = F.pad(alone, (0, 4))
        assert model.predict(wider, [n]) == [predicted[b]]


@pytest.mark.parametrize("crf", [False, True])
def test_builtin_lstm_gives_the_same_as_ours_with_the_same_state_dict(crf):
    torch.manual_seed(0)
    ours = BiLSTMTagger(VOCAB, 4, embed_dim=8, hidden_size=6, num_layers=2, crf=crf).double()
    ref = BiLSTMTagger(VOCAB, 4, embed_dim=8, hidden_size=6, num_layers=2, crf=crf, builtin=True).double()
    assert isinstance(ref.rnn, torch.nn.LSTM) and not isinstance(ours.rnn, torch.nn.LSTM)
    ref.load_state_dict(ours.state_dict())
    tokens, lengths, tags = synthetic_batch(6, seed=1)
    torch.testing.assert_close(ours.emissions(tokens, lengths), ref.emissions(tokens, lengths))
    loss_ours, loss_ref = ours.loss(tokens, lengths, tags), ref.loss(tokens, lengths, tags)
    torch.testing.assert_close(loss_ours, loss_ref)
    loss_ours.backward()
    loss_ref.backward()
    ref_params = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, ref_params[name].grad, msg=name)
    assert ours.predict(tokens, lengths) == ref.predict(tokens, lengths)


def test_losses_are_means_over_real_tokens():
    torch.manual_seed(0)
    tokens, lengths, tags = synthetic_batch(4, seed=2)
    mask = tags != -100
    soft = BiLSTMTagger(VOCAB, 4, embed_dim=8, hidden_size=6)
    e = soft.emissions(tokens, lengths)
    torch.testing.assert_close(soft.loss(tokens, lengths, tags), F.cross_entropy(e.transpose(1, 2), tags))
    crf = BiLSTMTagger(VOCAB, 4, embed_dim=8, hidden_size=6, crf=True)
    e = crf.emissions(tokens, lengths)
    nll = crf.crf(e, tags, mask, reduction="none")
    torch.testing.assert_close(crf.loss(tokens, lengths, tags), nll.sum() / lengths.sum())
    # padded tags are never read: any value there gives the same loss
    other = tags.masked_fill(~mask, 0)
    torch.testing.assert_close(crf.loss(tokens, lengths, other), crf.loss(tokens, lengths, tags))
    torch.testing.assert_close(soft.loss(tokens, lengths, other), soft.loss(tokens, lengths, tags))


def token_accuracy(model, tokens, lengths, tags):
    predicted = model.predict(tokens, lengths)
    gold = [row[:n].tolist() for row, n in zip(tags, lengths.tolist())]
    return sum(p == g for ps, gs in zip(predicted, gold) for p, g in zip(ps, gs)) / int(lengths.sum())


@pytest.mark.parametrize("crf", [False, True])
def test_smoke_training_learns_synthetic_segmentation(crf):
    torch.manual_seed(0)
    model = BiLSTMTagger(VOCAB, 4, embed_dim=16, hidden_size=16, crf=crf)
    train, test = synthetic_batch(64, seed=3), synthetic_batch(64, seed=4)
    before = token_accuracy(model, *test)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    first = None
    for _ in range(60):
        loss = model.loss(*train)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        first = first if first is not None else loss.item()
    assert loss.item() < first / 5
    after = token_accuracy(model, *test)
    assert before < 0.7 and after > 0.97, (before, after)
    if crf:  # the learned transitions alone favour the BMES rules: B -> M/E over B -> B/S
        A = model.crf.transitions
        assert A[0, 2] > A[0, 0] and A[0, 2] > A[0, 3] and A[3, 0] > A[3, 1]


def test_constrained_crf_never_outputs_a_forbidden_transition():
    torch.manual_seed(0)
    model = BiLSTMTagger(VOCAB, 4, embed_dim=8, hidden_size=8, crf=True).eval()
    with torch.no_grad():
        model.out.weight.mul_(20)  # sharp, arbitrary emissions from an untrained model
    tokens = torch.randint(1, VOCAB, (200, 9))
    lengths = torch.randint(1, 10, (200,))
    tokens = tokens * (torch.arange(9) < lengths.unsqueeze(1))
    free = model.predict(tokens, lengths)
    assert sum(not valid_bmes(p) for p in free) > 50  # without the rules it breaks them
    model.crf.constrain(*allowed_transitions(BMES))
    constrained = model.predict(tokens, lengths)
    assert all(valid_bmes(p) for p in constrained)
    assert [len(p) for p in constrained] == lengths.tolist()
    # the constraint is not in the state dict: a fresh tagger loads it unchanged
    BiLSTMTagger(VOCAB, 4, embed_dim=8, hidden_size=8, crf=True).load_state_dict(model.state_dict())


def test_bad_inputs():
    model = BiLSTMTagger(VOCAB, 4, embed_dim=8, hidden_size=6, crf=True)
    tokens, lengths, tags = synthetic_batch(3, seed=5)
    with pytest.raises(ValueError, match="lengths"):
        model.predict(tokens, lengths[:2])
    with pytest.raises(ValueError, match="lengths"):
        model.predict(tokens, lengths.clamp(max=0))
    with pytest.raises(ValueError, match="lengths"):
        model.emissions(tokens, lengths + tokens.size(1))
    with pytest.raises(ValueError, match="tokens"):
        model.predict(tokens[0], lengths[:1])
    with pytest.raises(ValueError, match="tags"):
        model.loss(tokens, lengths, tags[:, :-1])
    with pytest.raises(ValueError, match="tags"):
        model.loss(tokens, lengths, tags.masked_fill(tags == 3, 4))
    with pytest.raises(ValueError, match="num_tags"):
        BiLSTMTagger(VOCAB, 1)
