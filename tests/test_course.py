"""House rules for the course's files: set-up cells, no outputs, one repository URL."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from seqlab.course import assignment_sources_with_setup, book_notebooks, problems, repository, setup_source, sync_url

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_book_notebooks_follow_the_rules(root):
    assert book_notebooks(root), "the book has no notebooks"
    assert problems(root) == []


def test_assignment_notebooks_have_no_outputs(root):
    for path in list((root / "solutions").rglob("*.ipynb")) + list((root / "exercises").rglob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        assert not any(c.get("outputs") for c in cells if c["cell_type"] == "code"), path


def test_a_fork_changes_the_url_in_one_place(root, tmp_path):
    shutil.copy(root / "_config.yml", tmp_path / "_config.yml")
    shutil.copytree(root / "book", tmp_path / "book")
    shutil.copytree(root / "solutions", tmp_path / "solutions")
    n_assignments = len(assignment_sources_with_setup(tmp_path))
    assert n_assignments >= 1, "a03 installs seqlab on Colab, so it has a set-up cell"
    config = (tmp_path / "_config.yml").read_text(encoding="utf-8")
    url, branch = repository(tmp_path)
    assert branch == "main" and url.startswith("https://github.com/")
    (tmp_path / "_config.yml").write_text(config.replace(url, "https://github.com/someone/my-fork"), encoding="utf-8")
    assert problems(tmp_path), "a changed URL must show as a problem until synced"
    assert sync_url(tmp_path) == len(book_notebooks(tmp_path)) + n_assignments
    assert problems(tmp_path) == []
    first = nbformat.read(book_notebooks(tmp_path)[0], as_version=4).cells[0].source
    assert "git+https://github.com/someone/my-fork@main" in first
    assert first == setup_source(tmp_path)
    for path in assignment_sources_with_setup(tmp_path):
        assert nbformat.read(path, as_version=4).cells[0].source == first
    assert sync_url(tmp_path) == 0  # idempotent


def test_pages_do_not_hard_code_the_repository_url(root):
    url, _ = repository(root)
    pages = [p for p in (root / "book").rglob("*.md")] + [root / "README.md"]
    offenders = [str(p.relative_to(root)) for p in pages if url in p.read_text(encoding="utf-8")]
    assert not offenders, f"the repository URL belongs in _config.yml only; found in {offenders}"


def _tiny_book(path: Path) -> Path:
    """A two-page book with a formula, configured like the course (its _config.yml's sphinx section)."""
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    tiny = {
        "title": "小書",
        "execute": {"execute_notebooks": "off"},
        "parse": {"myst_enable_extensions": ["dollarmath", "amsmath"]},
        "sphinx": {"config": {"language": "zh_TW", "mathjax_path": config["sphinx"]["config"]["mathjax_path"]},
                   "local_extensions": {name: str(ROOT / rel) for name, rel in config["sphinx"]["local_extensions"].items()}},
    }
    (path / "_config.yml").write_text(yaml.safe_dump(tiny, allow_unicode=True), encoding="utf-8")
    (path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: ch1\n", encoding="utf-8")
    (path / "intro.md").write_text("# 導論\n\n餘弦相似度 $\\cos(a, b)$。\n", encoding="utf-8")
    (path / "ch1.md").write_text("# 第一章\n\n$$h_t = \\tanh(W h_{t-1} + U x_t)$$\n", encoding="utf-8")
    return path


def _plain_build(book: Path, env: dict) -> subprocess.CompletedProcess:
    # `jupyter-book build .`, the command Jupyter Book's documentation gives: nothing run before it
    return subprocess.run([str(BIN / "jupyter-book"), "build", "."], cwd=book, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_plain_jupyter_book_build_ships_mathjax(tmp_path):
    book = _tiny_book(tmp_path)
    proc = _plain_build(book, dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    site = book / "_build" / "html"
    assert (site / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert (site / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()
    assert 'src="_static/mathjax/tex-chtml.js' in (site / "intro.html").read_text(encoding="utf-8")
    assert not (book / "_static").exists(), "the build must not write MathJax into the book's sources"


def test_without_mathjax_the_build_fails_saying_what_to_install(tmp_path):
    (tmp_path / "book").mkdir()
    book = _tiny_book(tmp_path / "book")
    # an empty seqlab cache and no npm on PATH (only the venv's tools): MathJax cannot be had
    env = dict(os.environ, PATH=str(BIN), SEQLAB_DATA=str(tmp_path / "empty-cache"))
    proc = _plain_build(book, env)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, "a site without MathJax was built"
    assert "MathJax" in out and "npm" in out, out[-3000:]
    assert not (book / "_build" / "html" / "intro.html").exists()
