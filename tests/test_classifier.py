"""SequenceClassifier: padding changes neither the logits nor the gradients, and seqlab's layers give
the built-in's logits and gradients with the same weights; bad arguments are refused."""

import pytest
import torch

from seqlab.data.batching import pad_sequences
from seqlab.nn.classifier import SequenceClassifier


@pytest.mark.parametrize("recurrent", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_does_not_change_the_prediction_and_builtin_agrees(recurrent, bidirectional):
    torch.manual_seed(0)
    ours = SequenceClassifier(20, 5, 6, 3, recurrent=recurrent, num_layers=2, bidirectional=bidirectional)
    builtin = SequenceClassifier(20, 5, 6, 3, recurrent=recurrent, num_layers=2, builtin=True,
                                 bidirectional=bidirectional)
    builtin.load_state_dict(ours.state_dict())  # the whole model: recurrent weights have torch's names
    ours.eval(), builtin.eval()
    seqs = [[4, 5, 6, 7, 8], [9, 10], [11, 12, 13]]
    tokens, lengths = pad_sequences(seqs)
    batch_logits = ours(tokens, lengths)
    assert batch_logits.shape == (3, 3)
    for b, seq in enumerate(seqs):
        alone = ours(torch.tensor([seq]), torch.tensor([len(seq)]))
        torch.testing.assert_close(batch_logits[b : b + 1], alone)
    torch.testing.assert_close(builtin(tokens, lengths), batch_logits)


def _grads(model):
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("recurrent", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_gradients_match_the_builtin_and_ignore_padding(recurrent, bidirectional):
    """The gradients of every parameter (embedding, recurrent layer, output layer) agree with the
    built-in's, and a padded batch's gradient is the sum of each sequence's gradient alone."""
    torch.manual_seed(1)
    kwargs = dict(recurrent=recurrent, num_layers=2, bidirectional=bidirectional)
    ours = SequenceClassifier(20, 5, 6, 3, **kwargs).double()
    builtin = SequenceClassifier(20, 5, 6, 3, builtin=True, **kwargs).double()
    builtin.load_state_dict(ours.state_dict())
    seqs = [[4, 5, 6, 7, 8], [9, 10], [11, 12, 13]]
    tokens, lengths = pad_sequences(seqs)
    targets = torch.tensor([0, 2, 1])
    loss = lambda model, t, n, y: torch.nn.functional.cross_entropy(model(t, n), y, reduction="sum")  # noqa: E731
    loss(ours, tokens, lengths, targets).backward()
    loss(builtin, tokens, lengths, targets).backward()
    g_ours, g_builtin = _grads(ours), _grads(builtin)
    assert g_ours.keys() == g_builtin.keys() == {name for name, _ in ours.named_parameters()}
    for name, g in g_builtin.items():
        torch.testing.assert_close(g_ours[name], g, msg=name)
    assert g_ours["embedding.weight"][0].abs().sum() == 0  # the padding row gets no gradient
    ours.zero_grad()
    for b, seq in enumerate(seqs):  # one at a time, unpadded: the gradients add up to the batch's
        loss(ours, torch.tensor([seq]), torch.tensor([len(seq)]), targets[b : b + 1]).backward()
    for name, g in _grads(ours).items():
        torch.testing.assert_close(g, g_ours[name], msg=name)


def test_bad_arguments():
    with pytest.raises(ValueError, match="recurrent"):
        SequenceClassifier(10, 4, 4, 2, recurrent="transformer")
    with pytest.raises(ValueError, match="num_classes"):
        SequenceClassifier(10, 4, 4, 1)
