"""Run a grading kernel that cannot read the instructor's files.

Student code runs with the grader's permissions, so without help it could open
``solutions/<a>/<a>.ipynb`` or ``gradebook.db`` (which holds the hidden tests) and print them.
On Linux the kernel is started in its own user and mount namespaces (``unshare --user
--map-root-user --mount``, no root needed where unprivileged namespaces are allowed) and, before
the kernel starts, empty file systems are mounted over the course's private parts: ``solutions/``,
``submitted/``, ``feedback/``, ``gradebook.db`` and every other student's ``autograded/`` folder.
Only the kernel sees this; nbgrader itself, outside, reads and writes as usual.

Where namespaces are not available, :func:`available` is False, grading still works and the
report says the kernels were not isolated (use JupyterHub's exchange or containers then).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

KERNEL_NAME = "seqlab-grader"
PRIVATE_DIRS = ("solutions", "submitted", "feedback")


def available() -> bool:
    """Whether this machine lets us start a process in new user and mount namespaces."""
    unshare = shutil.which("unshare")
    if unshare is None or shutil.which("mount") is None:
        return False
    try:
        proc = subprocess.run([unshare, "--user", "--map-root-user", "--mount", "mount", "-t", "tmpfs", "tmpfs",
                               tempfile.gettempdir()], capture_output=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0


def install_kernel(course: Path) -> Path:
    """Write the ``seqlab-grader`` kernel spec under ``<course>/.grading/kernels`` and return the
    folder to put on ``JUPYTER_PATH``."""
    root = course / ".grading"
    spec = root / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    argv = [shutil.which("unshare"), "--user", "--map-root-user", "--mount",
            sys.executable, "-m", "seqlab.grading.jail", "--course", str(course.resolve()), "--",
            sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": "Python 3 (isolated grader)", "language": "python"}, indent=1))
    return root


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def hide(course: Path, cwd: Path) -> None:
    """Inside the new mount namespace: cover the private parts of ``course``, keep ``cwd``."""
    for name in PRIVATE_DIRS:
        if (course / name).is_dir() and not cwd.is_relative_to(course / name):
            _mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(course / name))
    for db in course.glob("gradebook.db*"):
        _mount("--bind", "/dev/null", str(db))
    autograded = course / "autograded"
    if autograded.is_dir():
        keep = Path(tempfile.mkdtemp())
        if cwd.is_relative_to(autograded):
            _mount("--bind", str(cwd), str(keep))
        _mount("-t", "tmpfs", "-o", "size=64m", "tmpfs", str(autograded))
        if cwd.is_relative_to(autograded):
            cwd.mkdir(parents=True, exist_ok=True)
            _mount("--bind", str(keep), str(cwd))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="start a kernel that cannot see the course's private files")
    parser.add_argument("--course", type=Path, required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    cwd = Path.cwd()
    hide(args.course, cwd)
    os.chdir(cwd)  # enter the re-mounted folder
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
