"""Images of handwritten digit strings for CTC, strung together from scikit-learn's 8×8 digits.

Each example is a row of 3 to 8 digits (by default) drawn from :mod:`seqlab.data.digits`, so the
labels are exact and the whole set is built in a fraction of a second, offline. How a string is
drawn:

1. **Digits of one split only.** The 1,797 images are split once by the same seeded hash as
   :func:`seqlab.data.digits.digit_splits` (70 / 10 / 20 %); the strings of the ``"test"`` split
   are composed only of test images, so no test digit image is ever seen in training. Within a
   split the images are drawn uniformly with replacement.
2. **Each digit trimmed, then resized in width.** The blank columns at a source image's left
   and right edges are cut off (99 % of the images have a blank first column, 88 % a blank last
   one; the ink is 6 columns wide in 77 % of them), so that the gaps below are the true distance
   between two digits. The ink is then resized by bilinear interpolation to a width drawn from
   ``digit_width`` (6 to 10 columns by default), so a model cannot count digits by counting
   columns. With ``height=16`` every size is
   doubled (the 8×8 digit becomes 16 × 12–20), which gives a convolutional front end room for a
   stride of 2 or 4 while the string stays feasible for CTC. The default is ``height=8``: one
   column of 8 pixels is then one time step of a recurrent model, the smallest honest input.
3. **Gaps and padding.** Between two digits 0 to 3 blank columns (``gap``, uniform), before the
   first and after the last 0 to 4 (``pad``), scaled with the height. A gap of 0 makes the two
   digits touch: no blank column separates them, the case a segment-then-classify baseline
   (:class:`seqlab.baselines.SegmentAndClassify`) cannot handle and CTC can. With ``trim=False``
   the source images keep their blank edges and touching digits become rare.
4. **Pixels in [0, 1]** (the source's 0–16 divided by 16), images padded with zeros on the right
   to the widest one of the set; ``widths`` gives each image's true width.

A CTC model whose output has one frame per ``downsample`` columns needs
``width // downsample >= len(label) + number of equal neighbours`` (a blank must separate two
equal labels); with digits at least 6 columns wide this holds for every downsampling factor up
to 3, and for 4 whenever the label has no equal neighbours (:func:`ctc_min_frames`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from seqlab.data.digits import FRACTIONS, load_digits_raw
from seqlab.data.splits import SPLITS, split_by_hash

DIGIT_WIDTH = (6, 10)  # columns at height 8, both ends included
GAP = (0, 3)
PAD = (0, 4)
DEFAULT_SIZES = (4000, 500, 1000)


def digit_indices(fractions: tuple[float, float, float] = FRACTIONS) -> dict[str, list[int]]:
    """The indices (into :func:`seqlab.data.digits.load_digits_raw`) of each split's digit images,
    the same split as :func:`seqlab.data.digits.digit_splits`."""
    _, labels = load_digits_raw()
    return split_by_hash(list(range(len(labels))), key=lambda i: f"digit-{i}", fractions=fractions)


def ctc_min_frames(label: Sequence[int]) -> int:
    """The fewest output frames CTC needs for ``label``: its length plus one blank between each pair
    of equal neighbours (``[1, 1, 2]`` → 4)."""
    return len(label) + sum(a == b for a, b in zip(label, label[1:]))


def _check_range(name: str, value: tuple[int, int], low: int) -> tuple[int, int]:
    if len(value) != 2 or value[0] < low or value[0] > value[1]:
        raise ValueError(f"{name} must be (min, max) with {low} <= min <= max, got {value}")
    return int(value[0]), int(value[1])


def trimmed(image: torch.Tensor) -> torch.Tensor:
    """An (H, W) image without its all-zero columns at the left and right edges (unchanged if blank)."""
    ink = (image > 0).any(0).nonzero().flatten()
    return image[:, int(ink[0]): int(ink[-1]) + 1] if len(ink) else image


def _resize(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """One (h, w) image in [0, 1] → (height, width), bilinear (identity when the size is unchanged)."""
    if image.shape == (height, width):
        return image
    out = F.interpolate(image[None, None], size=(height, width), mode="bilinear", align_corners=False)
    return out[0, 0].clamp_(0.0, 1.0)


def digit_string_dataset(
    n: int,
    *,
    split: str,
    min_digits: int = 3,
    max_digits: int = 8,
    seed: int = 0,
    height: int = 8,
    digit_width: tuple[int, int] = DIGIT_WIDTH,
    gap: tuple[int, int] = GAP,
    pad: tuple[int, int] = PAD,
    trim: bool = True,
) -> dict:
    """``n`` digit-string images composed from the digit images of ``split`` (``"train"``,
    ``"valid"`` or ``"test"``), the same for the same arguments.

    Returns a dict:

    * ``images``: ``(n, height, W_max)`` float32 in [0, 1], zero-padded on the right;
    * ``widths``: ``(n,)`` int64, each image's width before padding;
    * ``labels``: ``list[list[int]]``, the digits 0–9 from left to right;
    * ``sources``: ``list[list[int]]``, the index of each digit's source image in
      :func:`seqlab.data.digits.load_digits_raw`;
    * ``spans``: ``list[list[tuple[int, int]]]``, each digit's columns ``[start, end)``.

    ``digit_width``, ``gap`` and ``pad`` are (min, max) column counts at height 8, both ends
    included; at another ``height`` (a multiple of 8) they are scaled by ``height // 8``.
    ``trim`` cuts each source image's blank edge columns before resizing (see the module docstring).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 1 <= min_digits <= max_digits:
        raise ValueError(f"need 1 <= min_digits <= max_digits, got {min_digits} and {max_digits}")
    if height < 8 or height % 8:
        raise ValueError(f"height must be a positive multiple of 8 (8, 16, ...), got {height}")
    scale = height // 8
    digit_width = _check_range("digit_width", digit_width, 1)
    gap, pad = _check_range("gap", gap, 0), _check_range("pad", pad, 0)

    raw, all_labels = load_digits_raw()
    raw = raw / 16.0  # (1797, 8, 8) in [0, 1]
    pool = np.array(digit_indices()[split])
    rng = np.random.default_rng([int(seed), SPLITS.index(split)])

    columns_list, labels, sources, spans = [], [], [], []
    for _ in range(n):
        k = int(rng.integers(min_digits, max_digits + 1))
        chosen = pool[rng.integers(0, len(pool), size=k)].tolist()
        widths = rng.integers(digit_width[0], digit_width[1] + 1, size=k) * scale
        gaps = rng.integers(gap[0], gap[1] + 1, size=k - 1) * scale
        left, right = (rng.integers(pad[0], pad[1] + 1, size=2) * scale).tolist()
        parts, span, x = [torch.zeros(height, left)], [], left
        for j, (index, w) in enumerate(zip(chosen, widths.tolist())):
            if j:
                parts.append(torch.zeros(height, int(gaps[j - 1])))
                x += int(gaps[j - 1])
            parts.append(_resize(trimmed(raw[index]) if trim else raw[index], height, w))
            span.append((x, x + w))
            x += w
        parts.append(torch.zeros(height, right))
        columns_list.append(torch.cat(parts, dim=1))
        labels.append([int(all_labels[i]) for i in chosen])
        sources.append(chosen)
        spans.append(span)

    widths_t = torch.tensor([c.shape[1] for c in columns_list], dtype=torch.long)
    w_max = int(widths_t.max()) if n else 0
    images = torch.zeros(n, height, w_max)
    for i, c in enumerate(columns_list):
        images[i, :, : c.shape[1]] = c
    return {"images": images, "widths": widths_t, "labels": labels, "sources": sources, "spans": spans}


def digit_string_splits(sizes: tuple[int, int, int] = DEFAULT_SIZES, seed: int = 0, **kwargs) -> dict[str, dict]:
    """``{"train": ..., "valid": ..., "test": ...}``, each a :func:`digit_string_dataset` of the
    given size (default 4,000 / 500 / 1,000) built from that split's digit images only.
    ``kwargs`` (``min_digits``, ``height``, ...) go to every split."""
    if len(sizes) != 3 or any(s is None or s < 0 for s in sizes):
        raise ValueError(f"sizes must be three non-negative integers (train, valid, test), got {sizes}")
    return {name: digit_string_dataset(size, split=name, seed=seed, **kwargs) for name, size in zip(SPLITS, sizes)}


def single_digits(split: str, height: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """The split's single digit images ``(N, height, 8 * height // 8)`` in [0, 1] and labels ``(N,)``,
    for training a per-digit classifier on exactly the images the split's strings are made of."""
    raw, labels = load_digits_raw()
    idx = torch.tensor(digit_indices()[split], dtype=torch.long)
    images = raw[idx] / 16.0
    if height != 8:
        images = F.interpolate(images[:, None], size=(height, height), mode="bilinear", align_corners=False)[:, 0]
    return images.clamp(0.0, 1.0), labels[idx]
