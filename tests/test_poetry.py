import io
import json
import shutil
import tarfile

import pytest

from seqlab.data import poetry
from seqlab.data.cache import ChecksumError, MissingDataError


def make_tarball(path, files):
    with tarfile.open(path, "w:gz") as tar:
        for name, records in files.items():
            data = json.dumps(records, ensure_ascii=False).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_reads_tang_files_in_numeric_order_and_skips_the_rest(tmp_path):
    tgz = tmp_path / "p.tgz"
    make_tarball(tgz, {
        "package/dist/quantangshi/poet.tang.1000.json": [{"title": "二", "author": "乙", "paragraphs": ["b"]}],
        "package/dist/quantangshi/poet.tang.0.json": [{"title": "靜夜思", "author": "李白", "paragraphs": ["床前明月光，疑是地上霜。"]}],
        "package/dist/quantangshi/poet.song.0.json": [{"title": "宋", "author": "丙", "paragraphs": []}],
    })
    poems = poetry.read_tang_poems(tgz)
    assert [p["title"] for p in poems] == ["靜夜思", "二"]
    assert poems[0]["paragraphs"] == ["床前明月光，疑是地上霜。"]
    empty = tmp_path / "e.tgz"
    make_tarball(empty, {"package/README.md": []})
    with pytest.raises(ValueError, match="poet.tang"):
        poetry.read_tang_poems(empty)


def test_missing_npm_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQLAB_DATA", str(tmp_path))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(MissingDataError, match="npm"):
        poetry.poetry_tarball()


def test_a_corrupted_tarball_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQLAB_DATA", str(tmp_path))
    (tmp_path / poetry.TARBALL).write_bytes(b"not the corpus")
    with pytest.raises(ChecksumError, match="expected"):
        poetry.poetry_tarball()


@pytest.mark.skipif(shutil.which("npm") is None, reason="the real corpus is fetched with npm (apt-get install npm)")
def test_real_corpus_has_57607_tang_poems():
    poems = poetry.tang_poems()
    assert len(poems) == 57607
    assert any(p["title"] == "靜夜思" and p["author"] == "李白" for p in poems)
    pairs = poetry.poem_titles()
    assert 38_000 <= len(pairs) <= 40_000
    assert {"title": "靜夜思", "author": "李白", "poem": "牀前看月光，疑是地上霜。舉頭望山月，低頭思故鄉。"} in pairs


@pytest.mark.parametrize("title, expected", [
    ("靜夜思", "靜夜思"), ("帝京篇十首 一", None), ("宮詞 五十七", None), ("江南雜題三十首 其五", None),
    ("句", None), ("雜曲歌辭 車遙遙", "車遙遙"), ("秦中吟十首 重賦", "重賦"), ("頌裴長史歌（題擬）", None),
    ("崔敷歎春物將謝恨不同覽時余方爲事牽束及往尋不遇題之留贈", None), ("", None),
])
def test_plain_title(title, expected):
    assert poetry.plain_title(title) == expected


def test_poem_titles_on_a_small_corpus(monkeypatch):
    poems = [{"title": "靜夜思", "author": "李白", "paragraphs": ["床前明月光，疑是地上霜。", "舉頭望明月，低頭思故鄉。"]},
             {"title": "帝京篇十首 一", "author": "太宗皇帝", "paragraphs": ["秦川雄帝宅，函谷壯皇居。"]},
             {"title": "無題", "author": "佚名", "paragraphs": []}]
    monkeypatch.setattr(poetry, "tang_poems", lambda: poems)
    assert poetry.poem_titles() == [{"title": "靜夜思", "author": "李白", "poem": "床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。"}]
    with pytest.raises(ValueError, match="max_len"):
        poetry.poem_titles(max_len=1)


def test_five_character_poems_keep_quatrains_and_regulated_verse_once():
    poems = [
        {"paragraphs": ["床前明月光，疑是地上霜。", "舉頭望明月，低頭思故鄉。"]},
        {"paragraphs": ["床前明月光，疑是地上霜。", "舉頭望明月，低頭思故鄉。"]},  # a second copy
        {"paragraphs": ["白日依山盡，黃河入海流。", "欲窮千里目，更上一層樓。"] * 2},  # four couplets
        {"paragraphs": ["朝辭白帝彩雲間，千里江陵一日還。", "兩岸猿聲啼不住，輕舟已過萬重山。"]},  # seven characters
        {"paragraphs": ["床前明月光，疑是地上霜。"]},  # one couplet only
        {"paragraphs": ["床前明月光，疑是地上霜", "舉頭望明月，低頭思故鄉。"]},  # no end mark
    ]
    texts = poetry.five_character_poems(poems)
    assert texts == ["床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。", "白日依山盡，黃河入海流。欲窮千里目，更上一層樓。" * 2]


def test_poem_title_splits_follow_the_poem_text_split(monkeypatch):
    from seqlab.data.splits import split_of

    poems = [{"title": f"題{i:03d}", "author": "某", "paragraphs": [f"第{i:03d}首詩，" + "山" * (i % 30)]} for i in range(300)]
    monkeypatch.setattr(poetry, "tang_poems", lambda: poems)
    splits = poetry.poem_title_splits()
    assert sum(len(v) for v in splits.values()) == 300
    for name, rows in splits.items():
        for row in rows:
            assert set(row) == {"title", "body", "author"}
            assert split_of(row["body"]) == name  # the split chapters 3 and 4 use for poem texts
    bodies = {k: {r["body"] for r in v} for k, v in splits.items()}
    assert not bodies["train"] & bodies["test"] and not bodies["valid"] & bodies["test"]
    assert poetry.poem_title_splits() == splits
    short = poetry.poem_title_splits(max_body_len=20)
    assert all(len(r["body"]) <= 20 for rows in short.values() for r in rows)
    small = poetry.poem_title_splits(sizes=(50, 5, 5))
    assert [len(v) for v in small.values()] == [50, 5, 5]
    assert {r["body"] for r in small["test"]} <= bodies["test"]
    with pytest.raises(ValueError, match="sizes"):
        poetry.poem_title_splits(sizes=(1, 2))
    with pytest.raises(ValueError, match="fewer"):
        poetry.poem_title_splits(sizes=(10_000, 1, 1))
    with pytest.raises(ValueError, match="max_body_len"):
        poetry.poem_title_splits(max_body_len=0)


@pytest.mark.skipif(shutil.which("npm") is None, reason="the real corpus is fetched with npm (apt-get install npm)")
def test_real_poem_title_splits():
    splits = poetry.poem_title_splits()
    assert 30_000 < len(splits["train"]) < 32_500 and 3_500 < len(splits["test"]) < 4_500
    test_bodies = {r["body"] for r in splits["test"]}
    assert not test_bodies & {r["body"] for r in splits["train"]}
