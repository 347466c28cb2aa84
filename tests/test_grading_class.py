"""A synthetic class with every kind of broken and hostile submission, graded in parallel by one command.

Uses a01 (each submission grades in a few seconds), a 20 s per-cell limit (the infinite loop costs
20 s, not the course's 120 s) and a 16 MiB file-size limit (so the file-size attack is quick).
Under CI the sandbox must start: these tests fail there rather than skip.
"""

from __future__ import annotations

import csv
import hashlib
import html
import os
import re
import shutil
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
import pytest

import seqlab
from seqlab.grading import sandbox
from seqlab.grading.batch import grade, nbgrader, summary
from seqlab.grading.submissions import check_submission, collect, student_id
from seqlab.grading.synthetic import CHEATS, make_course
from test_assignments import hidden_test_lines

pytestmark = pytest.mark.slow
A = "a01-embedding"
TAMPERED = ("cheat_fake_equal", "cheat_fake_builtins", "cheat_fake_module", "cheat_suppress_errors", "cheat_keep_hidden")


def require_sandbox() -> None:
    reason = sandbox.unavailable()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"the grading sandbox must start under CI: {reason}")
    pytest.skip(f"no grading sandbox on this machine: {reason}")


def tree_hashes(*roots: Path, content: bool = True) -> dict[str, str]:
    """sha256 (or size and mtime, for big trees) of every file under ``roots``."""
    out = {}
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
        for p in files:
            if "__pycache__" in p.parts:
                continue
            stat = p.stat()
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest() if content else f"{stat.st_size}:{stat.st_mtime_ns}"
    return out


def protected(course: Path) -> dict[str, str]:
    """What no submission may change: the course, the package, the virtualenv, the caches, other students."""
    site = Path(sysconfig.get_paths()["purelib"])
    hashes = tree_hashes(course / "nbgrader_config.py", course / "solutions", course / "exercises",
                         course / "submitted" / "zz_canary", course / "autograded" / "zz_canary",
                         Path(seqlab.__file__).parent, *site.glob("*.pth"), Path(sys.prefix) / "bin")
    hashes.update(tree_hashes(sandbox.data_dir(), Path.home() / ".ipython", content=False))
    hashes["site-packages entries"] = ",".join(sorted(p.name for p in site.iterdir()))
    return hashes


def attack_lines(course: Path) -> dict[str, str]:
    lines = {}
    for path in sorted((course / "autograded").glob(f"*/{A}/{A}.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                for line in output.get("text", "").splitlines():
                    if line.startswith("ATTACK "):
                        name, _, rest = line[len("ATTACK "):].partition(":")
                        lines[name] = rest.strip()
    return lines


def orphans() -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"seqlab-orphan-marker" in cmdline.read_bytes():
                found.append(cmdline.parent.name)
        except OSError:
            pass
    return found


@pytest.fixture(scope="module")
def graded(root, tmp_path_factory):
    require_sandbox()
    course = tmp_path_factory.mktemp("class") / "course"
    students = make_course(root, course, A, n_good=2)
    for canary in (course / "submitted" / "zz_canary" / "a99" / "a99.ipynb",
                   course / "autograded" / "zz_canary" / A / "notes.txt"):
        canary.parent.mkdir(parents=True)
        canary.write_text("another student's work")
    before = protected(course)
    outcomes = grade(course, [A], workers=2, timeout=600, extra=("--ExecutePreprocessor.timeout=20",),
                     limits=sandbox.Limits(file_size=16 << 20))
    after = protected(course)
    proc = nbgrader(course, "generate_feedback", A, "--force")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return course, students, {o.student: o for o in outcomes}, (before, after)


def test_every_submission_has_an_outcome_and_the_right_score(graded):
    course, students, out, _ = graded
    assert sorted(out) == students
    full = {"good_000", "good_001", "colab", "deleted_test", "moved_test", "type_changed", "inserted_dup",
            "edited_test", "infinite", "huge_output", "snoop", "kill_worker", "cheat_html",
            *(s for s in students if s.startswith("attack_"))}
    for s in full:
        assert (out[s].score, out[s].max_score) == (10.0, 10.0), (s, out[s])
        assert out[s].status in ("graded", "needs review") and out[s].sandboxed, (s, out[s])
    for s in ("blank", "untouched"):
        assert (out[s].status, out[s].score) == ("graded", 0.0), out[s]
    assert out["exception"].status == "graded" and 0 < out["exception"].score < 10
    assert "time limit" in " ".join(out["infinite"].notes)
    assert "nbformat 4.0" in " ".join(out["colab"].notes)
    assert "more than once" in " ".join(out["inserted_dup"].notes)
    assert out["not_json"].status == out["not_notebook"].status == "refused"
    assert "not valid JSON" in out["not_json"].reason and "not a notebook" in out["not_notebook"].reason
    text = summary(list(out.values()))
    assert text.startswith(f"{len(students) - 2} of {len(students)} submissions graded")
    assert "REFUSED a01-embedding/not_json" in text


def test_killing_processes_reaches_nothing_but_is_flagged(graded):
    _, students, out, _ = graded
    for s in ("kill_worker", "attack_kill_all", "attack_processes"):
        assert out[s].status == "needs review" and "sends signals" in out[s].reason, out[s]
    others = [o for s, o in out.items() if s not in ("not_json", "not_notebook")]
    assert all(o.status in ("graded", "needs review") for o in others), [o for o in others if o.status == "failed"]


def test_the_sandbox_holds_against_every_attack(graded):
    course, _, out, _ = graded
    lines = attack_lines(course)
    assert lines["unmount"] == "umount refused seen []"
    assert lines["read"] == "[] own notebook FileNotFoundError", "the notebook with the hidden tests is out of reach"
    written = set(re.findall(r"'(\w+)'", lines["write"].split("home")[0]))
    assert not written & {"package", "site", "cache", "host_startup"}, lines["write"]  # the rest lands in private /tmp
    assert "connected" not in lines["network"], lines["network"]
    assert lines["memory"] == "MemoryError"
    assert lines["processes"].startswith("limited"), lines["processes"]
    assert lines["file_size"] == "OSError"
    threads = max(1, (os.cpu_count() or 1) // 2)
    assert lines["threads"] == f"{threads} {threads}", "torch threads = cores / workers"
    assert lines["orphan"] == "started" and not orphans(), "a double-forked child outlived its kernel"


def test_nothing_a_submission_writes_outlives_it(graded):
    course, _, _, (before, after) = graded
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, changed[:10]
    spec = (course / ".grading" / "kernels" / sandbox.KERNEL_NAME / "kernel.json").read_text()
    assert "pwned" not in spec and "seqlab.grading.sandbox" in spec
    assert "pwned" not in (course / "nbgrader_config.py").read_text()


def test_tampering_loses_the_affected_tests_and_is_flagged(graded):
    _, _, out, _ = graded
    for s in TAMPERED:
        assert out[s].status == "needs review" and out[s].score == 0.0, (s, out[s])
        assert "tampered" in out[s].reason, out[s]
    assert "torch.equal" in out["cheat_fake_equal"].reason
    assert "module math" in out["cheat_fake_module"].reason
    assert "builtins.round" in out["cheat_fake_builtins"].reason
    assert "showtraceback" in out["cheat_suppress_errors"].reason
    assert "event callback" in out["cheat_keep_hidden"].reason
    # the same wrong answer without tampering loses tasks 1 and 2 (task 2's test uses one_hot too):
    assert out["cheat_partial_credit"].score == 6.0, "an execute_result in a test cell is no partial credit"
    assert out["cheat_raise_hidden"].score <= 6.0
    for s in ("cheat_partial_credit", "cheat_raise_hidden"):
        assert out[s].status == "needs review" and "get_ipython" in out[s].reason, out[s]
    assert set(CHEATS) == {s.removeprefix("cheat_") for s in out if s.startswith("cheat_")}


def test_report_and_grade_sheet_agree(graded):
    course, students, out, _ = graded
    with open(course / "grading-report.csv", newline="", encoding="utf-8") as f:
        report = {r["student"]: r for r in csv.DictReader(f)}
    with open(course / "grades.csv", newline="", encoding="utf-8") as f:
        sheet = {r["student_id"]: r for r in csv.DictReader(f)}
    assert sorted(report) == sorted(sheet) == students  # refused files are on the sheet too (with 0)
    for s in students:
        assert float(sheet[s]["raw_score"]) == (out[s].score or 0.0)
        assert report[s]["status"] == out[s].status
        assert report[s]["sandboxed"] == "yes"


def test_feedback_shows_no_hidden_test_no_script_and_no_other_student(graded):
    course, students, out, _ = graded
    hidden = hidden_test_lines((course / "solutions" / A / f"{A}.ipynb").read_text(encoding="utf-8"))
    assert len(hidden) > 20
    for s in students:
        if out[s].status not in ("graded", "needs review"):
            continue
        page = course / "feedback" / s / A / f"{A}.html"
        raw = page.read_text(encoding="utf-8")
        assert page.stat().st_size < 2_000_000, (s, page.stat().st_size)
        text = html.unescape(re.sub(r"<[^>]+>", "", raw))
        assert not [ln for ln in hidden if ln in text], s
        assert "IyBTZWxm" not in text, "base64 of a test cell kept by the student and printed later"
        assert "<script>window.seqlabXss" not in raw and "<img src=x onerror" not in raw, s
        others = [t for t in students if t != s and len(t) > 5 and f"/{t}/" in text]
        assert not others, (s, others)
    raised = html.unescape((course / "feedback" / "cheat_raise_hidden" / A / f"{A}.html").read_text(encoding="utf-8"))
    assert "回饋不顯示" in raised  # the message made of the test's source is replaced, the error name kept
    tampered = (course / "feedback" / "cheat_fake_equal" / A / f"{A}.html").read_text(encoding="utf-8")
    assert "GradingIntegrityError" in tampered


def test_grade_without_release_and_a_resubmission(root, tmp_path):
    """`make collect` + `make grade` on a fresh clone (no gradebook entry), then a student hands in again."""
    require_sandbox()
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(root / "nbgrader_config.py", course)
    shutil.copytree(root / "solutions", course / "solutions")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    from seqlab.grading.synthetic import answered

    good = answered(course / "solutions" / A / f"{A}.ipynb", root / "exercises" / A / f"{A}.ipynb")
    nbformat.write(good, inbox / "alice.ipynb")
    shutil.copy(root / "exercises" / A / f"{A}.ipynb", inbox / "bob.ipynb")
    collect(inbox, A, course)
    first = {o.student: o for o in grade(course, [A], workers=2, timeout=600, warm=False)}
    assert (first["alice"].score, first["bob"].score) == (10.0, 0.0), first
    assert "registered" in " ".join(first["alice"].notes)
    assert not (course / "exercises").exists(), "registering does not write exercises/"
    shutil.copy(inbox / "alice.ipynb", inbox / "bob.ipynb")  # bob hands in again, now right
    assert any("replaced bob" in line for line in collect(inbox, A, course))
    second = {o.student: o for o in grade(course, [A], workers=2, timeout=600, warm=False)}
    assert second["bob"].score == 10.0 and second["alice"].score == 10.0, second
    original = course / "submitted" / "bob" / A / f"{A}.ipynb.as-submitted"
    assert original.read_bytes() == (inbox / "bob.ipynb").read_bytes(), "the kept original is the new hand-in"


def test_check_submission_repairs_and_refuses():
    assert not check_submission(b"\xff\xfe").ok
    assert "MiB" in check_submission(b" " * (51 * 2**20)).error
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1", metadata={"nbgrader": {"grade_id": "a"}}),
                                         nbformat.v4.new_code_cell("2", metadata={"nbgrader": {"grade_id": "a"}})])
    import json

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
