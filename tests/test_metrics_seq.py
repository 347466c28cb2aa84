"""Perplexity, edit distance / CER, exact match, and chrF / BLEU through sacrebleu."""

import math
import random

import numpy as np
import pytest
import torch

from seqlab.metrics import bleu, character_error_rate, chrf, edit_distance, exact_match, perplexity

Levenshtein = pytest.importorskip("rapidfuzz.distance").Levenshtein
sacrebleu_metrics = pytest.importorskip("sacrebleu.metrics")

ALPHABET = "天地玄黃宇宙洪荒日月ab ，"


def random_strings(rng, n, max_len=12):
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, max_len))) for _ in range(n)]


def test_perplexity_is_exp_and_overflow_safe():
    assert perplexity(0.0) == 1.0
    assert perplexity(math.log(50)) == pytest.approx(50)
    assert perplexity(np.float64(2.0)) == pytest.approx(math.exp(2.0))
    assert perplexity(torch.tensor(1.5)) == pytest.approx(math.exp(1.5))
    assert perplexity(1e4) == math.inf  # math.exp(1e4) would raise OverflowError
    assert math.isnan(perplexity(math.nan))


def test_edit_distance_small_cases():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == edit_distance("abc", "") == 3
    assert edit_distance("", "") == 0
    assert edit_distance("今天天氣很好", "今天天氣好") == 1  # one deletion
    assert edit_distance(["李鵬", "會見", "外賓"], ["李鵬", "接見", "外賓"]) == 1  # tokens, not characters
    assert edit_distance((1, 2, 3), (3, 2, 1)) == 2


def test_edit_distance_matches_rapidfuzz_on_random_strings():
    rng = random.Random(0)
    for a, b in zip(random_strings(rng, 300), random_strings(rng, 300)):
        assert edit_distance(a, b) == Levenshtein.distance(a, b), (a, b)
        assert edit_distance(a, b) == edit_distance(b, a)
    words = [["w" + str(rng.randint(0, 4)) for _ in range(rng.randint(0, 8))] for _ in range(100)]
    for a, b in zip(words, words[1:]):
        assert edit_distance(a, b) == Levenshtein.distance(a, b)


def test_corpus_cer_is_total_edits_over_total_reference_characters():
    rng = random.Random(1)
    hyps = random_strings(rng, 50)
    refs = [r or "空" for r in random_strings(rng, 50)]  # references must not be empty
    expected = sum(Levenshtein.distance(h, r) for h, r in zip(hyps, refs)) / sum(len(r) for r in refs)
    assert character_error_rate(hyps, refs) == pytest.approx(expected)
    per = character_error_rate(hyps, refs, per_sentence=True)
    assert per == pytest.approx([Levenshtein.distance(h, r) / len(r) for h, r in zip(hyps, refs)])
    # corpus CER weighs long sentences more: it is not the mean of the sentence rates
    assert character_error_rate(["ab", "x"], ["ab", "abcdefgh"]) == pytest.approx(8 / 10)
    assert np.mean(character_error_rate(["ab", "x"], ["ab", "abcdefgh"], per_sentence=True)) == pytest.approx(0.5)
    assert character_error_rate(["今天很好"], ["今天很好"]) == 0.0
    assert character_error_rate(["今天天天天天很好"], ["今天"]) == 3.0  # can exceed 1


def test_exact_match():
    assert exact_match(["一二三", "四", "五"], ["一二三", "四", "六"]) == pytest.approx(2 / 3)
    assert exact_match([["李鵬", "會見"]], [("李鵬", "會見")]) == 1.0


def test_chrf_and_bleu_equal_sacrebleu_and_span_0_to_100():
    hyps = ["今天天氣很好，我們去公園散步。", "李鵬會見日本客人", "全國職工歡度新年"]
    refs = ["今天天氣不錯，我們去公園走走。", "李鵬會見日本外賓", "首都職工歡度新年"]
    assert chrf(hyps, refs) == pytest.approx(sacrebleu_metrics.CHRF().corpus_score(hyps, [refs]).score)
    assert bleu(hyps, refs) == pytest.approx(sacrebleu_metrics.BLEU(tokenize="zh").corpus_score(hyps, [refs]).score)
    assert 0 < bleu(hyps, refs) < 100 and 0 < chrf(hyps, refs) < 100
    assert isinstance(chrf(hyps, refs), float) and isinstance(bleu(hyps, refs), float)
    assert chrf(refs, refs) == pytest.approx(100) and bleu(refs, refs) == pytest.approx(100)
    disjoint = ["甲乙丙丁戊己庚辛", "子丑寅卯辰巳午未", "赤橙黃綠藍靛紫黑"]
    assert chrf(disjoint, refs) == pytest.approx(0, abs=1e-9) and bleu(disjoint, refs) == pytest.approx(0, abs=1e-9)


def test_bleu_zh_splits_chinese_characters():
    # with the zh tokenizer every character is a token; 13a would see each unsegmented sentence as one word
    hyps, refs = ["李鵬會見日本客人"], ["李鵬會見日本外賓"]
    assert bleu(hyps, refs) > 50
    assert bleu(hyps, refs, tokenize="13a") == pytest.approx(0, abs=1e-9)


@pytest.mark.parametrize("metric", [character_error_rate, exact_match, chrf, bleu])
def test_corpus_metrics_refuse_mismatched_lengths_and_bare_strings(metric):
    with pytest.raises(ValueError, match="2 hypotheses and 1 references"):
        metric(["一", "二"], ["一"])
    with pytest.raises(ValueError, match="list of sentences"):
        metric("一二", "一二")
    with pytest.raises(ValueError, match="empty"):
        metric([], [])


def test_cer_refuses_empty_reference():
    with pytest.raises(ValueError, match="reference"):
        character_error_rate(["a"], [""])


# Word segmentation: BMES <-> words, spans, SIGHAN-style P/R/F1

import itertools  # noqa: E402

from seqlab.metrics import bmes_to_words, segmentation_prf, word_spans, words_to_bmes  # noqa: E402


def test_words_to_bmes_and_back():
    words = ["中國", "經濟", "發展", "了", "人民代表"]
    tags = words_to_bmes(words)
    assert tags == ["B", "E", "B", "E", "B", "E", "S", "B", "M", "M", "E"]
    assert words_to_bmes(["共產黨"]) == ["B", "M", "E"]
    assert bmes_to_words("".join(words), tags) == words
    assert bmes_to_words(list("".join(words)), tags) == words  # a list of characters works too
    assert words_to_bmes([]) == [] and bmes_to_words("", []) == []


def test_bmes_round_trip_on_random_segmentations():
    rng = random.Random(2)
    chars = "天地玄黃宇宙洪荒日月盈昃"
    for _ in range(300):
        words = ["".join(rng.choice(chars) for _ in range(rng.randint(1, 5))) for _ in range(rng.randint(0, 8))]
        tags = words_to_bmes(words)
        assert len(tags) == len("".join(words))
        assert bmes_to_words("".join(words), tags) == words


def test_bmes_to_words_decodes_invalid_tags_by_its_rule():
    # a B or S starts a word, E or S ends it, any tag after an ended word starts a new one
    assert bmes_to_words("甲乙", ["B", "B"]) == ["甲", "乙"]
    assert bmes_to_words("甲乙丙", ["S", "M", "E"]) == ["甲", "乙丙"]
    assert bmes_to_words("甲乙", ["B", "S"]) == ["甲", "乙"]
    assert bmes_to_words("甲乙丙", ["E", "E", "M"]) == ["甲", "乙", "丙"]
    assert bmes_to_words("甲乙丙", ["M", "M", "B"]) == ["甲乙", "丙"]  # an M at the start starts a word
    assert bmes_to_words("甲乙", ["B", "M"]) == ["甲乙"]  # an open word is closed at the end
    for tags in itertools.product("BMES", repeat=4):  # every sequence keeps every character, in order
        assert "".join(bmes_to_words("甲乙丙丁", list(tags))) == "甲乙丙丁"


def test_bmes_to_words_refuses_bad_input():
    with pytest.raises(ValueError, match="chars and tags"):
        bmes_to_words("甲乙", ["S"])
    with pytest.raises(ValueError, match="tags.*'I'"):
        bmes_to_words("甲乙", ["B", "I"])
    with pytest.raises(ValueError, match="words.*empty"):
        words_to_bmes(["甲", ""])
    with pytest.raises(ValueError, match="one string"):
        words_to_bmes("中國經濟")


def test_word_spans():
    assert word_spans(["中國", "經濟", "發展"]) == {(0, 2), (2, 4), (4, 6)}
    assert word_spans(["中國經濟", "發展"]) == {(0, 4), (4, 6)}
    assert word_spans(["的", "的", "的"]) == {(0, 1), (1, 2), (2, 3)}  # repeats counted per place
    assert word_spans([]) == set()
    with pytest.raises(ValueError, match="empty"):
        word_spans(["中國", ""])


def test_segmentation_prf_hand_examples():
    gold = [["中國", "經濟", "發展"]]
    # only 發展 has the same span: 1 of 2 predicted words, 1 of 3 gold words
    scores = segmentation_prf([["中國經濟", "發展"]], gold)
    assert scores == pytest.approx({"precision": 1 / 2, "recall": 1 / 3, "f1": 2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3)})
    scores = segmentation_prf([["中國", "經濟發展"]], gold)
    assert scores["precision"] == pytest.approx(1 / 2) and scores["recall"] == pytest.approx(1 / 3)
    assert segmentation_prf(gold, gold) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    # over-splitting: every character a word; 4 predicted, 2 gold words, none shared
    zero = {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert segmentation_prf([["北", "京", "大", "學"]], [["北京", "大學"]]) == zero
    # a word string that is right at the wrong place is not a match
    assert segmentation_prf([["的的", "的"]], [["的", "的的"]])["precision"] == 0.0


def test_segmentation_prf_sums_counts_over_the_corpus():
    predicted = [["中國經濟", "發展"], ["我", "愛", "北京"], ["好"]]
    gold = [["中國", "經濟", "發展"], ["我", "愛", "北", "京"], ["好"]]
    correct, n_pred, n_gold = 1 + 2 + 1, 2 + 3 + 1, 3 + 4 + 1
    p, r = correct / n_pred, correct / n_gold
    assert segmentation_prf(predicted, gold) == pytest.approx({"precision": p, "recall": r, "f1": 2 * p * r / (p + r)})
    # not the mean of per-sentence scores: the long sentences weigh more
    per_sentence = [segmentation_prf([a], [b])["precision"] for a, b in zip(predicted, gold)]
    assert p != pytest.approx(sum(per_sentence) / 3)


def test_segmentation_prf_refuses_bad_input():
    with pytest.raises(ValueError, match="sentence 0 differs"):
        segmentation_prf([["中國", "經濟"]], [["中國", "經濟", "發展"]])
    with pytest.raises(ValueError, match="sentence by sentence"):
        segmentation_prf([["中國"]], [["中國"], ["經濟"]])
    with pytest.raises(ValueError, match="predicted must be a list of sentences"):
        segmentation_prf(["中國", "經濟"], [["中國"], ["經濟"]])
    with pytest.raises(ValueError, match="gold must be a list of sentences"):
        segmentation_prf([["中國"]], "中國")
    with pytest.raises(ValueError, match="no words"):
        segmentation_prf([[]], [[]])
