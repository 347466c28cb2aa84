"""A synthetic class: the solution handed in by many students, and every way a real class breaks.

``python -m seqlab.grading demo`` builds one in a scratch course folder so an instructor can try
``collect → grade → feedback → export`` end to end; the tests and ``make bench`` use it too.
Nothing here is committed: the submissions are made from ``solutions/`` on the fly.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import nbformat

from seqlab.grading.batch import nbgrader

SNOOP = '''
import pathlib
_up = (pathlib.Path.cwd(), *pathlib.Path.cwd().parents)
_found = [str(p) for d in _up for p in d.glob("solutions/*/*.ipynb")][:3]
_db = [p for d in _up for p in d.glob("gradebook.db")][:1]
_peers = [str(p) for d in _up for p in d.glob("submitted/*/*/*.ipynb")][:3]
print("SNOOP solutions:", _found)
print("SNOOP hidden tests in gradebook:", [b"BEGIN HIDDEN" in p.read_bytes() for p in _db])
print("SNOOP other submissions:", _peers)
'''

BROKEN = ("colab", "deleted_test", "moved_test", "type_changed", "inserted_dup", "edited_test", "untouched",
          "infinite", "exception", "huge_output", "not_json", "not_notebook", "snoop", "kill_worker")
KILL = "\nimport os, signal\nos.kill(os.getppid(), signal.SIGKILL)  # takes its grading process down\n"


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def answered(source: Path, release: Path) -> nbformat.NotebookNode:
    """The released notebook with every answer cell filled in from the instructor's source."""
    answers = {_meta(c)["grade_id"]: c.source for c in nbformat.read(source, as_version=4).cells
               if _meta(c).get("solution")}
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        if _meta(cell).get("grade_id") in answers:
            cell.source = answers[_meta(cell)["grade_id"]]
    return nb


def variants(good: nbformat.NotebookNode, blank: nbformat.NotebookNode) -> dict[str, bytes]:
    """File contents for each kind of broken submission in :data:`BROKEN` (plus good and blank)."""
    out = {"good": nbformat.writes(good).encode(), "blank": nbformat.writes(blank).encode()}
    tests = [i for i, c in enumerate(good.cells) if _meta(c).get("grade")]
    answers = [i for i, c in enumerate(good.cells) if _meta(c).get("solution")]

    def edit(change) -> bytes:
        nb = copy.deepcopy(good)
        change(nb)
        return nbformat.writes(nb).encode()

    colab = json.loads(nbformat.writes(good))
    colab["nbformat_minor"] = 0
    colab["metadata"].update({"colab": {"provenance": [], "name": "notebook.ipynb"}, "accelerator": "GPU"})
    for cell in colab["cells"]:
        cell.pop("id", None)
        if cell["cell_type"] == "code":
            cell["metadata"]["executionInfo"] = {"elapsed": 12, "status": "ok", "timestamp": 1700000000000}
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["saved output\n"]}]
            cell["execution_count"] = 1
    out["colab"] = json.dumps(colab).encode()
    out["deleted_test"] = edit(lambda nb: nb.cells.pop(tests[0]))
    out["moved_test"] = edit(lambda nb: nb.cells.append(nb.cells.pop(tests[0])))

    def to_markdown(nb):
        cell = nb.cells[tests[0]]
        nb.cells[tests[0]] = nbformat.v4.new_markdown_cell(cell.source, metadata=cell.metadata)

    out["type_changed"] = edit(to_markdown)

    def insert_and_duplicate(nb):
        nb.cells.insert(answers[0], nbformat.v4.new_code_cell("scratch = 1  # a cell the student added"))
        nb.cells.insert(answers[1] + 2, copy.deepcopy(nb.cells[answers[1] + 1]))

    out["inserted_dup"] = edit(insert_and_duplicate)
    out["edited_test"] = edit(lambda nb: setattr(nb.cells[tests[0]], "source", "pass  # tests removed"))
    out["untouched"] = out["blank"]
    out["infinite"] = edit(lambda nb: setattr(nb.cells[answers[0]], "source",
                                              nb.cells[answers[0]].source + "\nwhile True:\n    pass\n"))
    out["exception"] = edit(lambda nb: setattr(nb.cells[answers[0]], "source", "raise RuntimeError('boom')"))
    out["huge_output"] = edit(lambda nb: setattr(nb.cells[answers[0]], "source",
                                                 nb.cells[answers[0]].source + "\nprint('x' * 20_000_000)\n"))
    out["not_json"] = b"{ this is not JSON"
    out["not_notebook"] = b'{"hello": "a file that is not a notebook"}'
    out["kill_worker"] = edit(lambda nb: setattr(nb.cells[answers[0]], "source", nb.cells[answers[0]].source + KILL))
    out["snoop"] = edit(lambda nb: setattr(nb.cells[answers[0]], "source", nb.cells[answers[0]].source + SNOOP))
    return out


def make_course(root: Path, course: Path, assignment: str, n_good: int = 0, broken: bool = True) -> list[str]:
    """A scratch course in ``course`` (config and solutions copied from ``root``), ``assignment``
    released, and submissions: ``good_000``… handing in the solution, plus the broken kinds.
    Returns the student ids."""
    if course.exists():
        shutil.rmtree(course)
    course.mkdir(parents=True)
    shutil.copy(root / "nbgrader_config.py", course)
    shutil.copytree(root / "solutions", course / "solutions")
    proc = nbgrader(course, "generate_assignment", assignment, "--force")
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    source = course / "solutions" / assignment / f"{assignment}.ipynb"
    release = course / "exercises" / assignment / f"{assignment}.ipynb"
    files = variants(answered(source, release), nbformat.read(release, as_version=4))
    chosen = {f"good_{i:03d}": files["good"] for i in range(n_good)}
    if broken:
        chosen.update({"blank": files["blank"], **{name: files[name] for name in BROKEN}})
    for student, data in chosen.items():
        target = course / "submitted" / student / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return sorted(chosen)
