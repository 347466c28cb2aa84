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
