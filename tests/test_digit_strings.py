"""Digit-string images for CTC: shapes, determinism, labels that match their source images, per-split sources."""

import pytest
import torch

from seqlab.baselines import SegmentAndClassify
from seqlab.data.digit_strings import (_resize, ctc_min_frames, digit_indices, digit_string_dataset,
                                       digit_string_splits, single_digits, trimmed)
from seqlab.data.digits import digit_splits, load_digits_raw
from seqlab.metrics import character_error_rate, exact_match


@pytest.fixture(scope="module")
def splits():
    return digit_string_splits(sizes=(300, 60, 100), seed=0)


def test_shapes_ranges_and_lengths(splits):
    for name, d in splits.items():
        n = len(d["labels"])
        assert d["images"].dtype == torch.float32 and d["images"].shape[:2] == (n, 8)
        assert d["widths"].dtype == torch.long and d["widths"].shape == (n,)
        assert d["images"].shape[2] == int(d["widths"].max())
        assert 0.0 <= float(d["images"].min()) and float(d["images"].max()) <= 1.0
        assert all(3 <= len(lab) <= 8 and all(0 <= x <= 9 for x in lab) for lab in d["labels"])
        assert {len(lab) for lab in d["labels"]} == set(range(3, 9))  # every length occurs
        for image, w in zip(d["images"], d["widths"]):
            assert float(image[:, w:].abs().sum()) == 0.0  # zero padding past the width


def test_deterministic_per_seed_and_different_across_seeds():
    a = digit_string_dataset(50, split="train", seed=3)
    b = digit_string_dataset(50, split="train", seed=3)
    c = digit_string_dataset(50, split="train", seed=4)
    assert torch.equal(a["images"], b["images"]) and a["labels"] == b["labels"] and a["sources"] == b["sources"]
    assert a["labels"] != c["labels"]


def test_labels_and_pixels_come_from_the_source_images(splits):
    raw, labels = load_digits_raw()
    d = splits["valid"]
    for image, lab, src, spans in zip(d["images"], d["labels"], d["sources"], d["spans"]):
        assert lab == [int(labels[i]) for i in src]
        for (a, b), i in zip(spans, src):
            assert torch.allclose(image[:, a:b], _resize(trimmed(raw[i] / 16.0), 8, b - a))
        gaps = [s2[0] - s1[1] for s1, s2 in zip(spans, spans[1:])]
        assert all(0 <= g <= 3 for g in gaps) and all(6 <= b - a <= 10 for a, b in spans)


def test_widths_are_ctc_feasible_without_downsampling(splits):
    assert ctc_min_frames([1, 1, 2]) == 4 and ctc_min_frames([3, 3, 3]) == 5 and ctc_min_frames([1, 2]) == 2
    for d in splits.values():
        assert all(int(w) >= ctc_min_frames(lab) for w, lab in zip(d["widths"], d["labels"]))


def test_each_split_uses_only_its_own_digit_images(splits):
    idx = digit_indices()
    assert set(idx["train"]).isdisjoint(idx["valid"]) and set(idx["train"]).isdisjoint(idx["test"])
    assert set(idx["valid"]).isdisjoint(idx["test"])
    assert sum(map(len, idx.values())) == 1797
    used = {name: {i for s in d["sources"] for i in s} for name, d in splits.items()}
    for name in used:
        assert used[name] <= set(idx[name])
    assert used["train"].isdisjoint(used["test"]) and used["train"].isdisjoint(used["valid"])
    # the same split as digit_splits(): its labels in the same order
    assert torch.equal(digit_splits().test[1], load_digits_raw()[1][torch.tensor(idx["test"])])


def test_height_16_doubles_every_size():
    d = digit_string_dataset(20, split="test", seed=1, height=16)
    assert d["images"].shape[1] == 16
    assert all(12 <= b - a <= 20 and (b - a) % 2 == 0 for spans in d["spans"] for a, b in spans)
    assert single_digits("test", height=16)[0].shape[1:] == (16, 16)


@pytest.mark.parametrize("kwargs, match", [
    ({"split": "dev"}, "split"), ({"split": "train", "min_digits": 0}, "min_digits"),
    ({"split": "train", "min_digits": 5, "max_digits": 4}, "min_digits"), ({"split": "train", "height": 12}, "height"),
    ({"split": "train", "gap": (2, 1)}, "gap"),
])
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        digit_string_dataset(5, **kwargs)


def test_segment_and_classify_reads_separated_digits_and_merges_touching_ones():
    x, y = single_digits("train")
    model = SegmentAndClassify().fit(x, y)
    apart = digit_string_dataset(100, split="test", seed=0, gap=(3, 3))
    hyp = model.predict(apart["images"], apart["widths"])
    apart_match = exact_match(hyp, apart["labels"])
    assert apart_match > 0.6 and character_error_rate(hyp, apart["labels"]) < 0.1
    touching = digit_string_dataset(100, split="test", seed=0, gap=(0, 0))
    hyp = model.predict(touching["images"], touching["widths"])
    fewer = sum(len(h) < len(r) for h, r in zip(hyp, touching["labels"]))
    assert fewer >= 20 and exact_match(hyp, touching["labels"]) < apart_match - 0.15  # touching digits merge
    with pytest.raises(ValueError, match="fit"):
        SegmentAndClassify().predict_one(apart["images"][0])
