import pytest

from seqlab.text import SPECIALS, Vocab, char_tokenize, jieba_tokenize, normalize, to_traditional


def test_specials_come_first_at_fixed_indices():
    v = Vocab.build([["貓", "說", "喵"], ["狗", "說", "汪"]])
    assert v.itos[:4] == list(SPECIALS) == ["<pad>", "<bos>", "<eos>", "<unk>"]
    assert (v.pad_index, v.bos_index, v.eos_index, v.unk_index) == (0, 1, 2, 3)
    assert v["說"] == 4  # most frequent first
    assert v.itos[5:] == ["貓", "喵", "狗", "汪"]  # ties by first appearance
    assert len(v) == 9


def test_unknown_word_maps_to_unk():
    v = Vocab.build([["貓", "說"]])
    assert v["牛"] == v.unk_index
    assert "牛" not in v
    assert v.encode(["貓", "牛"], add_bos=True, add_eos=True) == [1, 4, 3, 2]
    assert v.decode([1, 4, 3, 2, 0]) == ["貓", "<unk>"]
    assert v.decode([1, 4], skip_specials=False) == ["<bos>", "貓"]


def test_min_freq_and_max_size():
    sents = [["a", "a", "a", "b", "b", "c"]]
    assert Vocab.build(sents, min_freq=2).itos[4:] == ["a", "b"]
    assert Vocab.build(sents, max_size=1).itos[4:] == ["a"]
    assert Vocab.build(sents).counts["c"] == 1


@pytest.mark.parametrize(
    "sents, kwargs, message",
    [
        ([], {}, "empty"),
        ([["a"]], {"min_freq": 2}, "empty"),
        ([["a"]], {"min_freq": 0}, "min_freq"),
        ([["a"]], {"max_size": 0}, "max_size"),
        (["貓說喵"], {}, "tokenize"),
    ],
)
def test_bad_vocab_input(sents, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Vocab.build(sents, **kwargs)


def test_decode_rejects_out_of_range():
    v = Vocab.build([["a"]])
    with pytest.raises(ValueError, match="outside"):
        v.decode([99])


def test_to_traditional_uses_taiwan_vocabulary():
    assert to_traditional("软件和内存的信息") == "軟體和記憶體的資訊"
    assert to_traditional("软件", "s2t") == "軟件"  # character by character
    with pytest.raises(ValueError, match="config"):
        to_traditional("软件", "t2s")


def test_normalize_only_touches_fullwidth_alphanumerics():
    assert normalize("１９９８年２．５％，ＡＢ。") == "1998年2.5%，AB。"


def test_tokenizers():
    assert char_tokenize("詞 嵌入") == ["詞", "嵌", "入"]
    words = jieba_tokenize("我們今天學習自然語言處理")
    assert "".join(words) == "我們今天學習自然語言處理"
    assert "今天" in words and len(words) < 10


def test_jieba_via_simplified_cuts_the_traditional_text_where_simplified_is_cut():
    text = "廣大職工祝賀新年"
    words = jieba_tokenize(text, via_simplified=True)
    assert "".join(words) == text
    assert words == ["廣大職工", "祝賀", "新年"]  # jieba on the Traditional text: 廣大職 / 工祝賀 / 新年
    assert jieba_tokenize(text) != words
    assert jieba_tokenize("  ", via_simplified=True) == []
