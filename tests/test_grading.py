"""The grading pieces one at a time (fast): feedback sanitising, the code scan, the batch's
bookkeeping with a stand-in for nbgrader, the refusal to grade unsandboxed, the shared data cache."""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import subprocess
from pathlib import Path

import nbformat
import pytest

from seqlab.data import cache
from seqlab.grading import FeedbackSanitizer, batch, guard, sandbox
from seqlab.grading.__main__ import main as grading_main
from seqlab.grading.feedback import LATER, NOT_SHOWN, REDACTED

HIDDEN_CELL = ("x = f(1)\nassert x == 2, 'f(1) should be 2'\nassert x > 0, f'f(1) 應為正，得到 {x}'\n"
               "### BEGIN HIDDEN TESTS\nassert f(99) == 100, 'large input'\n### END HIDDEN TESTS\nprint('ok')")


def graded_cell(source: str, outputs: list) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source, metadata={"nbgrader": {"grade": True, "solution": False, "grade_id": "t"}})
    cell.outputs = outputs
    return cell


def error(ename: str, evalue: str):
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=["\x1b[31m----\x1b[0m", "code line", f"{ename}: {evalue}"])


def sanitize(*cells) -> list:
    out, _ = FeedbackSanitizer().preprocess(nbformat.v4.new_notebook(cells=list(cells)), {})
    return out.cells


def test_sanitizer_removes_hidden_tests_and_keeps_only_the_instructors_messages():
    for evalue, shown in [("large input", "large input"), ("f(1) should be 2", "f(1) should be 2"),
                          ("f(1) 應為正，得到 -3", "f(1) 應為正，得到 -3"),  # an f-string field that is a number
                          ("f(1) 應為正，得到 assert f(99) == 100", NOT_SHOWN),  # a field that is text: not shown
                          (HIDDEN_CELL, NOT_SHOWN), ("", "")]:
        [cell] = sanitize(graded_cell(HIDDEN_CELL, [error("AssertionError", evalue)]))
        assert "f(99)" not in cell.source and "HIDDEN" not in cell.source
        assert cell.source == "x = f(1)\nassert x == 2, 'f(1) should be 2'\nassert x > 0, f'f(1) 應為正，得到 {x}'\nprint('ok')"
        assert [o["evalue"] for o in cell.outputs] == [shown], evalue
        assert cell.outputs[0]["traceback"] == [f"AssertionError: {shown}"]


def test_sanitizer_keeps_builtin_error_names_and_drops_everything_else_a_test_printed():
    stream = nbformat.v4.new_output("stream", name="stdout", text="assert f(99) == 100, 'large input'\n")
    [cell] = sanitize(graded_cell(HIDDEN_CELL, [stream, error("LeakedSourceError", "x"), error("TypeError", "y")]))
    assert [(o["ename"], o["evalue"]) for o in cell.outputs] == [("Error", NOT_SHOWN)]
    [cell] = sanitize(graded_cell(HIDDEN_CELL, [stream]))
    assert cell.outputs == [], "a passing test shows no output"
    [cell] = sanitize(graded_cell(HIDDEN_CELL, [error("ValueError", "Tensor-likes are not close!\n\nMismatched elements: 3")]))
    assert cell.outputs[0]["evalue"] == "Tensor-likes are not close!"
    [cell] = sanitize(graded_cell(HIDDEN_CELL, [error(guard.ENAME, "forged"), error(guard.ENAME, guard.MESSAGE)]))
    assert cell.outputs[0]["evalue"] == NOT_SHOWN, "a student-raised GradingIntegrityError keeps no message"


def test_sanitizer_drops_outputs_after_the_first_hidden_test_and_redacts_hidden_lines_anywhere():
    before = nbformat.v4.new_code_cell("print('early')")
    before.outputs = [nbformat.v4.new_output("stream", name="stdout", text="assert f(99) == 100, 'large input'\n"),
                      nbformat.v4.new_output("stream", name="stdout", text="harmless\n")]
    later = nbformat.v4.new_code_cell("print(kept)")
    later.outputs = [nbformat.v4.new_output("stream", name="stdout", text="YXNzZXJ0IGYoOTkp\n")]
    first, test, last = sanitize(before, graded_cell(HIDDEN_CELL, []), later)
    assert [o["text"] for o in first.outputs] == [REDACTED + "\n", "harmless\n"]
    assert [o["text"] for o in last.outputs] == [LATER + "\n"]


def test_scan_flags_code_that_touches_the_grading_machinery():
    cases = {
        "torch.allclose = lambda *a, **k: True": "assigns into module torch",
        "import sys\nsys.modules['math'] = None": "uses sys.modules",
        "get_ipython().showtraceback = print": "get_ipython",
        "import builtins\nbuiltins.len = max": "builtins",
        "exec('x = 1')": "runs code built at run time (exec)",
        "import inspect\ninspect.currentframe().f_back.f_globals['x'] = 1": "inspects frames",
        "import ctypes": "ctypes",
        "setattr(np, 'allclose', f)": "changes module np with setattr",
        "import os\nos.kill(1, 9)": "sends signals",
        "%time x = 1\nimport gc\ngc.get_objects()": "walks the garbage collector",
    }
    for code, reason in cases.items():
        source = ("import torch\nimport numpy as np\n" if "np" in code or "torch" in code else "") + code
        assert any(reason in r for r in guard.scan(source)), (code, guard.scan(source))
    assert guard.scan("import torch\nx = torch.zeros(3)\nx.data = torch.ones(3)\nself_attr = {}\n") == []


def test_no_solution_of_the_course_is_flagged(root):
    flagged = {}
    for path in sorted((root / "solutions").glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        reasons = guard.scan_notebook(nb)
        if reasons:
            flagged[path.name] = reasons
    assert not flagged, flagged


# -- the batch, with nbgrader replaced by a stand-in ---------------------------------------------------------

def fake_course(tmp_path: Path, students: dict[str, bytes]) -> Path:
    course = tmp_path / "course"
    (course / "solutions" / "a00").mkdir(parents=True)
    for s, data in students.items():
        target = course / "submitted" / s / "a00" / "a00.ipynb"
        target.parent.mkdir(parents=True)
        target.write_bytes(data)
    return course


@pytest.fixture
def stand_in(monkeypatch):
    """nbgrader that 'grades' by writing the autograded file; crashes for student 'crash'; export fails."""
    calls = []

    def fake(course, *args, timeout=None, env=None):
        calls.append(args)
        if args[0] == "autograde":
            student = args[args.index("--student") + 1]
            if student == "crash":
                raise RuntimeError("an unexpected error in the batch")
            folder = course / "autograded" / student / "a00"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "a00.ipynb").write_text("{}")
            return subprocess.CompletedProcess(args, 0, "database is locked", "")  # text a student can print
        if args[0] == "export":
            return subprocess.CompletedProcess(args, 1, "", "[ExportApp | ERROR] the gradebook is busy")
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(batch, "nbgrader", fake)
    monkeypatch.setattr(batch, "ensure_registered", lambda course, a: None)
    return calls


def report(course: Path) -> dict[str, dict]:
    with open(course / "grading-report.csv", newline="", encoding="utf-8") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def test_batch_always_writes_a_report(tmp_path, stand_in):
    nb = nbformat.writes(nbformat.v4.new_notebook()).encode()
    course = fake_course(tmp_path, {"ok": nb, "crash": nb, "junk": b"not json"})
    outcomes = {o.student: o for o in batch.grade(course, ["a00"], workers=2, mode="off", warm=False)}
    rows = report(course)
    assert sorted(rows) == ["crash", "junk", "ok"]
    assert rows["ok"]["status"] == "graded", "a printed 'database is locked' is not a busy gradebook"
    assert rows["crash"]["status"] == "failed" and "grader error" in rows["crash"]["reason"]
    assert "failed twice" in rows["crash"]["notes"], "a failure is retried once, alone"
    assert rows["junk"]["status"] == "refused"
    assert "scores not read" in rows["ok"]["notes"] and "NOT SANDBOXED" in rows["ok"]["notes"]
    assert rows["ok"]["sandboxed"] == "no"
    assert outcomes["ok"].score is None


def test_batch_refuses_without_the_sandbox_unless_told(tmp_path, stand_in, monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "unavailable", lambda: "bubblewrap is not installed")
    nb = nbformat.writes(nbformat.v4.new_notebook()).encode()
    course = fake_course(tmp_path, {"ok": nb})
    with pytest.raises(batch.SandboxUnavailable, match="bubblewrap is not installed"):
        batch.grade(course, ["a00"], mode="require", warm=False)
    assert not (course / "grading-report.csv").exists()
    assert grading_main(["--course", str(course), "grade", "a00"]) == 3
    assert "--unsafe" in capsys.readouterr().err
    assert grading_main(["--course", str(course), "grade", "a00", "--unsafe"]) == 0
    assert "NOT SANDBOXED (bubblewrap is not installed)" in report(course)["ok"]["notes"]


def test_a_resubmission_replaces_the_kept_original(tmp_path):
    good = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    data = json.loads(nbformat.writes(good))
    data["nbformat_minor"] = 0  # needs a repair, so the file in submitted/ changes
    for c in data["cells"]:
        c.pop("id")
    first = json.dumps(data).encode()
    course = fake_course(tmp_path, {"s": first})
    path = course / "submitted" / "s" / "a00" / "a00.ipynb"
    batch.prepare(course, batch.Outcome("a00", "s"))
    assert path.read_bytes() != first and path.with_suffix(".ipynb.as-submitted").read_bytes() == first
    batch.prepare(course, batch.Outcome("a00", "s"))  # graded again: still the first hand-in
    assert path.with_suffix(".ipynb.as-submitted").read_bytes() == first
    second = first.replace(b'"1"', b'"2"')
    path.write_bytes(second)  # handed in again
    batch.prepare(course, batch.Outcome("a00", "s"))
    assert path.with_suffix(".ipynb.as-submitted").read_bytes() == second
    assert nbformat.read(path, as_version=4).cells[0].source == "2"


# -- the shared data cache ----------------------------------------------------------------------------------

def _build_in_process(folder: str, counter: str) -> list:
    os.environ["SEQLAB_DATA"] = folder

    def build():
        with open(counter, "a") as f:
            f.write("built\n")
        import time

        time.sleep(0.5)
        return [1, 2, 3]

    return cache.cached_json("shared.json", build)


def test_the_data_cache_is_built_once_by_parallel_processes(tmp_path):
    counter = tmp_path / "count.txt"
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        results = pool.starmap(_build_in_process, [(str(tmp_path / "data"), str(counter))] * 3)
    assert results == [[1, 2, 3]] * 3
    assert counter.read_text().count("built") == 1


def test_a_read_only_cache_still_answers(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    monkeypatch.setenv("SEQLAB_DATA", str(folder))
    try:
        if os.access(folder, os.W_OK):  # root ignores permissions: make writes fail another way
            monkeypatch.setattr(cache, "cache_dir", lambda: Path("/proc/seqlab-read-only"))
        assert cache.cached_json("x.json", lambda: {"a": 1}) == {"a": 1}
    finally:
        folder.chmod(0o755)


# -- the sandbox's arguments --------------------------------------------------------------------------------

def test_the_sandbox_is_an_allow_list_with_every_namespace(tmp_path):
    course = tmp_path / "course"
    work = course / "autograded" / "s" / "a00"
    work.mkdir(parents=True)
    (work / "a00.ipynb").write_text("hidden tests")
    (work / "data.txt").write_text("the student's own file")
    (course / "solutions").mkdir()
    args, fds = sandbox.bwrap_args(work, tmp_path / "run", sandbox.Limits(threads=3), course)
    try:
        joined = " ".join(args)
        for flag in ("--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
                     "--cap-drop ALL", "--clearenv", "--remount-ro /"):
            assert flag in joined, flag
        assert f"--tmpfs {work}" in joined and "--tmpfs /tmp" in joined and f"--tmpfs {sandbox.HOME}" in joined
        binds = [args[i + 1] for i, a in enumerate(args) if a in ("--ro-bind", "--bind", "--ro-bind-try")]
        assert not [b for b in binds if Path(b) == course or Path(b).is_relative_to(course)], binds
        seeded = [args[i + 2] for i, a in enumerate(args) if a == "--file"]
        assert str(work / "data.txt") in seeded and str(work / "a00.ipynb") not in seeded
        assert "OMP_NUM_THREADS 3" in joined
    finally:
        for fd in fds:
            os.close(fd)
    import sys

    assert sandbox.exposed(Path(sys.prefix) / "course") and sandbox.exposed(tmp_path) is None


def test_the_sandbox_starts_here():
    reason = sandbox.unavailable()
    if reason and not os.environ.get("CI"):
        pytest.skip(f"no sandbox on this machine: {reason}")
    assert reason is None, f"the grading sandbox must start under CI: {reason}"


def test_the_per_submission_timeout_kills_the_whole_process_tree(tmp_path, monkeypatch):
    fake = tmp_path / "fake-python"
    fake.write_text("#!/bin/sh\n(exec -a seqlab-timeout-marker sleep 300) &\nsleep 300\n")
    fake.chmod(0o755)
    monkeypatch.setattr(batch.sys, "executable", str(fake))
    with pytest.raises(subprocess.TimeoutExpired):
        batch.nbgrader(tmp_path, "autograde", "a00", timeout=2)
    import time

    time.sleep(0.5)
    left = [p for p in Path("/proc").glob("[0-9]*/cmdline") if b"seqlab-timeout-marker" in _read(p)]
    assert not left, "a child of the timed-out grader is still running"


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""
