"""國字數字 ↔ 阿拉伯數字: integers paired with how they are written in Chinese characters.

A seq2seq task with an exact answer and a length we control. Each pair is labelled by
`cn2an <https://github.com/Ailln/cn2an>`_ (``cn2an.an2cn``) and converted to Traditional
characters with OpenCC ``s2t``; every pair is checked by reading it back with ``cn2an.cn2an``.
Two forms:

* 小寫 (everyday numerals), ``upper=False``: 12005 → 一萬二千零五
* 大寫 (financial numerals, on cheques and contracts), ``upper=True``: 12005 → 壹萬貳仟零伍

cn2an's conventions, which a model must learn (they are the labels):

* 10–19 at the head of a number or of a 萬/億 group drop the 一 in 小寫 (10 → 十, 12 → 十二,
  110000 → 十一萬) but keep it inside a number (110 → 一百一十, 1010 → 一千零一十);
  大寫 always writes it (10 → 壹拾).
* Digits come in groups of four (個, 萬, 億). Inside a group one 零 stands for a run of zeros
  between nonzero digits (1005 → 一千零五); a lower group that starts with a zero gets a 零 in
  front (10005 → 一萬零五, 100010000 → 一億零一萬, 100000010 → 一億零一十), one that starts with
  a nonzero digit does not (101000 → 十萬一千). Trailing zeros are silent (2000000 → 二百萬);
  0 alone is 零.
* 2 is always 二 (二百, 二千, 二萬), never 兩 as in speech (兩百, 兩千, 兩萬).
* 大寫 digits in Traditional form: 壹貳叄肆伍陸柒捌玖, units 拾佰仟萬億. Three is 叄 (OpenCC's
  ``s2t`` of 叁), not the 參 common on Taiwanese cheques, because cn2an reads 叄 and not 參.

Numbers are drawn so that every digit count from 1 to ``max_digits`` is about equally common
(a uniform draw from 1..10⁹ would be 90 % nine-digit numbers), so accuracy can be reported by
length. Only 10 one-digit and 90 two-digit numbers exist, so those lengths are capped at what
exists and the rest is shared among the longer ones.
"""

from __future__ import annotations

import random

MAX_DIGITS = 16  # cn2an's limit
SIMPLIFIED_ONLY = set("万亿贰叁陆两")  # what cn2an writes and Traditional text never has


def _traditional(text: str) -> str:
    from seqlab.text import to_traditional

    return to_traditional(text, "s2t")


def to_chinese(number: int, upper: bool = False) -> str:
    """cn2an's reading of ``number`` in Traditional characters: 12005 → 一萬二千零五 (壹萬貳仟零伍 if ``upper``).

    Raises ValueError if cn2an does not read its own output back as ``number``.
    """
    import cn2an

    if not 0 <= number < 10**MAX_DIGITS:
        raise ValueError(f"number must be in 0..{10**MAX_DIGITS - 1}, got {number}")
    chinese = _traditional(cn2an.an2cn(number, "up" if upper else "low"))
    if cn2an.cn2an(chinese, "strict") != number:
        raise ValueError(f"cn2an reads {chinese!r} back as {cn2an.cn2an(chinese, 'strict')}, not {number}")
    return chinese


def length_quotas(n: int, max_digits: int) -> list[int]:
    """How many numbers of each digit count 1..max_digits: equal shares, capped at how many such
    numbers exist (10 with one digit, counting 0; 90 with two; ...), the surplus shared by the rest."""
    available = [10] + [9 * 10 ** (d - 1) for d in range(2, max_digits + 1)]
    if n > sum(available):
        raise ValueError(f"n={n} is more than the {sum(available):,} integers with at most {max_digits} digits")
    quotas, left, open_ = [0] * max_digits, n, list(range(max_digits))
    while left > 0:
        share, extra = divmod(left, len(open_))
        for rank, d in enumerate(list(open_)):
            take = min(share + (rank < extra), available[d] - quotas[d])
            quotas[d] += take
            left -= take
            if quotas[d] == available[d]:
                open_.remove(d)
    return quotas


def numeral_pairs(n: int, *, seed: int = 0, max_digits: int = 9, upper_fraction: float = 0.5) -> list[dict]:
    """``n`` distinct integers with their Chinese numerals, in a seeded random order.

    Returns dicts ``{"arabic": "12005", "chinese": "一萬二千零五", "upper": False}``; ``upper`` is
    True for the 大寫 form (壹萬貳仟零伍), drawn with probability ``upper_fraction``. Digit
    counts 1..``max_digits`` are about equally common (see :func:`length_quotas`). For the
    arabic → chinese direction the model needs to be told which form to write: give it
    ``upper`` as a first input token.
    """
    if not 1 <= max_digits <= MAX_DIGITS:
        raise ValueError(f"max_digits must be in 1..{MAX_DIGITS}, got {max_digits}")
    if not 0.0 <= upper_fraction <= 1.0:
        raise ValueError(f"upper_fraction must be in [0, 1], got {upper_fraction}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(seed)
    numbers = []
    for d, k in enumerate(length_quotas(n, max_digits), start=1):
        low = 0 if d == 1 else 10 ** (d - 1)
        numbers += rng.sample(range(low, 10**d), k)
    rng.shuffle(numbers)
    pairs = []
    for number in numbers:
        upper = rng.random() < upper_fraction
        pairs.append({"arabic": str(number), "chinese": to_chinese(number, upper), "upper": upper})
    return pairs


def numeral_splits(
    sizes: tuple[int, int, int] = (6000, 500, 1000),
    *,
    seed: int = 0,
    max_digits: int = 9,
    upper_fraction: float = 0.5,
) -> dict[str, list[dict]]:
    """``{"train", "valid", "test"}`` lists of :func:`numeral_pairs` with the given sizes and no
    integer in two splits. Every split has about the same mix of lengths and forms (one pool,
    drawn once, is cut into three); the default sizes train a small CPU model in about 30 s."""
    if len(sizes) != 3 or any(s < 0 for s in sizes):
        raise ValueError(f"sizes must be three non-negative integers (train, valid, test), got {sizes}")
    n_train, n_valid, n_test = sizes
    pool = numeral_pairs(n_train + n_valid + n_test, seed=seed, max_digits=max_digits, upper_fraction=upper_fraction)
    return {"train": pool[:n_train], "valid": pool[n_train:n_train + n_valid], "test": pool[n_train + n_valid:]}
