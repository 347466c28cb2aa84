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


def test_lm_batch_shifts_by_one_and_pads_both_sides():
    from seqlab.data.batching import LMBatch, make_lm_batch

    batch = make_lm_batch([[1, 5, 6, 2], [1, 7, 2]], pad_index=0)  # <bos>=1, <eos>=2
    assert isinstance(batch, LMBatch)
    assert batch.inputs.tolist() == [[1, 5, 6], [1, 7, 2]]
    assert batch.targets.tolist() == [[5, 6, 2], [7, 2, 0]]
    inputs, targets = batch  # still a tuple: model.loss(*batch) works
    assert torch.equal(inputs, batch.inputs) and torch.equal(targets, batch.targets)
    with pytest.raises(ValueError, match="at least 2"):
        make_lm_batch([[1, 2], [1]])


def reference_poem_batches(poems, batch_size, pad_index, shuffle=True, seed=0, epochs=2):
    # the PoemBatches / TitleBatches loop that lessons 3.3 and 3.4 defined before the package had it
    generator = torch.Generator().manual_seed(seed)
    lengths = [len(ids) for ids in poems]
    out = []
    for _ in range(epochs):
        for idx in bucket_batches(lengths, batch_size, shuffle, generator):
            x, _ = pad_sequences([poems[i] for i in idx], pad_index=pad_index)
            out.append((x[:, :-1], x[:, 1:]))
    return out


@pytest.mark.parametrize("shuffle", [True, False])
def test_language_model_batches_match_the_lessons_loop_epoch_after_epoch(shuffle):
    from seqlab.data.batching import LanguageModelBatches

    g = torch.Generator().manual_seed(1)
    seqs = [[1] + torch.randint(4, 30, (int(n),), generator=g).tolist() + [2]
            for n in torch.randint(1, 12, (23,), generator=g)]
    batches = LanguageModelBatches(seqs, 4, pad_index=0, shuffle=shuffle, seed=5)
    assert len(batches) == 6
    got = list(batches) + list(batches)  # two epochs from one object
    expected = reference_poem_batches(seqs, 4, 0, shuffle=shuffle, seed=5)
    assert len(got) == len(expected) == 12
    for (x, y), (ex, ey) in zip(got, expected):
        assert torch.equal(x, ex) and torch.equal(y, ey)
    first, second = got[:6], got[6:]
    same_order = all(torch.equal(a.inputs, b.inputs) for a, b in zip(first, second))
    assert same_order is (not shuffle)  # a new order every epoch only when shuffling
    if not shuffle:  # evaluation order: shortest first
        assert [b.inputs.size(1) for b in first] == sorted(b.inputs.size(1) for b in first)
    n_targets = sum(int((b.targets != 0).sum()) for b in first)
    assert n_targets == sum(len(s) - 1 for s in seqs)  # every target exactly once


@pytest.mark.parametrize("kwargs, message", [({"batch_size": 0}, "batch_size"), ({"sequences": []}, "empty")])
def test_language_model_batches_bad_input(kwargs, message):
    from seqlab.data.batching import LanguageModelBatches

    args = {"sequences": [[1, 2]], "batch_size": 2} | kwargs
    with pytest.raises(ValueError, match=message):
        LanguageModelBatches(args["sequences"], args["batch_size"])


BOS, EOS, PAD = 1, 2, 0


def test_make_seq2seq_batch_shapes_and_shift():
    from seqlab.data.batching import Seq2SeqBatch, make_seq2seq_batch

    pairs = [([5, 6, 7], [8, 9]), ([10], [11, 12, 13]), ([14, 15], [])]
    b = make_seq2seq_batch(pairs, bos_index=BOS, eos_index=EOS, pad_index=PAD)
    assert isinstance(b, Seq2SeqBatch) and b._fields == ("src", "src_lengths", "tgt_in", "tgt_out")
    assert b.src.tolist() == [[5, 6, 7], [10, 0, 0], [14, 15, 0]]
    assert b.src_lengths.tolist() == [3, 1, 2]
    assert b.tgt_in.tolist() == [[1, 8, 9, 0], [1, 11, 12, 13], [1, 0, 0, 0]]
    assert b.tgt_out.tolist() == [[8, 9, 2, 0], [11, 12, 13, 2], [2, 0, 0, 0]]
    assert b.tgt_in.shape == b.tgt_out.shape
    assert b.src.dtype == b.tgt_in.dtype == torch.long


@pytest.mark.parametrize("pairs, message", [([], "empty"), ([([], [3])], "empty source"), ([([3],)], "pair")])
def test_make_seq2seq_batch_bad_input(pairs, message):
    from seqlab.data.batching import make_seq2seq_batch

    with pytest.raises(ValueError, match=message):
        make_seq2seq_batch(pairs, bos_index=BOS, eos_index=EOS)


def random_pairs(n=37, seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 15, (n, 2), generator=g).tolist()
    return [(torch.randint(3, 50, (s,), generator=g).tolist(), torch.randint(3, 50, (t,), generator=g).tolist())
            for s, t in lengths]


@pytest.mark.parametrize("bucket", [True, False])
@pytest.mark.parametrize("shuffle", [True, False])
def test_seq2seq_batches_cover_every_pair_once(bucket, shuffle):
    from seqlab.data.batching import seq2seq_batches

    pairs = random_pairs()
    batches = seq2seq_batches(pairs, 8, bos_index=BOS, eos_index=EOS, shuffle=shuffle, bucket=bucket,
                              generator=torch.Generator().manual_seed(0))
    assert [len(b.src) for b in batches].count(8) == 4 and sum(len(b.src) for b in batches) == 37
    seen = sorted((tuple(b.src[k, :n].tolist()), tuple(b.tgt_out[k][b.tgt_out[k] != PAD][:-1].tolist()))
                  for b in batches for k, n in enumerate(b.src_lengths.tolist()))
    assert seen == sorted((tuple(s), tuple(t)) for s, t in pairs)  # every pair once, source and target together
    if bucket:  # lengths sorted before cutting: batches do not overlap in source length
        spans = sorted((int(b.src_lengths.min()), int(b.src_lengths.max())) for b in batches)
        assert all(hi <= lo_next for (_, hi), (lo_next, _) in zip(spans, spans[1:]))
    if not shuffle and not bucket:
        assert batches[0].src[0, : len(pairs[0][0])].tolist() == pairs[0][0]


def test_seq2seq_batches_are_reproducible_with_a_generator():
    from seqlab.data.batching import seq2seq_batches

    pairs = random_pairs()

    def make(seed):
        return seq2seq_batches(pairs, 8, bos_index=BOS, eos_index=EOS, generator=torch.Generator().manual_seed(seed))

    a, b, c = make(0), make(0), make(1)
    assert all(torch.equal(x.src, y.src) and torch.equal(x.tgt_in, y.tgt_in) for x, y in zip(a, b))
    assert not all(x.src.shape == y.src.shape and torch.equal(x.src, y.src) for x, y in zip(a, c))
    with pytest.raises(ValueError, match="batch_size"):
        seq2seq_batches(pairs, 0, bos_index=BOS, eos_index=EOS)
