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


def test_shuffled_batches_cover_every_row_once_in_a_seeded_order():
    import pytest

    from seqlab.data.batching import shuffled_batches
    from seqlab.device import seed_everything

    x, y = torch.arange(10).float().unsqueeze(1), torch.arange(10)
    seed_everything(3)
    batches = shuffled_batches(x, y, batch_size=4)
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert sorted(torch.cat([b[1] for b in batches]).tolist()) == list(range(10))
    assert all(torch.equal(bx.squeeze(1).long(), by) for bx, by in batches)  # rows stay paired
    seed_everything(3)
    assert all(torch.equal(a[1], b[1]) for a, b in zip(batches, shuffled_batches(x, y, batch_size=4)))
    with pytest.raises(ValueError):
        shuffled_batches(x, y[:5], batch_size=4)
    with pytest.raises(ValueError):
        shuffled_batches(x, batch_size=0)
