"""nbgrader: exercises/ is what solutions/ generates, and each assignment grades end to end.

In a temporary course directory, the solution handed in as a student scores full marks, the
untouched exercise scores 0 without crashing, and the feedback shows no hidden test.
"""

from __future__ import annotations

import csv
import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from seqlab.grading.batch import nbgrader as run_nbgrader
from seqlab.grading.synthetic import answered

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    proc = run_nbgrader(course, *args, timeout=900)
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def hidden_test_lines(source: str) -> set[str]:
    """Lines (longer than 12 characters) that stand only inside hidden-test blocks of a notebook."""
    hidden, visible = set(), set()
    for cell in nbformat.reads(source, as_version=4).cells:
        for block in HIDDEN.findall(cell.source + "\n"):
            hidden |= {ln.strip() for ln in block.splitlines() if len(ln.strip()) > 12}
        visible |= {ln.strip() for ln in HIDDEN.sub("", cell.source + "\n").splitlines()}
    return hidden - visible  # e.g. `except ValueError:` may stand in both


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions", course / "solutions")
    for a in ASSIGNMENTS:
        nbgrader(course, "generate_assignment", a, "--force")
    return course


def test_there_is_an_assignment():
    assert ASSIGNMENTS


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_exercises_match_what_nbgrader_generates(course, assignment):
    generated = sorted(p.relative_to(course / "exercises") for p in (course / "exercises" / assignment).rglob("*") if p.is_file())
    committed = sorted(p.relative_to(ROOT / "exercises") for p in (ROOT / "exercises" / assignment).rglob("*") if p.is_file())
    assert generated == committed, "exercises/ is out of date: run `make release`"
    for rel in generated:
        ours = json.loads((ROOT / "exercises" / rel).read_text(encoding="utf-8"))
        fresh = json.loads((course / "exercises" / rel).read_text(encoding="utf-8"))
        assert ours == fresh, f"exercises/{rel} differs from solutions/: run `make release`"


@pytest.fixture(scope="module")
def graded(course):
    for a in ASSIGNMENTS:
        source = course / "solutions" / a / f"{a}.ipynb"
        release = course / "exercises" / a / f"{a}.ipynb"
        for student, nb in (("good", answered(source, release)),
                            ("blank", nbformat.read(release, as_version=4))):
            target = course / "submitted" / student / a / f"{a}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, target)
        nbgrader(course, "autograde", a, "--force")
        nbgrader(course, "generate_feedback", a, "--force")
    nbgrader(course, "export", "--to", str(course / "grades.csv"))
    with open(course / "grades.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {(r["assignment"], r["student_id"]): r for r in rows}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_scores_full_marks_and_blank_scores_zero(graded, assignment):
    good, blank = graded[(assignment, "good")], graded[(assignment, "blank")]
    assert float(good["max_score"]) > 0
    assert float(good["raw_score"]) == float(good["max_score"]), good
    assert float(blank["raw_score"]) == 0.0, blank


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_feedback_reveals_no_hidden_tests(course, graded, assignment):
    source = (course / "solutions" / assignment / f"{assignment}.ipynb").read_text(encoding="utf-8")
    hidden_lines = hidden_test_lines(source)
    assert hidden_lines, "the assignment has no hidden tests"
    for student in ("good", "blank"):
        page = course / "feedback" / student / assignment / f"{assignment}.html"
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))
        leaked = [ln for ln in hidden_lines if ln in text]
        assert not leaked, f"feedback for {student} shows hidden tests: {leaked[:3]}"
        assert "BEGIN HIDDEN TESTS" not in text
