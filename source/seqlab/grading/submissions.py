"""One handed-in file: is it a notebook, and what must be repaired before nbgrader sees it?

nbgrader restores edited locked cells, changed cell types and (with
``OverwriteCells.add_missing_cells``) deleted test cells by itself. What it does not survive is
handled here, before autograding:

* not JSON, or JSON that is not a notebook: refused with a readable reason (the batch goes on);
* nbformat 4.0–4.4 as saved by Colab (no cell ids, ``colab``/``executionInfo`` metadata): upgraded
  to 4.5 with ids; outputs are dropped (autograding re-runs everything, and a huge saved output
  would only bloat the file);
* a graded or answer cell pasted twice (same ``grade_id``): nbgrader aborts the whole submission,
  so later copies become ordinary cells (they still run, so a later fix still counts).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

MAX_BYTES = 50 * 1024 * 1024


@dataclass
class Checked:
    """The outcome of :func:`check_submission`: a notebook ready for nbgrader, or a reason."""

    notebook: nbformat.NotebookNode | None
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.notebook is not None


def check_submission(raw: bytes) -> Checked:
    """Parse and repair the bytes of a submitted ``.ipynb`` (see the module docstring)."""
    if len(raw) > MAX_BYTES:
        return Checked(None, error=f"file is {len(raw) / 2**20:.0f} MiB, more than {MAX_BYTES // 2**20} MiB")
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        return Checked(None, error=f"not a notebook: the file is not valid JSON ({e.__class__.__name__}: {e})")
    if not isinstance(data, dict) or "cells" not in data or data.get("nbformat") != 4:
        return Checked(None, error="not a notebook: JSON without nbformat 4 cells (was another file handed in?)")
    notes = []
    minor = data.get("nbformat_minor", 0)
    try:
        with warnings.catch_warnings():  # duplicate cell ids are repaired below
            warnings.simplefilter("ignore")
            nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as e:  # nbformat raises several kinds of errors for broken structure
        return Checked(None, error=f"not a valid notebook: {e.__class__.__name__}: {str(e)[:200]}")
    if minor < 5:
        notes.append(f"upgraded from nbformat 4.{minor} (e.g. saved by Colab)")
    nb.nbformat_minor = max(nb.nbformat_minor, 5)
    seen: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is not None:
            if grade_id in seen:
                del cell.metadata["nbgrader"]
                notes.append(f"cell '{grade_id}' appeared more than once: later copies kept as ordinary cells")
            seen.add(grade_id)
    ids: set[str] = set()
    for cell in nb.cells:  # every cell needs an id, and ids must differ (a pasted cell copies its id)
        if not cell.get("id") or cell["id"] in ids:
            cell["id"] = nbformat.v4.new_code_cell().id
        ids.add(cell["id"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nbformat.validator.normalize(nb)
    return Checked(nb, notes)


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def student_id(name: str, pattern: str) -> str | None:
    """The student id in a file name, by ``pattern``'s ``student`` group, made safe for a folder name."""
    m = re.search(pattern, name)
    if m is None or not m.group("student"):
        return None
    return _SAFE.sub("_", m.group("student")).strip("_") or None


def collect(source: Path, assignment: str, course: Path, pattern: str = r"^(?P<student>[^_.]+)") -> list[str]:
    """Copy handed-in notebooks into ``submitted/<student>/<assignment>/<assignment>.ipynb``.

    ``source`` is a folder of ``.ipynb`` files (``alice.ipynb``, ``alice_a03.ipynb``) or a zip
    downloaded from an LMS (folders inside are searched too). The student id comes from the file
    name (or, in a zip, the first folder) through ``pattern``. Returns lines describing what was
    done, including files that were skipped and why; nothing is checked or repaired here.
    """
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        root = source
        if source.is_file() and zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as z:
                z.extractall(tmp)
            root = Path(tmp)
        if not root.is_dir():
            raise ValueError(f"{source} is neither a folder nor a zip file")
        for path in sorted(root.rglob("*.ipynb")):
            if ".ipynb_checkpoints" in path.parts:
                continue
            rel = path.relative_to(root)
            name = rel.parts[0] if len(rel.parts) > 1 else rel.name
            student = student_id(name, pattern)
            if student is None:
                lines.append(f"skipped {rel}: no student id in the name (pattern {pattern!r})")
                continue
            target = course / "submitted" / student / assignment / f"{assignment}.ipynb"
            if target.exists() and target.read_bytes() != path.read_bytes():
                lines.append(f"replaced {student}'s earlier file with {rel}")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            lines.append(f"{student}: {rel}")
    return lines
