"""Grade a whole class: every submission in its own nbgrader process, several at a time.

Each submission is checked and repaired first (:func:`seqlab.grading.submissions.check_submission`);
a file that is not a notebook is reported, not graded. The rest are autograded by
``nbgrader autograde <a> --student <s>`` in worker threads, each its own process group with a
wall-clock limit (the whole group is killed when it runs over), its kernel in the sandbox of
:mod:`seqlab.grading.sandbox`. Whatever happens to one submission (a crash, a hang, an exception
in the batch itself, a busy gradebook), every submission gets a row in ``grading-report.csv``:
``graded``, ``needs review`` (graded, but the grading machinery was tampered with, see
:mod:`seqlab.grading.guard`), ``refused`` (not a notebook) or ``failed``.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from seqlab.grading import guard, sandbox
from seqlab.grading.submissions import check_submission

DB_TIMEOUT = 300  # seconds a gradebook write waits for another worker's (SQLite busy timeout)


class SandboxUnavailable(RuntimeError):
    """Grading would run student code without the sandbox, and the instructor did not allow it."""


@dataclass
class Outcome:
    assignment: str
    student: str
    status: str = "pending"  # graded | needs review | refused | failed
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    score: float | None = None
    max_score: float | None = None
    sandboxed: bool = False
    suspect: list[str] = field(default_factory=list)  # guard.scan_notebook's reasons


def db_url(course: Path) -> str:
    return f"sqlite:///{course.resolve() / 'gradebook.db'}?timeout={DB_TIMEOUT}"


def nbgrader(course: Path, *args: str, timeout: float | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m nbgrader <args>`` in ``course`` (its own process group, killed whole on timeout)."""
    full = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", **(env or {}))
    proc = subprocess.Popen([sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.db_url={db_url(course)}"],
                            cwd=course, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # nbgrader, the kernel wrapper and (--die-with-parent) the sandbox
        proc.communicate()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def submissions(course: Path, assignment: str) -> list[str]:
    """Students with ``submitted/<student>/<assignment>/<assignment>.ipynb``, sorted."""
    return sorted(p.parent.parent.name for p in (course / "submitted").glob(f"*/{assignment}/{assignment}.ipynb"))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def prepare(course: Path, outcome: Outcome) -> None:
    """Check and repair one submission in place.

    The file as handed in is kept beside it (``.ipynb.as-submitted``) with the hash of the repaired
    file written in its place (``.ipynb.sha256``). A file that is not that repaired file is a new
    hand-in (a resubmission collected or copied over it), so it becomes the new original.
    """
    path = course / "submitted" / outcome.student / outcome.assignment / f"{outcome.assignment}.ipynb"
    original, stamp = path.with_suffix(".ipynb.as-submitted"), path.with_suffix(".ipynb.sha256")
    raw = path.read_bytes()
    if original.exists() and stamp.exists() and stamp.read_text().strip() == _sha(raw):
        raw = original.read_bytes()  # this file is our repair of the one handed in: start from that
    else:
        original.write_bytes(raw)
    checked = check_submission(raw)
    if not checked.ok:
        outcome.status, outcome.reason = "refused", checked.error or "unreadable"
        stamp.unlink(missing_ok=True)
        return
    outcome.notes = checked.notes
    outcome.suspect = guard.scan_notebook(checked.notebook)
    nbformat.write(checked.notebook, path)
    stamp.write_text(_sha(path.read_bytes()))


def _error_lines(log: str) -> str:
    lines = [ln.strip() for ln in log.splitlines() if "ERROR" in ln or "Error" in ln]
    return " | ".join(lines[:3])[:300]


def autograde_one(course: Path, outcome: Outcome, timeout: float, extra: tuple[str, ...],
                  jupyter_path: Path | None = None, threads: int = 1) -> None:
    """Autograde one submission; never raises (an unexpected error becomes the outcome's reason)."""
    start = time.perf_counter()
    runtime = Path(tempfile.mkdtemp(prefix="sqk-"))  # the kernel's sockets: private to this submission
    env = sandbox.thread_env(threads)  # the sandbox sets them too; this is for --unsafe
    args = list(extra)
    if jupyter_path is not None:
        env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(jupyter_path), os.environ.get("JUPYTER_PATH")) if p)
        args += [f"--Execute.kernel_name={sandbox.KERNEL_NAME}", "--KernelManager.transport=ipc",
                 f"--KernelManager.connection_file={runtime / 'kernel.json'}"]
    folder = course / "autograded" / outcome.student / outcome.assignment
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        env[guard.RECORD_ENV] = str(guard.clear_record(folder))
        proc = nbgrader(course, "autograde", outcome.assignment, "--student", outcome.student, "--force", *args,
                        timeout=timeout, env=env)
        log = proc.stdout + proc.stderr
        if proc.returncode == 0 and (folder / f"{outcome.assignment}.ipynb").exists():
            outcome.status, outcome.reason = "graded", ""
            if "Timeout waiting for execute reply" in log:
                outcome.notes.append("a cell ran past the per-cell time limit and was stopped; the rest was graded")
            record = guard.read_record(folder)
            if record:  # the affected test cells already score 0
                outcome.status = "needs review"
                outcome.reason = "grading machinery tampered with: " + "; ".join(record)[:500]
            elif outcome.suspect:
                outcome.status = "needs review"
                outcome.reason = "code that touches the grading machinery (scores kept): " + "; ".join(outcome.suspect)[:400]
        else:
            outcome.status, outcome.reason = "failed", _error_lines(log) or f"nbgrader exited with {proc.returncode}"
            if outcome.suspect:
                outcome.notes.append("its code touches the grading machinery: " + "; ".join(outcome.suspect)[:300])
    except subprocess.TimeoutExpired:
        outcome.status, outcome.reason = "failed", f"autograding took longer than {timeout:.0f} s and was stopped"
    except Exception as e:  # the batch's own bug or an unreadable file: this submission fails, the others go on
        outcome.status, outcome.reason = "failed", f"grader error: {e.__class__.__name__}: {e}"[:300]
        outcome.notes.append(traceback.format_exc(limit=3).replace("\n", " ")[-500:])
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
    outcome.seconds = time.perf_counter() - start


def ensure_registered(course: Path, assignment: str) -> str | None:
    """Make sure the gradebook knows ``assignment`` (its notebooks and graded cells); nbgrader's
    autograde needs that. Registers it from ``solutions/`` when missing (the release is written to a
    scratch folder, ``exercises/`` is left alone). Returns a line saying what was done, or None."""
    from nbgrader.api import Gradebook, MissingEntry

    try:
        with Gradebook(db_url(course)) as gb:
            if gb.find_assignment(assignment).notebooks:
                return None
    except MissingEntry:
        pass
    if not (course / "solutions" / assignment).is_dir():
        raise SystemExit(f"{assignment} is not in the gradebook and there is no solutions/{assignment}: run "
                         f"`make release A={assignment}` where the instructor's source is")
    with tempfile.TemporaryDirectory() as scratch:
        proc = nbgrader(course, "generate_assignment", assignment, "--force",
                        f"--CourseDirectory.release_directory={scratch}")
    if proc.returncode != 0:
        raise SystemExit(f"could not register {assignment} (nbgrader generate_assignment):\n{proc.stderr[-1500:]}")
    return f"registered {assignment} in the gradebook from solutions/ (it had not been released here)"


def read_scores(course: Path, outcomes: list[Outcome]) -> None:
    """Fill in score and max score from ``nbgrader export`` (written to ``grades.csv``)."""
    proc = nbgrader(course, "export", "--to", "grades.csv", timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader export failed: {_error_lines(proc.stdout + proc.stderr)}")
    with open(course / "grades.csv", newline="", encoding="utf-8") as f:
        rows = {(r["assignment"], r["student_id"]): r for r in csv.DictReader(f)}
    for o in outcomes:
        row = rows.get((o.assignment, o.student))
        if row is not None and o.status in ("graded", "needs review"):
            o.score, o.max_score = float(row["raw_score"]), float(row["max_score"])


def grade(course: Path, assignments: list[str], workers: int | None = None, timeout: float = 1800.0,
          extra: tuple[str, ...] = (), mode: str = "require", limits: sandbox.Limits | None = None,
          warm: bool = True) -> list[Outcome]:
    """Check, repair and autograde every submission of ``assignments``; returns one outcome each
    and writes ``grading-report.csv`` (always, whatever failed) and ``grades.csv``.

    ``mode``: ``"require"`` (the default) refuses to grade when the sandbox cannot start here and
    raises :class:`SandboxUnavailable` with the reason; ``"prefer"`` (``--unsafe``) grades without it
    then, marking every row; ``"off"`` never uses it (for measuring what it costs).
    """
    course = course.resolve()
    workers = max(1, workers or os.cpu_count() or 1)
    reason = sandbox.unavailable() if mode != "off" else "switched off"
    if reason and mode == "require":
        raise SandboxUnavailable(f"the grading sandbox cannot start on this machine: {reason}. Grading without it "
                                 "lets student code read the hidden tests and change the course; pass --unsafe "
                                 "to grade anyway (every row of the report will say so).")
    if reason is None and sandbox.exposed(course):
        reason = sandbox.exposed(course)
        if mode == "require":
            raise SandboxUnavailable(f"the grading sandbox cannot hide this course: {reason}")
    limits = limits or sandbox.Limits()
    limits.threads = max(1, (os.cpu_count() or 1) // workers)
    jupyter_path = None if reason else sandbox.install_kernel(course, limits)
    outcomes = [Outcome(a, s, sandboxed=reason is None) for a in assignments for s in submissions(course, a)]
    general: list[str] = []
    try:
        for a in sorted({o.assignment for o in outcomes}, key=assignments.index):  # those with submissions
            line = ensure_registered(course, a)
            if line:
                general.append(line)
            if warm:
                general.extend(guard.warm_cache(course, a))
        for o in outcomes:
            try:
                prepare(course, o)
            except Exception as e:
                o.status, o.reason = "failed", f"could not read or repair the file: {e.__class__.__name__}: {e}"[:300]
        todo = [o for o in outcomes if o.status == "pending"]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda o: autograde_one(course, o, timeout, extra, jupyter_path, limits.threads), todo))
        for o in [o for o in todo if o.status == "failed" and "longer than" not in o.reason]:
            first = o.reason  # once more, alone: a failure can be the load of the others (memory, the gradebook)
            o.notes = [n for n in o.notes if "grader error" not in n]
            autograde_one(course, o, timeout, extra, jupyter_path, limits.threads)
            if o.status == "failed":
                o.notes.append(f"failed twice (first: {first[:120]})")
        for o in outcomes:  # so that the grade sheet lists them (with 0) too
            if o.status in ("refused", "failed"):
                nbgrader(course, "db", "student", "add", o.student, timeout=120)
        try:
            read_scores(course, outcomes)
        except Exception as e:
            general.append(f"scores not read: {e}"[:500])
    finally:
        for o in outcomes:
            if o.status == "pending":
                o.status, o.reason = "failed", "not graded: the batch stopped before this submission"
            if not o.sandboxed and o.status not in ("refused",):
                o.notes.append(f"NOT SANDBOXED ({reason}): student code could read and change the course's files")
            if general:
                o.notes.extend(general)
        write_report(course / "grading-report.csv", outcomes)
    return outcomes


def write_report(path: Path, outcomes: list[Outcome]) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["assignment", "student", "status", "score", "max_score", "seconds", "sandboxed", "reason", "notes"])
        for o in outcomes:
            w.writerow([o.assignment, o.student, o.status, "" if o.score is None else o.score,
                        "" if o.max_score is None else o.max_score, f"{o.seconds:.1f}", "yes" if o.sandboxed else "no",
                        o.reason, "; ".join(o.notes)])
    os.replace(tmp, path)


def summary(outcomes: list[Outcome]) -> str:
    """A few lines for the terminal: counts, and every submission that was not simply graded, with why."""
    graded = [o for o in outcomes if o.status in ("graded", "needs review")]
    lines = [f"{len(graded)} of {len(outcomes)} submissions graded"]
    for o in outcomes:
        if o.status != "graded":
            lines.append(f"  {o.status.upper()} {o.assignment}/{o.student}: {o.reason}")
    if any(not o.sandboxed for o in outcomes):
        lines.append("  WARNING: some submissions were graded without the sandbox (see the report's notes)")
    return "\n".join(lines)
