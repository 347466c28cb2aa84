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


def test_bad_arguments():
    with pytest.raises(ValueError, match="recurrent"):
        SequenceClassifier(10, 4, 4, 2, recurrent="transformer")
    with pytest.raises(ValueError, match="num_classes"):
        SequenceClassifier(10, 4, 4, 1)
