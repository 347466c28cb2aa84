import pytest
import torch

from seqlab.data.batching import bucket_batches, length_mask, pad_sequences


def test_pad_sequences_and_mask():
    batch, lengths = pad_sequences([[5, 6, 7], [8], [9, 10]], pad_index=0)
    assert batch.tolist() == [[5, 6, 7], [8, 0, 0], [9, 10, 0]]
    assert lengths.tolist() == [3, 1, 2]
    assert length_mask(lengths).tolist() == [[True, True, True], [True, False, False], [True, True, False]]
    truncated, lengths = pad_sequences([[1, 2, 3, 4], [5]], max_len=2)
    assert truncated.tolist() == [[1, 2], [5, 0]] and lengths.tolist() == [2, 1]


@pytest.mark.parametrize("seqs, kwargs, message", [([], {}, "empty"), ([[1], []], {}, "at least one"),
                                                   ([[1]], {"max_len": 0}, "max_len")])
def test_bad_padding_input(seqs, kwargs, message):
    with pytest.raises(ValueError, match=message):
        pad_sequences(seqs, **kwargs)


def test_buckets_cover_everything_once_with_similar_lengths():
    lengths = [5, 1, 9, 2, 8, 3, 7]
    batches = list(bucket_batches(lengths, 2, generator=torch.Generator().manual_seed(0)))
    assert sorted(i for b in batches for i in b) == list(range(7))
    assert all(abs(lengths[b[0]] - lengths[b[-1]]) <= 2 for b in batches)
    with pytest.raises(ValueError, match="batch_size"):
        list(bucket_batches(lengths, 0))
