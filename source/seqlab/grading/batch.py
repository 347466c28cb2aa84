"""Grade a whole class: every submission in its own nbgrader process, several at a time.

Each submission is checked and repaired first (:func:`seqlab.grading.submissions.check_submission`);
a file that is not a notebook is reported, not graded. The rest are autograded by
``nbgrader autograde <a> --student <s>`` in worker threads, each running its own process with a
wall-clock limit, so a submission that hangs or crashes its process costs only itself. Workers
share nbgrader's SQLite gradebook; a write that meets a lock is retried once the others are done,
so the gradebook stays consistent. The report says for every submission what happened.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from seqlab.grading import jail
from seqlab.grading.submissions import check_submission


@dataclass
class Outcome:
    assignment: str
    student: str
    status: str = "pending"  # graded | refused | failed
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    score: float | None = None
    max_score: float | None = None


def nbgrader(course: Path, *args: str, timeout: float | None = None,
             jupyter_path: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m nbgrader <args>`` in ``course`` with this interpreter's bin on PATH."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if jupyter_path is not None:
        env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(jupyter_path), os.environ.get("JUPYTER_PATH")) if p)
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=timeout)


def submissions(course: Path, assignment: str) -> list[str]:
    """Students with ``submitted/<student>/<assignment>/<assignment>.ipynb``, sorted."""
    return sorted(p.parent.parent.name for p in (course / "submitted").glob(f"*/{assignment}/{assignment}.ipynb"))


def prepare(course: Path, outcome: Outcome) -> None:
    """Check and repair one submission in place (the file as handed in is kept beside it)."""
    path = course / "submitted" / outcome.student / outcome.assignment / f"{outcome.assignment}.ipynb"
    raw = path.read_bytes()
    checked = check_submission(raw)
    if not checked.ok:
        outcome.status, outcome.reason = "refused", checked.error or "unreadable"
        return
    outcome.notes = checked.notes
    original = path.with_suffix(".ipynb.as-submitted")
    if not original.exists():
        original.write_bytes(raw)
    nbformat.write(checked.notebook, path)


def _error_lines(log: str) -> str:
    lines = [ln.strip() for ln in log.splitlines() if "ERROR" in ln or "Error" in ln]
    return " | ".join(lines[:3])[:300]


def autograde_one(course: Path, outcome: Outcome, timeout: float, extra: tuple[str, ...],
                  jupyter_path: Path | None = None) -> None:
    start = time.perf_counter()
    if jupyter_path is not None:  # run student code in the isolated kernel (seqlab.grading.jail)
        extra = (*extra, f"--Execute.kernel_name={jail.KERNEL_NAME}")
    try:
        proc = nbgrader(course, "autograde", outcome.assignment, "--student", outcome.student, "--force",
                        *extra, timeout=timeout, jupyter_path=jupyter_path)
        log = proc.stdout + proc.stderr
        graded = (course / "autograded" / outcome.student / outcome.assignment / f"{outcome.assignment}.ipynb").exists()
        if "database is locked" in log:
            outcome.status, outcome.reason = "retry", "gradebook busy"
        elif proc.returncode == 0 and graded:
            outcome.status, outcome.reason = "graded", ""
            if "Timeout waiting for execute reply" in log:
                outcome.notes.append("a cell ran past the per-cell time limit and was stopped; the rest was graded")
        else:
            outcome.status, outcome.reason = "failed", _error_lines(log) or f"nbgrader exited with {proc.returncode}"
    except subprocess.TimeoutExpired:
        outcome.status, outcome.reason = "failed", f"autograding took longer than {timeout:.0f} s and was stopped"
    outcome.seconds = time.perf_counter() - start


def read_scores(course: Path, outcomes: list[Outcome]) -> None:
    """Fill in score and max score from ``nbgrader export`` (written to ``grades.csv``)."""
    proc = nbgrader(course, "export", "--to", "grades.csv")
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader export failed:\n{proc.stderr[-2000:]}")
    with open(course / "grades.csv", newline="", encoding="utf-8") as f:
        rows = {(r["assignment"], r["student_id"]): r for r in csv.DictReader(f)}
    for o in outcomes:
        row = rows.get((o.assignment, o.student))
        if row is not None and o.status == "graded":
            o.score, o.max_score = float(row["raw_score"]), float(row["max_score"])


def grade(course: Path, assignments: list[str], workers: int | None = None, timeout: float = 1800.0,
          extra: tuple[str, ...] = (), isolate: bool | None = None) -> list[Outcome]:
    """Check, repair and autograde every submission of ``assignments``; returns one outcome each.

    ``isolate`` (default: where available) runs student code in kernels that cannot read the
    solutions, the gradebook or other students' files (:mod:`seqlab.grading.jail`).
    """
    workers = workers or os.cpu_count() or 1
    if isolate is None:
        isolate = jail.available()
    jupyter_path = jail.install_kernel(course) if isolate else None
    outcomes = [Outcome(a, s) for a in assignments for s in submissions(course, a)]
    for o in outcomes:
        prepare(course, o)
    todo = [o for o in outcomes if o.status == "pending"]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda o: autograde_one(course, o, timeout, extra, jupyter_path), todo))
    for o in [o for o in todo if o.status == "retry"]:  # one at a time, after the rush
        autograde_one(course, o, timeout, extra, jupyter_path)
        if o.status == "retry":
            o.status = "failed"
    for o in outcomes:  # so that the grade sheet lists them (with 0) too
        if o.status == "refused":
            nbgrader(course, "db", "student", "add", o.student)
    if not isolate:
        for o in todo:
            o.notes.append("kernel not isolated: student code could read the course's files")
    read_scores(course, outcomes)
    write_report(course / "grading-report.csv", outcomes)
    return outcomes


def write_report(path: Path, outcomes: list[Outcome]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["assignment", "student", "status", "score", "max_score", "seconds", "reason", "notes"])
        for o in outcomes:
            w.writerow([o.assignment, o.student, o.status, "" if o.score is None else o.score,
                        "" if o.max_score is None else o.max_score, f"{o.seconds:.1f}", o.reason, "; ".join(o.notes)])


def summary(outcomes: list[Outcome]) -> str:
    """A few lines for the terminal: counts, and every submission that was not graded, with why."""
    graded = [o for o in outcomes if o.status == "graded"]
    lines = [f"{len(graded)} of {len(outcomes)} submissions graded"]
    for o in outcomes:
        if o.status != "graded":
            lines.append(f"  {o.status.upper()} {o.assignment}/{o.student}: {o.reason}")
    return "\n".join(lines)
