"""House rules for the course's files: set-up cells, no outputs, one repository URL."""

import json
import shutil

import nbformat

from seqlab.course import assignment_sources_with_setup, book_notebooks, problems, repository, setup_source, sync_url


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
