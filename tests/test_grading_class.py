"""A synthetic class with every kind of broken submission, graded in parallel by one command.

Uses a01 (each submission grades in a few seconds) and a 20 s per-cell limit, so the infinite
loop costs 20 s instead of the course's 120 s.
"""

from __future__ import annotations

import csv
import html
import json
import re
import zipfile

import nbformat
import pytest

from seqlab.grading import jail
from seqlab.grading.batch import grade, nbgrader, summary
from seqlab.grading.submissions import check_submission, collect, student_id
from seqlab.grading.synthetic import make_course
from test_assignments import hidden_test_lines

pytestmark = pytest.mark.slow
A = "a01-embedding"


@pytest.fixture(scope="module")
def graded(root, tmp_path_factory):
    course = tmp_path_factory.mktemp("class") / "course"
    students = make_course(root, course, A, n_good=2)
    outcomes = grade(course, [A], workers=2, timeout=600, extra=("--ExecutePreprocessor.timeout=20",))
    proc = nbgrader(course, "generate_feedback", A, "--force")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return course, students, {o.student: o for o in outcomes}


def test_every_submission_has_an_outcome_and_the_right_score(graded):
    course, students, out = graded
    assert sorted(out) == students
    full = {"good_000", "good_001", "colab", "deleted_test", "moved_test", "type_changed", "inserted_dup",
            "edited_test", "infinite", "huge_output", "snoop"}
    for s in full:
        assert (out[s].status, out[s].score, out[s].max_score) == ("graded", 10.0, 10.0), (s, out[s])
    for s in ("blank", "untouched"):
        assert (out[s].status, out[s].score) == ("graded", 0.0), out[s]
    assert out["exception"].status == "graded" and 0 < out["exception"].score < 10
    assert "time limit" in " ".join(out["infinite"].notes)
    assert "nbformat 4.0" in " ".join(out["colab"].notes)
    assert "more than once" in " ".join(out["inserted_dup"].notes)
    assert out["kill_worker"].status == "failed" and "exited" in out["kill_worker"].reason, out["kill_worker"]
    assert out["not_json"].status == out["not_notebook"].status == "refused"
    assert "not valid JSON" in out["not_json"].reason and "not a notebook" in out["not_notebook"].reason
    text = summary(list(out.values()))
    assert text.startswith(f"{len(students) - 3} of {len(students)} submissions graded")
    assert "not_json" in text and "FAILED a01-embedding/kill_worker" in text


def test_report_and_grade_sheet_agree(graded):
    course, students, out = graded
    with open(course / "grading-report.csv", newline="", encoding="utf-8") as f:
        report = {r["student"]: r for r in csv.DictReader(f)}
    with open(course / "grades.csv", newline="", encoding="utf-8") as f:
        sheet = {r["student_id"]: r for r in csv.DictReader(f)}
    assert sorted(report) == sorted(sheet) == students  # refused files are on the sheet too (with 0)
    for s in students:
        assert float(sheet[s]["raw_score"]) == (out[s].score or 0.0)
        assert report[s]["status"] == out[s].status


def test_students_code_cannot_read_solutions_gradebook_or_peers(graded):
    course, _, out = graded
    nb = nbformat.read(course / "autograded" / "snoop" / A / f"{A}.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "SNOOP solutions" in printed, "the snooping code did run"
    if jail.available():
        assert "SNOOP solutions: []" in printed
        assert "SNOOP hidden tests in gradebook: [False]" in printed
        assert "SNOOP other submissions: []" in printed
    else:  # no namespaces on this machine: the report must say so for every graded submission
        assert all("not isolated" in " ".join(o.notes) for o in out.values() if o.status == "graded")


def test_feedback_is_small_and_shows_no_hidden_test_nor_another_student(graded, root):
    course, students, out = graded
    hidden = hidden_test_lines((course / "solutions" / A / f"{A}.ipynb").read_text(encoding="utf-8"))
    assert hidden
    for s in students:
        if out[s].status != "graded":
            continue
        page = course / "feedback" / s / A / f"{A}.html"
        assert page.stat().st_size < 2_000_000, (s, page.stat().st_size)
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))
        assert not [ln for ln in hidden if ln in text], s
        others = [t for t in students if t != s and len(t) > 5 and f"/{t}/" in text]
        assert not others, (s, others)


def test_check_submission_repairs_and_refuses():
    assert not check_submission(b"\xff\xfe").ok
    assert "MiB" in check_submission(b" " * (51 * 2**20)).error
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1", metadata={"nbgrader": {"grade_id": "a"}}),
                                         nbformat.v4.new_code_cell("2", metadata={"nbgrader": {"grade_id": "a"}})])
    data = json.loads(nbformat.writes(nb))
    data["nbformat_minor"] = 0
    for c in data["cells"]:
        c.pop("id")
    checked = check_submission(json.dumps(data).encode())
    assert checked.ok and checked.notebook.nbformat_minor >= 5
    assert all(c.get("id") for c in checked.notebook.cells)
    assert "nbgrader" in checked.notebook.cells[0].metadata and "nbgrader" not in checked.notebook.cells[1].metadata


def test_collect_from_a_folder_and_an_lms_zip(tmp_path):
    nb = nbformat.writes(nbformat.v4.new_notebook()).encode()
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "alice.ipynb").write_bytes(nb)
    (folder / "bob_a01-embedding.ipynb").write_bytes(nb)
    (folder / "_nobody.ipynb").write_bytes(nb)
    course = tmp_path / "course"
    lines = collect(folder, A, course)
    assert sorted(p.parent.parent.name for p in (course / "submitted").glob(f"*/{A}/{A}.ipynb")) == ["alice", "bob"]
    assert any(line.startswith("skipped _nobody.ipynb") for line in lines)
    archive = tmp_path / "lms.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("Carol Chen_1234_assignsubmission_file_/a01.ipynb", nb)
    collect(archive, A, course, pattern=r"^(?P<student>[^_]+)_(?P<number>\d+)")
    assert (course / "submitted" / "Carol_Chen" / A / f"{A}.ipynb").exists()
    assert student_id("x.ipynb", r"^(?P<student>[^_.]+)") == "x"
