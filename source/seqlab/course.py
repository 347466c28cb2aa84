"""Maintenance of the course's own files (for contributors, not for lessons).

``python -m seqlab.course sync-url`` writes the repository URL from ``_config.yml`` into the
Colab set-up cell (the first cell) of every book notebook and of every assignment source that
has one (then `make release` regenerates exercises/); ``check`` lists notebooks whose
set-up cell, outputs or Colab metadata are off. ``make sync-url`` runs the first.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

SETUP_TAG = "colab-setup"
SITE_TAG = "remove-cell"  # the set-up cell does nothing off Colab: the site does not show it above the title
SETUP_TEMPLATE = """# Colab 設定：只在 Google Colab 上安裝 seqlab 與資料套件，其他環境不做任何事。
import sys

if "google.colab" in sys.modules:
    %pip install -q "seqlab[data] @ git+{url}@{branch}\""""
COLAB_METADATA = {"accelerator": "GPU", "colab": {"provenance": [], "gpuType": "T4"}}


MATHJAX = ("mathjax", "3.2.2", "1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09")


def install_mathjax() -> Path:
    """A static folder holding ``mathjax/`` (MathJax 3's ``es5`` build), for ``html_static_path``.

    The npm tarball is fetched once with ``npm pack`` into the seqlab cache and checked by sha256;
    it is unpacked next to it (once, atomically, so parallel builds share it). The Sphinx extension
    :mod:`seqlab.sphinxext` calls this for every HTML build, so the site renders math without a CDN.
    """
    import os
    import shutil
    import tarfile
    import tempfile

    from seqlab.data.cache import cache_dir, npm_tarball

    name, version, sha = MATHJAX
    tarball = npm_tarball(name, version, sha, "The site's math (MathJax)")
    static_root = cache_dir() / f"{name}-{version}-static"
    if (static_root / "mathjax" / "tex-chtml.js").is_file():
        return static_root
    scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=cache_dir()))
    try:
        target = scratch / "mathjax"
        with tarfile.open(tarball) as tar:
            for member in tar.getmembers():
                if member.isfile() and member.name.startswith("package/es5/"):
                    member.name = member.name[len("package/es5/"):]
                    tar.extract(member, target, filter="data")
        try:
            os.rename(scratch, static_root)
        except OSError:  # another build got there first
            if not (static_root / "mathjax" / "tex-chtml.js").is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return static_root


def repository(root: Path) -> tuple[str, str]:
    """``(url, branch)`` from ``_config.yml``'s ``repository`` section."""
    text = (root / "_config.yml").read_text(encoding="utf-8")
    block = re.search(r"^repository:\n((?:[ \t]+.*\n?)+)", text, re.M)
    if block is None:
        raise ValueError("_config.yml has no 'repository:' section")
    fields = dict(re.findall(r"^\s+(\w+):\s*(\S+)", block.group(1), re.M))
    if "url" not in fields:
        raise ValueError("_config.yml's repository section has no url")
    return fields["url"].rstrip("/"), fields.get("branch", "main")


def setup_source(root: Path) -> str:
    url, branch = repository(root)
    return SETUP_TEMPLATE.format(url=url, branch=branch)


def book_notebooks(root: Path) -> list[Path]:
    return sorted(p for p in (root / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def assignment_sources_with_setup(root: Path) -> list[Path]:
    """Instructor notebooks (solutions/) whose first cell is a tagged Colab set-up cell: the
    assignments that need seqlab's data on Colab. Their exercises/ copy follows via `make release`."""
    found = []
    for path in sorted((root / "solutions").glob("*/*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        if cells and SETUP_TAG in cells[0].metadata.get("tags", []):
            found.append(path)
    return found


def problems(root: Path) -> list[str]:
    """What is wrong with the book's notebooks, as readable lines (empty when all is well)."""
    expected = setup_source(root)
    found = []
    for path in book_notebooks(root):
        nb = nbformat.read(path, as_version=4)
        rel = path.relative_to(root)
        first = nb.cells[0] if nb.cells else None
        if first is None or first.cell_type != "code" or first.source != expected:
            found.append(f"{rel}: the first cell is not the Colab set-up cell (run `make sync-url`)")
        elif SITE_TAG not in first.metadata.get("tags", []):
            found.append(f"{rel}: the Colab set-up cell is not tagged {SITE_TAG} (run `make sync-url`)")
        if any(c.cell_type == "code" and (c.get("outputs") or c.get("execution_count")) for c in nb.cells):
            found.append(f"{rel}: has outputs (notebooks are committed without them)")
        if nb.metadata.get("accelerator") != "GPU":
            found.append(f"{rel}: metadata does not ask Colab for a GPU (accelerator: GPU)")
    for path in assignment_sources_with_setup(root):
        if nbformat.read(path, as_version=4).cells[0].source != expected:
            found.append(f"{path.relative_to(root)}: the Colab set-up cell is out of date (run `make sync-url`)")
    return found


def sync_url(root: Path) -> int:
    """Rewrite the set-up cell of every book notebook; returns how many files changed."""
    expected = setup_source(root)
    changed = 0
    for path in book_notebooks(root):
        nb = nbformat.read(path, as_version=4)
        first = nb.cells[0] if nb.cells else None
        if first is not None and SETUP_TAG in first.metadata.get("tags", []):
            tags = first.metadata.setdefault("tags", [])
            if first.source == expected and SITE_TAG in tags:
                continue
            first.source = expected
            if SITE_TAG not in tags:
                tags.append(SITE_TAG)
        else:
            cell = nbformat.v4.new_code_cell(expected, metadata={"tags": [SETUP_TAG, SITE_TAG]})
            nb.cells.insert(0, cell)
        for key, value in COLAB_METADATA.items():
            nb.metadata.setdefault(key, value)
        nbformat.write(nb, path)
        changed += 1
    for path in assignment_sources_with_setup(root):
        nb = nbformat.read(path, as_version=4)
        if nb.cells[0].source != expected:
            nb.cells[0].source = expected
            nbformat.write(nb, path)
            changed += 1
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seqlab.course", description=__doc__)
    parser.add_argument("command", choices=["sync-url", "check", "pdf"])
    parser.add_argument("--root", type=Path, default=Path.cwd())
    parser.add_argument("--build", type=Path, default=None, help="pdf: the build folder (default <root>/_build)")
    args = parser.parse_args(argv)
    if args.command == "pdf":
        from seqlab.course_pdf import print_book

        pdf = print_book(args.build or args.root / "_build", root=args.root)
        print(f"wrote {pdf}")
        return 0
    if args.command == "sync-url":
        print(f"updated {sync_url(args.root)} notebook(s) to {repository(args.root)[0]}")
        return 0
    found = problems(args.root)
    print("\n".join(found) if found else "all book notebooks are in order")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
